"""ContrastiveLogits: exp(t) cos(u_i, v_j), t learnt and clipped as in
CLIP (cheat sheet 7.7.4)."""

import math

import keras
import numpy as np
import pytest

from keras_cheats.layers.contrastive_logits import ContrastiveLogits


def test_hand_computed_logits():
    layer = ContrastiveLogits(init_temperature=0.5)  # scale 2
    u = np.array([[3.0, 0.0], [1.0, 1.0]], np.float32)
    v = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]], np.float32)
    r = 1 / math.sqrt(2)
    np.testing.assert_allclose(
        layer(u, v),
        [[2.0, 0.0, -2.0], [2 * r, 2 * r, -2 * r]],
        rtol=1e-6,
    )
    assert float(layer.log_scale) == pytest.approx(math.log(2.0))


def test_matches_numpy_on_random_vectors():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(5, 8)), rng.normal(size=(7, 8))
    layer = ContrastiveLogits()
    cos = (u / np.linalg.norm(u, axis=1, keepdims=True)) @ (
        v / np.linalg.norm(v, axis=1, keepdims=True)
    ).T
    np.testing.assert_allclose(layer(u, v), cos / 0.07, rtol=1e-5)


def test_scale_is_clipped_at_100_and_at_1():
    layer = ContrastiveLogits(max_scale=100.0)
    u = np.array([[1.0, 0.0]], np.float32)
    layer.log_scale.assign(10.0)  # assigned by hand: the forward clips
    np.testing.assert_allclose(layer(u, u), [[100.0]], rtol=1e-5)
    layer.log_scale.assign(-3.0)
    np.testing.assert_allclose(layer(u, u), [[1.0]], rtol=1e-6)
    # The optimizer applies the clamp after its update (CLIP's in-place
    # clamp): a huge step up stops at log(100), a huge step down at 0.
    layer.log_scale.assign(math.log(50.0))
    sgd = keras.optimizers.SGD(learning_rate=1e3)
    sgd.apply_gradients([(np.float32(-1.0), layer.log_scale)])
    assert float(layer.log_scale) == pytest.approx(math.log(100.0))
    sgd.apply_gradients([(np.float32(1.0), layer.log_scale)])
    assert float(layer.log_scale) == 0.0


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="max_scale"):
        ContrastiveLogits(max_scale=1.0)
    with pytest.raises(ValueError, match="init_temperature"):
        ContrastiveLogits(init_temperature=0.001)  # scale 1000 > 100


def test_save_and_load_keep_the_learnt_scale(tmp_path):
    u_in, v_in = keras.Input((3,)), keras.Input((3,))
    layer = ContrastiveLogits(init_temperature=0.1, max_scale=50.0)
    model = keras.Model([u_in, v_in], layer(u_in, v_in))
    layer.log_scale.assign(2.5)  # learnt: not the initial value
    model.save(tmp_path / "logits.keras")
    loaded = keras.models.load_model(tmp_path / "logits.keras")
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    np.testing.assert_allclose(loaded([u, v]), model([u, v]), rtol=1e-6)
    again = loaded.layers[-1]
    assert again.get_config() == layer.get_config()
    assert float(again.log_scale) == pytest.approx(2.5)
