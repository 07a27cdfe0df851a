"""Routing by agreement (Cheat sheet 7.3.2) against a NumPy loop version."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers import routing_by_agreement, squash
from tests.keras_cheats.layers import numpy_capsules as ref


def _u_hat(seed, shape):
    return (
        np.random.default_rng(seed)
        .normal(scale=0.3, size=shape)
        .astype("float32")
    )


def test_one_iteration_is_squash_of_the_uniform_average():
    # b = 0 -> c_ij = 1 / N_out, s_j = sum_i u_hat_{j|i} / N_out
    u_hat = _u_hat(0, (2, 5, 4, 3))
    v = routing_by_agreement(u_hat, iterations=1)
    expected = keras.ops.convert_to_numpy(squash(u_hat.sum(axis=1) / 4))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(v), expected, rtol=1e-5
    )


@pytest.mark.parametrize("iterations", [1, 2, 3, 5])
@pytest.mark.parametrize(
    ("seed", "shape"),
    [(0, (2, 6, 3, 4)), (1, (1, 10, 5, 8)), (2, (3, 7, 2, 16))],
)
def test_routing_matches_numpy(seed, shape, iterations):
    u_hat = _u_hat(seed, shape)
    got = routing_by_agreement(u_hat, iterations=iterations)
    want, _ = ref.routing(u_hat, iterations)
    assert tuple(got.shape) == (shape[0], shape[2], shape[3])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got), want, rtol=1e-4, atol=1e-6
    )


def test_agreement_raises_the_coupling_of_the_agreeing_capsule():
    # Two lower capsules both predict upper capsule 0 the same way and
    # upper capsule 1 in opposite ways: routing sends them to capsule 0.
    u_hat = np.zeros((1, 2, 2, 2), "float32")
    u_hat[0, :, 0] = [1.0, 0.0]
    u_hat[0, 0, 1], u_hat[0, 1, 1] = [0.0, 1.0], [0.0, -1.0]
    _, c = ref.routing(u_hat, 3)
    assert np.all(c[0, :, 0] > 0.5)
    v = keras.ops.convert_to_numpy(routing_by_agreement(u_hat, 3))
    assert np.linalg.norm(v[0, 0]) > np.linalg.norm(v[0, 1])


def _grad(u_hat, stop_gradient, weights):
    u = tf.constant(u_hat)
    with tf.GradientTape() as tape:
        tape.watch(u)
        v = routing_by_agreement(u, 3, stop_gradient=stop_gradient)
        y = tf.reduce_sum(v * weights)
    return v.numpy(), tape.gradient(y, u).numpy()


def test_stop_gradient_keeps_values_and_freezes_coupling_coefficients():
    u_hat = _u_hat(4, (2, 6, 3, 4))
    weights = _u_hat(5, (2, 3, 4))
    v_stop, g_stop = _grad(u_hat, True, weights)
    v_full, g_full = _grad(u_hat, False, weights)
    np.testing.assert_allclose(v_stop, v_full, rtol=1e-6)
    assert np.all(np.isfinite(g_stop)) and np.all(np.isfinite(g_full))
    assert not np.allclose(g_stop, g_full)
    # With stop_gradient the c_ij are constants: the gradient is that of
    # squash(sum_i c_ij u_hat_{j|i}) with c fixed at its last value.
    _, c = ref.routing(u_hat, 3)
    u = tf.constant(u_hat)
    with tf.GradientTape() as tape:
        tape.watch(u)
        s = tf.einsum("bij,bijd->bjd", tf.constant(c, "float32"), u)
        y = tf.reduce_sum(squash(s) * weights)
    np.testing.assert_allclose(g_stop, tape.gradient(y, u).numpy(), rtol=1e-4)


@pytest.mark.parametrize("iterations", [0, -1, 2.0, True])
def test_bad_iterations(iterations):
    with pytest.raises(ValueError, match="iterations"):
        routing_by_agreement(np.zeros((1, 2, 2, 2), "float32"), iterations)
