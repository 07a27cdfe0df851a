"""keras_cheats.activations: each closed form against tf.GradientTape over
Keras' own activation, and hand values."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats import activations

# Random points, points around 0 (both sides of the kinks) and large |x|.
_RNG = np.random.default_rng(0)
X = np.concatenate([
    _RNG.normal(0.0, 3.0, 200),
    [0.0, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5],
    [-30.0, -12.0, -8.0, 8.0, 12.0, 30.0],
])  # fmt: skip


def tape_derivative(fn, x):
    x = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x).numpy()


@pytest.mark.parametrize("name", sorted(activations.DERIVATIVES))
def test_closed_form_equals_the_gradient_of_keras_activation(name):
    function, derivative = activations.DERIVATIVES[name]
    expected = tape_derivative(function, X)
    got = np.asarray(derivative(tf.constant(X, tf.float64)))
    assert got.shape == X.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_non_default_parameters_match_keras():
    got = activations.leaky_relu_derivative(tf.constant(X), 0.05)
    want = tape_derivative(lambda x: keras.activations.leaky_relu(x, 0.05), X)
    np.testing.assert_allclose(got, want, atol=1e-6)
    got = activations.elu_derivative(tf.constant(X), alpha=0.5)
    want = tape_derivative(lambda x: keras.activations.elu(x, 0.5), X)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_hand_values_at_zero():
    at = {name: float(d(tf.constant(0.0, tf.float64)))
          for name, (_, d) in activations.DERIVATIVES.items()}  # fmt: skip
    assert at == {
        "sigmoid": 0.25,  # sigma(0) (1 - sigma(0)) = 1/2 * 1/2
        "tanh": 1.0,  # 1 - 0^2
        "relu": 0.0,  # TensorFlow's value at the kink
        "leaky_relu": 0.2,  # Keras' default slope
        "elu": 1.0,  # alpha e^0
        "selu": pytest.approx(1.0507009873554805),  # lambda
        "gelu": 0.5,  # Phi(0) + 0
        "gelu_tanh": 0.5,
        "silu": 0.5,  # sigma(0) (1 + 0)
    }
    # A value away from 0 by hand: sigma'(2) = e^-2 / (1 + e^-2)^2.
    e = math.exp(-2.0)
    assert float(activations.sigmoid_derivative(2.0)) == pytest.approx(
        e / (1 + e) ** 2
    )


def test_sigmoid_saturates_and_relu_does_not():
    # The vanishing-gradient story in two numbers: a sigmoid passes at
    # most 1/4 of the gradient, and almost nothing at |x| = 10.
    x = tf.constant(np.linspace(-10, 10, 2001), tf.float64)
    assert float(tf.reduce_max(activations.sigmoid_derivative(x))) == 0.25
    assert float(activations.sigmoid_derivative(10.0)) < 5e-5
    assert float(activations.relu_derivative(10.0)) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_jacobian_equals_tape_jacobian(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    z = tf.constant(rng.normal(0, 4, (3, n)), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        s = keras.activations.softmax(z)
    # (3, n, 3, n) -> the per-example blocks (3, n, n).
    full = tape.jacobian(s, z).numpy()
    want = np.stack([full[b, :, b, :] for b in range(3)])
    got = np.asarray(activations.softmax_jacobian(z))
    assert got.shape == (3, n, n)
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(got, np.swapaxes(got, -1, -2), atol=1e-15)


def test_softmax_jacobian_by_hand():
    # z = 0 over 4 classes: s = 1/4, J = I/4 - 1/16.
    j = np.asarray(activations.softmax_jacobian(tf.zeros((4,), tf.float64)))
    np.testing.assert_allclose(j, np.eye(4) / 4 - 1 / 16, atol=1e-15)
    # Large logits saturate it: s ~ one-hot, J ~ 0.
    big = activations.softmax_jacobian(tf.constant([50.0, 0.0], tf.float64))
    assert np.abs(np.asarray(big)).max() < 1e-20
