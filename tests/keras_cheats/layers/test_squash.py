"""squash and safe_norm (Cheat sheet 7.3.2)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers import Squash, safe_norm, squash
from tests.keras_cheats.layers import numpy_capsules as ref


def test_squash_hand_computed():
    # s = [3, 4]: |s| = 5, v = 25/26 * [0.6, 0.8]
    v = keras.ops.convert_to_numpy(squash(np.array([[3.0, 4.0]], "float32")))
    np.testing.assert_allclose(v, [[25 / 26 * 0.6, 25 / 26 * 0.8]], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(v), 25 / 26, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(5,), (3, 8), (2, 7, 16), (2, 3, 4, 5)])
def test_squash_matches_numpy(seed, shape):
    rng = np.random.default_rng(seed)
    s = rng.normal(scale=rng.uniform(0.01, 5), size=shape).astype("float32")
    got = keras.ops.convert_to_numpy(squash(s))
    np.testing.assert_allclose(got, ref.squash(s), rtol=1e-5, atol=1e-7)


def test_squash_other_axis_matches_numpy():
    s = np.random.default_rng(3).normal(size=(4, 8, 3)).astype("float32")
    got = keras.ops.convert_to_numpy(squash(s, axis=1))
    np.testing.assert_allclose(got, ref.squash(s, axis=1), rtol=1e-5)


def test_squash_lengths_are_below_one_not_unit():
    # The cheat sheet says squash gives "unit-length vectors"; the length
    # is |s|^2 / (1 + |s|^2) < 1, e.g. 100/101 for |s| = 10.
    s = np.array([[0.1, 0.0], [1.0, 0.0], [6.0, 8.0]], "float32")
    lengths = np.linalg.norm(keras.ops.convert_to_numpy(squash(s)), axis=-1)
    np.testing.assert_allclose(
        lengths, [0.01 / 1.01, 0.5, 100 / 101], rtol=1e-6
    )
    assert np.all(lengths < 1)


def test_squash_and_safe_norm_are_stable_at_zero():
    s = tf.zeros((2, 3, 8))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(s)
        v = squash(s)
        n = safe_norm(s)
    assert np.all(v.numpy() == 0) and np.all(n.numpy() == 0)
    for grad in (tape.gradient(v, s), tape.gradient(n, s)):
        assert np.all(np.isfinite(grad.numpy()))
        assert np.all(grad.numpy() == 0)


def test_squash_gradient_matches_finite_differences():
    s = tf.constant([[0.3, -1.2, 0.7]], dtype="float64")
    with tf.GradientTape() as tape:
        tape.watch(s)
        y = tf.reduce_sum(squash(s) * [1.0, 2.0, 3.0])
    grad = tape.gradient(y, s).numpy()
    eps, numeric = 1e-6, np.zeros(3)
    for k in range(3):
        d = np.zeros((1, 3))
        d[0, k] = eps
        plus = (ref.squash(s.numpy() + d) * [1, 2, 3]).sum()
        minus = (ref.squash(s.numpy() - d) * [1, 2, 3]).sum()
        numeric[k] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(grad[0], numeric, rtol=1e-6)


def test_squash_layer_config_round_trip():
    layer = Squash(axis=1, name="sq")
    clone = Squash.from_config(layer.get_config())
    assert clone.axis == 1 and clone.name == "sq"
    s = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(s)), ref.squash(s, axis=1), rtol=1e-5
    )


def test_squash_layer_rejects_bad_axis():
    with pytest.raises(ValueError, match="axis='x'"):
        Squash(axis="x")
