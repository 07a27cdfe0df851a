r"""Closed-form derivatives of the activation functions (cheat sheet 3).

The activations themselves are Keras' own (`keras.activations.sigmoid`,
...); this module writes out their derivatives, which is what the chain
rule multiplies layer after layer in backpropagation (section 2.1) and
why a deep stack of sigmoids has vanishing gradients: sigma'(x) <= 1/4,
so n sigmoid layers scale the gradient by at most 4^-n (times the
weights), while ReLU's derivative is exactly 1 wherever a unit is on.

Every function takes a tensor (or array) x and returns dphi/dx elementwise
with x's shape and dtype; `softmax_jacobian` returns the full Jacobian.
At a kink (x = 0 for ReLU, leaky ReLU, SELU) there is no derivative; the
value returned there is the one TensorFlow's gradient returns, so that a
`tf.GradientTape` over the Keras function gives exactly these numbers:
ReLU 0, leaky ReLU its slope, SELU scale (its right derivative).

    >>> float(sigmoid_derivative(0.0))  # 1/4, the sigmoid's largest slope
    0.25

`DERIVATIVES` pairs each Keras activation name with (function,
derivative) for the charts and tests.
"""

import math

import keras
from keras import ops

# SELU's constants (Klambauer et al. 2017), as Keras uses them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# The tanh approximation of GELU: sqrt(2/pi) and the cubic coefficient.
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def sigmoid_derivative(x):
    r"""sigma'(x) = sigma(x) (1 - sigma(x)), sigma(x) = 1 / (1 + e^-x).

    Section 3. At most 1/4 (at x = 0); about e^-|x| for large |x|.

    Args:
        x: (...) tensor of pre-activations.

    Returns:
        (...) tensor, the same shape and dtype.
    """
    s = ops.sigmoid(x)
    return s * (1 - s)


def tanh_derivative(x):
    r"""tanh'(x) = 1 - tanh(x)^2.

    Section 3. 1 at x = 0; about 4 e^-2|x| for large |x|.

    Args:
        x: (...) tensor.

    Returns:
        (...) tensor.
    """
    t = ops.tanh(x)
    return 1 - t * t


def relu_derivative(x):
    r"""relu'(x) = 1 if x > 0 else 0 (0 at x = 0, as TensorFlow).

    Section 3.

    Args:
        x: (...) tensor.

    Returns:
        (...) tensor of 0s and 1s.
    """
    x = ops.convert_to_tensor(x)
    return ops.cast(x > 0, x.dtype)


def leaky_relu_derivative(x, negative_slope=0.2):
    r"""d/dx max(x, a x) = 1 if x > 0 else a (a at x = 0, as TensorFlow).

    Section 3. `negative_slope` a defaults to Keras' 0.2.

    Args:
        x: (...) tensor.
        negative_slope: a, the slope for x <= 0.

    Returns:
        (...) tensor.
    """
    x = ops.convert_to_tensor(x)
    return ops.where(x > 0, ops.ones_like(x), negative_slope * ops.ones_like(x))


def elu_derivative(x, alpha=1.0):
    r"""elu(x) = x if x > 0 else alpha (e^x - 1);
    elu'(x) = 1 if x > 0 else alpha e^x.

    Section 3. Continuous at 0 when alpha = 1 (Keras' default).

    Args:
        x: (...) tensor.
        alpha: the saturation value -alpha for x -> -inf.

    Returns:
        (...) tensor.
    """
    x = ops.convert_to_tensor(x)
    return ops.where(x > 0, ops.ones_like(x), alpha * ops.exp(x))


def selu_derivative(x):
    r"""selu(x) = lambda x if x > 0 else lambda alpha (e^x - 1);
    selu'(x) = lambda if x >= 0 else lambda alpha e^x,

    with lambda = 1.0507 and alpha = 1.6733 (`SELU_SCALE`, `SELU_ALPHA`).
    Section 3. At 0 the right derivative lambda, as TensorFlow.

    Args:
        x: (...) tensor.

    Returns:
        (...) tensor.
    """
    x = ops.convert_to_tensor(x)
    return SELU_SCALE * ops.where(
        x >= 0, ops.ones_like(x), SELU_ALPHA * ops.exp(x)
    )


def gelu_derivative(x, approximate=False):
    r"""The derivative of GELU(x) = x Phi(x), Phi the standard normal CDF.

    Exact (erf) form, Keras' default (`keras.activations.gelu(x)`,
    `approximate=False`):

        GELU'(x) = Phi(x) + x phi(x),
        Phi(x) = (1 + erf(x / sqrt 2)) / 2,  phi(x) = e^(-x^2/2) / sqrt(2 pi).

    tanh approximation (`approximate=True`), GELU(x) ~ x (1 + tanh u) / 2
    with u = sqrt(2/pi) (x + 0.044715 x^3):

        GELU'(x) ~ (1 + tanh u) / 2
                   + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2.

    Section 3. Both are 1/2 at x = 0.

    Args:
        x: (...) tensor.
        approximate: use the tanh approximation.

    Returns:
        (...) tensor.
    """
    x = ops.convert_to_tensor(x)
    if approximate:
        t = ops.tanh(_GELU_C * (x + _GELU_A * x**3))
        du = _GELU_C * (1 + 3 * _GELU_A * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    cdf = 0.5 * (1 + ops.erf(x / math.sqrt(2.0)))
    pdf = ops.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def silu_derivative(x):
    r"""swish(x) = silu(x) = x sigma(x);
    silu'(x) = sigma(x) + x sigma(x) (1 - sigma(x))
             = sigma(x) (1 + x (1 - sigma(x))).

    Section 3. 1/2 at x = 0; slightly negative for x < 0 (the dip).

    Args:
        x: (...) tensor.

    Returns:
        (...) tensor.
    """
    s = ops.sigmoid(x)
    return s * (1 + x * (1 - s))


swish_derivative = silu_derivative


def softmax_jacobian(z):
    r"""The Jacobian of s = softmax(z) over the last axis:

        ds_i / dz_j = s_i (delta_ij - s_j),   J = diag(s) - s s^T.

    Section 3. Each row (and column) of J sums to 0, because sum_i s_i = 1
    whatever z; J is symmetric. With z = 0 of size n: J = I/n - 1/n^2.

    Args:
        z: (..., n) tensor of logits.

    Returns:
        (..., n, n) tensor J with J[..., i, j] = ds_i / dz_j.
    """
    s = ops.softmax(ops.convert_to_tensor(z), axis=-1)
    outer = s[..., :, None] * s[..., None, :]  # (..., n, n)
    eye = ops.eye(ops.shape(s)[-1], dtype=s.dtype)
    return s[..., None] * eye - outer


# name -> (Keras activation, its derivative): the scalar activations.
DERIVATIVES = {
    "sigmoid": (keras.activations.sigmoid, sigmoid_derivative),
    "tanh": (keras.activations.tanh, tanh_derivative),
    "relu": (keras.activations.relu, relu_derivative),
    "leaky_relu": (keras.activations.leaky_relu, leaky_relu_derivative),
    "elu": (keras.activations.elu, elu_derivative),
    "selu": (keras.activations.selu, selu_derivative),
    "gelu": (keras.activations.gelu, gelu_derivative),
    "gelu_tanh": (
        lambda x: keras.activations.gelu(x, approximate=True),
        lambda x: gelu_derivative(x, approximate=True),
    ),
    "silu": (keras.activations.silu, silu_derivative),
}
