"""Recurrent classifiers: SimpleRNN, GRU and LSTM (Cheat sheet 7.2).

An image is read as a sequence: its H rows are H time steps of W * C
features each (MNIST: 28 steps of 28 pixels). The last hidden state h_T
feeds one Dense layer of class scores. The cheat sheet gives the section
headings (7.2.1 RNN, 7.2.2 GRU, 7.2.3 LSTM); the formulas below are the
ones Keras computes, with x_t the row at step t, h_0 = c_0 = 0 and
sigma the logistic sigmoid.

7.2.1 Recurrent unit (`keras.layers.SimpleRNN`):

    h_t = tanh(W x_t + U h_{t-1} + b)

7.2.2 Gated recurrent unit (`keras.layers.GRU`, reset_after=True, so
the recurrent part has its own bias b'):

    z_t = sigma(W_z x_t + b_z + U_z h_{t-1} + b'_z)        update gate
    r_t = sigma(W_r x_t + b_r + U_r h_{t-1} + b'_r)        reset gate
    n_t = tanh(W_n x_t + b_n + r_t * (U_n h_{t-1} + b'_n)) candidate
    h_t = z_t * h_{t-1} + (1 - z_t) * n_t

7.2.3 Long short-term memory (`keras.layers.LSTM`):

    i_t = sigma(W_i x_t + U_i h_{t-1} + b_i)    input gate
    f_t = sigma(W_f x_t + U_f h_{t-1} + b_f)    forget gate
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)     candidate cell
    o_t = sigma(W_o x_t + U_o h_{t-1} + b_o)    output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

Parameters of one layer with d input features and n units:
RNN n (d + n + 1), GRU 3 n (d + n + 2), LSTM 4 n (d + n + 1). On MNIST
rows (d = 28) with n = 128: 20,096, 60,672 and 80,384.
"""

from dataclasses import dataclass

import keras

from keras_cheats import checks
from keras_cheats.models.mlp import check_classes

CELLS = {
    "rnn": keras.layers.SimpleRNN,
    "gru": keras.layers.GRU,
    "lstm": keras.layers.LSTM,
}
SECTIONS = {"rnn": "7.2.1", "gru": "7.2.2", "lstm": "7.2.3"}


@dataclass(frozen=True)
class RecurrentConfig:
    """Hyperparameters of `build_recurrent_classifier` (Cheat sheet 7.2).

    Args:
        cell: "rnn" (SimpleRNN, 7.2.1), "gru" (7.2.2) or "lstm" (7.2.3).
        units: hidden state size n of every recurrent layer.
        num_layers: stacked recurrent layers; all but the last return
            their whole sequence of hidden states to the next one.
        dropout: dropout rate on the last hidden state, in [0, 1).
        output_activation: None (logits, default), "softmax" or "sigmoid".
    """

    cell: str = "lstm"
    units: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    output_activation: str | None = None

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(
                f"`cell` must be one of {list(CELLS)}; "
                f"received cell={self.cell!r}."
            )
        checks.positive_int("units", self.units)
        checks.positive_int("num_layers", self.num_layers)
        checks.rate("dropout", self.dropout)
        checks.keras_object(
            "output_activation",
            self.output_activation,
            keras.activations.get,
            "a Keras activation name such as 'softmax' or None",
            allow_none=True,
        )


def build_recurrent_classifier(
    input_shape, num_classes, config=None, name=None
):
    """Build an image classifier that reads rows as time steps (7.2).

    (B, H, W, C) -> Reshape -> (B, T = H, F = W * C) -> recurrent layers
    -> h_T (B, units) -> [Dropout] -> Dense -> (B, num_classes).

    Args:
        input_shape: (H, W, C) or (H, W) (then already (T, F)).
        num_classes: number of output units.
        config: a `RecurrentConfig` (default: one LSTM of 128 units,
            logits).
        name: model name (default: the cell name).

    Returns:
        keras.Model mapping (B, *input_shape) to (B, num_classes). Layers:
        "rows" (the reshape), "recurrent_1" ... "recurrent_<num_layers>",
        optional "dropout", "output".
    """
    config = RecurrentConfig() if config is None else config
    if not isinstance(config, RecurrentConfig):
        raise ValueError(
            f"`config` must be a RecurrentConfig; received config={config!r}."
        )
    input_shape = checks.input_shape(input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(
            "`input_shape` must be (H, W, C) or (H, W): H rows become the "
            f"time steps; received input_shape={input_shape!r}."
        )
    check_classes(num_classes, config.output_activation)
    steps, features = input_shape[0], 1
    for d in input_shape[1:]:
        features *= d

    inputs = keras.Input(shape=input_shape, name="inputs")
    # (B, H, W, C) -> (B, H, W * C): row t is the input x_t of step t.
    x = keras.layers.Reshape((steps, features), name="rows")(inputs)
    layer_class = CELLS[config.cell]
    for i in range(1, config.num_layers + 1):
        last = i == config.num_layers
        # (B, T, F) -> (B, T, units), or (B, units) = h_T for the last.
        x = layer_class(
            config.units, return_sequences=not last, name=f"recurrent_{i}"
        )(x)
    if config.dropout > 0:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation=config.output_activation, name="output"
    )(x)
    return keras.Model(inputs, outputs, name=name or config.cell)
