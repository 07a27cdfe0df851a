"""The cheat sheet's hand-computed networks as real Keras models (7.1, 7.3.1).

Two networks are worked out by hand in the cheat sheet:

* 7.1, a 2-2-1 MLP: x = [0.5, 0.8], a ReLU hidden layer and a sigmoid
  output, y_hat ~ 0.495. Every printed number is right.
* 7.3.1, a CNN on a 4x4 image: one 2x2 kernel (valid, bias 0), ReLU, 2x2
  max pooling with stride 1 (3x3 -> 2x2, as the cheat sheet draws it), a
  flatten, a 2-unit dense layer and a softmax. The printed feature map is
  wrong from its third entry on, and everything after it with it: the
  right output is [0.2227, 0.7773], not [0.31, 0.69]. See ERRATA.md.

`mlp_7_1()` and `cnn_7_3_1()` build the models with the cheat sheet's
weights; `trace(model)` returns every intermediate value; `print_trace()`
prints each next to the number the cheat sheet prints:

    >>> from keras_cheats import worked_examples as we
    >>> we.print_trace("cnn_7_3_1")          # doctest: +SKIP

Keras conventions used here:
* Dense computes x @ kernel + bias, with kernel (inputs, units): the
  cheat sheet's W (units, inputs) is loaded transposed.
* Conv2D computes Y(i, j) = sum_m sum_n F(i+m, j+n) K(m, n) + b, the cheat
  sheet's formula (a cross-correlation, no kernel flip), so K is loaded as
  written, with shape (2, 2, in_channels=1, filters=1).
* MaxPooling2D(2) has stride 2 by default, which on the 3x3 map gives a
  single value; the cheat sheet's 2x2 pooled map needs strides=1.
"""

import sys
from dataclasses import dataclass

import keras
import numpy as np

# ---- 7.1: the 2-2-1 MLP -----------------------------------------------------
MLP_X = np.array([0.5, 0.8], dtype="float32")
MLP_W1 = np.array([[0.4, -0.6], [0.7, 0.1]], dtype="float32")  # (out, in)
MLP_B1 = np.array([0.1, -0.2], dtype="float32")
MLP_W2 = np.array([[0.9, -0.3]], dtype="float32")  # (out, in)
MLP_B2 = np.array([0.05], dtype="float32")  # the cheat sheet's "b_3"

# ---- 7.3.1: the 4x4 CNN -----------------------------------------------------
CNN_X = np.array(
    [[1, 2, 3, 0], [4, 5, 6, 1], [7, 8, 9, 2], [0, 1, 2, 3]], dtype="float32"
)
CNN_K = np.array([[1, 0], [-1, 2]], dtype="float32")
CNN_B = np.array([0.0], dtype="float32")
CNN_W = np.array(
    [[0.1, 0.2, -0.1, 0.05], [-0.3, 0.2, 0.4, 0.1]], dtype="float32"
)  # (out, in)
CNN_BIAS = np.array([0.5, -0.5], dtype="float32")


@dataclass(frozen=True)
class Printed:
    """A number as the cheat sheet prints it, to `decimals` places."""

    value: tuple
    decimals: int
    where: str

    def matches(self, computed):
        """True when `computed` rounds to the printed value."""
        tolerance = 0.5 * 10.0 ** (-self.decimals) + 1e-6
        return bool(
            np.all(
                np.abs(np.asarray(computed) - np.array(self.value)) <= tolerance
            )
        )


# What the cheat sheet prints, keyed like `trace`.
CHEAT_SHEET = {
    "mlp_7_1": {
        "z1": Printed((-0.18, 0.23), 2, "7.1, hidden pre-activation z1"),
        "h": Printed((0.0, 0.23), 2, "7.1, ReLU activation h"),
        "z2": Printed((-0.019,), 3, "7.1, output pre-activation z2"),
        "y_hat": Printed((0.495,), 3, "7.1, sigmoid output y_hat"),
    },
    "cnn_7_3_1": {
        "conv": Printed(
            ((7, 9, 8), (10, 12, 11), (5, 6, 7)), 0, "7.3.1, feature map Y"
        ),
        "relu": Printed(
            ((7, 9, 8), (10, 12, 11), (5, 6, 7)), 0, "7.3.1, ReLU map Z"
        ),
        "pool": Printed(((12, 12), (12, 12)), 0, "7.3.1, pooled map V"),
        "flatten": Printed((12, 12, 12, 12), 0, "7.3.1, flattened V"),
        "logits": Printed((3.5, 4.3), 1, "7.3.1, logits z1, z2"),
        "exp_logits": Printed((33.1, 73.4), 1, "7.3.1, e^z1, e^z2"),
        "probabilities": Printed((0.31, 0.69), 2, "7.3.1, softmax P1, P2"),
    },
}


def mlp_7_1():
    """The 2-2-1 MLP of cheat sheet 7.1 with its weights loaded.

    z1 = W1 x + b1, h = max(0, z1), z2 = W2 h + b3, y_hat = sigma(z2).
    Pre-activations and activations are separate layers so that `trace`
    can show both.

    Returns:
        keras.Model "mlp_7_1": (B, 2) -> (B, 1), with layers "z1" (Dense,
        linear), "h" (ReLU), "z2" (Dense, linear), "y_hat" (sigmoid).
    """
    inputs = keras.Input(shape=(2,), name="x")
    z1 = keras.layers.Dense(2, name="z1")(inputs)  # W1 x + b1: (B, 2)
    h = keras.layers.Activation("relu", name="h")(z1)
    z2 = keras.layers.Dense(1, name="z2")(h)  # W2 h + b3: (B, 1)
    y_hat = keras.layers.Activation("sigmoid", name="y_hat")(z2)
    model = keras.Model(inputs, y_hat, name="mlp_7_1")
    # Keras Dense kernels are (inputs, units): the transposed W.
    model.get_layer("z1").set_weights([MLP_W1.T, MLP_B1])
    model.get_layer("z2").set_weights([MLP_W2.T, MLP_B2])
    return model


def cnn_7_3_1():
    """The CNN of cheat sheet 7.3.1 with its weights loaded.

    Y = F * K + b (2x2, valid), Z = max(0, Y), V = 2x2 max pool with
    stride 1 (3x3 -> 2x2, as drawn in the cheat sheet), flatten,
    z = W v + b, P = softmax(z).

    Returns:
        keras.Model "cnn_7_3_1": (B, 4, 4, 1) -> (B, 2), with layers
        "conv" (3x3x1), "relu", "pool" (2x2x1), "flatten" (4,), "logits"
        (2,) and "probabilities" (2,).
    """
    inputs = keras.Input(shape=(4, 4, 1), name="x")
    y = keras.layers.Conv2D(1, 2, padding="valid", name="conv")(inputs)
    z = keras.layers.Activation("relu", name="relu")(y)  # (B, 3, 3, 1)
    # strides=1: the cheat sheet's windows overlap (Keras' default 2 would
    # give a (1, 1) map).
    v = keras.layers.MaxPooling2D(2, strides=1, name="pool")(z)  # (B, 2, 2, 1)
    flat = keras.layers.Flatten(name="flatten")(v)  # (B, 4)
    logits = keras.layers.Dense(2, name="logits")(flat)  # W v + b: (B, 2)
    probs = keras.layers.Activation("softmax", name="probabilities")(logits)
    model = keras.Model(inputs, probs, name="cnn_7_3_1")
    # Conv2D kernel: (kernel_h, kernel_w, in_channels, filters).
    model.get_layer("conv").set_weights([CNN_K[:, :, None, None], CNN_B])
    model.get_layer("logits").set_weights([CNN_W.T, CNN_BIAS])
    return model


_INPUTS = {"mlp_7_1": MLP_X, "cnn_7_3_1": CNN_X[:, :, None]}
_BUILDERS = {"mlp_7_1": mlp_7_1, "cnn_7_3_1": cnn_7_3_1}


def trace(model, x=None):
    """Every intermediate value of one forward pass, by layer name.

    Args:
        model: `mlp_7_1()` or `cnn_7_3_1()` (any functional model works).
        x: one example without batch axis; default: the cheat sheet's
            input of that model.

    Returns:
        dict name -> NumPy array, in forward order: "x", then each layer's
        output with the batch axis (and a trailing channel axis of 1)
        dropped; for a model with a "logits" layer also "exp_logits" =
        e^logits, the numbers the cheat sheet prints before the softmax.
    """
    if x is None:
        if model.name not in _INPUTS:
            raise ValueError(
                "`x` must be given for a model other than "
                f"{sorted(_INPUTS)}; received model {model.name!r}."
            )
        x = _INPUTS[model.name]
    x = np.asarray(x, dtype="float32")
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    probe = keras.Model(model.input, [layer.output for layer in layers])
    outputs = probe(x[None], training=False)
    values = {"x": _squeeze(x)}
    for layer, out in zip(layers, outputs, strict=True):
        values[layer.name] = _squeeze(keras.ops.convert_to_numpy(out)[0])
        if layer.name == "logits":
            values["exp_logits"] = np.exp(values["logits"])
    return values


def _squeeze(a):
    """Drop a trailing channel axis of size 1 from a map (H, W, 1)."""
    return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a


def errata(example):
    """Names of the values the cheat sheet prints wrong for `example`.

    Args:
        example: "mlp_7_1" or "cnn_7_3_1".

    Returns:
        list of trace keys whose computed value does not round to the
        printed one.
    """
    model, printed = _example(example)
    values = trace(model)
    return [k for k, p in printed.items() if not p.matches(values[k])]


def print_trace(example="cnn_7_3_1", file=None):
    """Print each intermediate value next to the cheat sheet's number.

    Args:
        example: "mlp_7_1" or "cnn_7_3_1".
        file: a text stream (default: sys.stdout).
    """
    file = sys.stdout if file is None else file
    model, printed = _example(example)
    values = trace(model)
    print(
        f"{example}: computed by Keras vs printed in the cheat sheet", file=file
    )
    for name, value in values.items():
        print(f"\n{name}:", file=file)
        print(f"  keras       {_fmt(value)}", file=file)
        if name in printed:
            p = printed[name]
            verdict = "ok" if p.matches(value) else "WRONG, see ERRATA.md"
            print(
                f"  cheat sheet {_fmt(np.array(p.value))}  {verdict}", file=file
            )


def _fmt(a):
    return np.array2string(
        np.asarray(a, dtype="float64"), precision=4, suppress_small=True
    ).replace("\n", "\n              ")


def _example(example):
    if example not in _BUILDERS:
        raise ValueError(
            f"`example` must be one of {sorted(_BUILDERS)}; "
            f"received example={example!r}."
        )
    return _BUILDERS[example](), CHEAT_SHEET[example]
