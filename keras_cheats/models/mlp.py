"""Multi-layer perceptron builder (Cheat sheet 7.1).

Each Dense layer computes y = f(w_1 x_1 + w_2 x_2 + ... + b) with f the
activation. The options are the hyperparameters the cheat sheet lists:
number of units, activation function, bias on/off and its initializer,
weight initializer, regularization (L1/L2, dropout, batch normalization).
"""

import math
from dataclasses import dataclass

import keras

from keras_cheats import checks


@dataclass(frozen=True)
class MLPConfig:
    """Hyperparameters of `build_mlp` (Cheat sheet 7.1).

    Args:
        hidden_units: units of each hidden Dense layer, e.g. (128,).
        activation: hidden activation (ReLU, sigmoid, tanh, ...).
        use_bias: whether the Dense layers have a bias b.
        kernel_initializer: weight initialization technique.
        bias_initializer: bias initialization technique.
        l1: L1 penalty on the hidden and output kernels (0 = off).
        l2: L2 penalty on the hidden and output kernels (0 = off).
        dropout: dropout rate after each hidden layer, in [0, 1).
        batch_norm: batch normalization between each hidden Dense layer
            and its activation.
        output_activation: "softmax" (multi-class, default), "sigmoid"
            (binary / multi-label) or None for logits.
    """

    hidden_units: tuple = (128,)
    activation: str = "relu"
    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    bias_initializer: str = "zeros"
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batch_norm: bool = False
    output_activation: str | None = "softmax"

    def __post_init__(self):
        units = checks.positive_ints("hidden_units", self.hidden_units)
        object.__setattr__(self, "hidden_units", units)
        check_activations(self.activation, self.output_activation)
        for name in ("kernel_initializer", "bias_initializer"):
            checks.keras_object(
                name,
                getattr(self, name),
                keras.initializers.get,
                "a Keras initializer name such as 'glorot_uniform'",
            )
        for name in ("use_bias", "batch_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"`{name}` must be a bool; "
                    f"received {name}={getattr(self, name)!r}."
                )
        checks.rate("l1", self.l1, high=math.inf)
        checks.rate("l2", self.l2, high=math.inf)
        checks.rate("dropout", self.dropout)

    def regularizer(self):
        """The kernel regularizer, or None when l1 = l2 = 0."""
        if self.l1 == 0 and self.l2 == 0:
            return None
        return keras.regularizers.L1L2(l1=self.l1, l2=self.l2)


def check_activations(activation, output_activation):
    """Validates a hidden and an output activation (the latter may be None)."""
    checks.keras_object(
        "activation", activation, keras.activations.get, checks.ACTIVATION_HELP
    )
    checks.keras_object(
        "output_activation",
        output_activation,
        keras.activations.get,
        checks.ACTIVATION_HELP + " or None",
        allow_none=True,
    )


def check_classes(num_classes, output_activation):
    """Raise ValueError unless `num_classes` fits the output activation."""
    if (
        not isinstance(num_classes, int)
        or isinstance(num_classes, bool)
        or num_classes < 1
    ):
        raise ValueError(
            "`num_classes` must be an int >= 1; "
            f"received num_classes={num_classes!r}."
        )
    if num_classes == 1 and output_activation == "softmax":
        raise ValueError(
            "`num_classes` must be >= 2 with a softmax output (a softmax of "
            "one unit is always 1); received num_classes=1. Use "
            "output_activation='sigmoid' for binary classification."
        )
    return num_classes


def build_mlp(input_shape, num_classes, config=None, name="mlp"):
    """Build a fully connected classifier (Cheat sheet 7.1).

    Each layer: y = f(W x + b). Layout per hidden layer:
    Dense -> [BatchNormalization] -> activation -> [Dropout], then
    Dense(num_classes) with `config.output_activation`.

    With l1/l2 > 0 the penalties are in `model.losses`; a custom training
    loop must add `sum(model.losses)` to its loss.

    Args:
        input_shape: shape of one example without the batch axis, e.g.
            (784,) or (28, 28, 1); it is flattened first.
        num_classes: number of output units.
        config: an `MLPConfig` (default: one hidden layer of 128 ReLU
            units, softmax output: the 784-128-10 MLP on MNIST).
        name: model name.

    Returns:
        keras.Model mapping (B, *input_shape) to (B, num_classes).
    """
    config = MLPConfig() if config is None else config
    if not isinstance(config, MLPConfig):
        raise ValueError(
            f"`config` must be an MLPConfig; received config={config!r}."
        )
    input_shape = checks.input_shape(input_shape)
    check_classes(num_classes, config.output_activation)
    regularizer = config.regularizer()

    def dense(units, activation, layer_name):
        return keras.layers.Dense(
            units,
            activation=activation,
            use_bias=config.use_bias,
            kernel_initializer=config.kernel_initializer,
            bias_initializer=config.bias_initializer,
            kernel_regularizer=regularizer,
            name=layer_name,
        )

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(config.hidden_units, start=1):
        if config.batch_norm:
            x = dense(units, None, f"dense_{i}")(x)
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Activation(
                config.activation, name=f"activation_{i}"
            )(x)
        else:
            x = dense(units, config.activation, f"dense_{i}")(x)
        if config.dropout > 0:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    outputs = dense(num_classes, config.output_activation, "output")(x)
    return keras.Model(inputs, outputs, name=name)
