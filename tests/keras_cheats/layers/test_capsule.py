"""PrimaryCapsules, DigitCapsules, Length and Mask (Cheat sheet 7.3.2)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers import DigitCapsules, Length, Mask, PrimaryCapsules
from tests.keras_cheats.layers import numpy_capsules as ref


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _rand(seed, shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ---- PrimaryCapsules ---------------------------------------------------------


def test_primary_capsules_paper_shape_and_parameters():
    layer = PrimaryCapsules()  # 32 channels x 8-D, 9x9, stride 2
    layer.build((None, 20, 20, 256))
    assert layer.compute_output_shape((None, 20, 20, 256)) == (None, 1152, 8)
    assert layer.count_params() == 9 * 9 * 256 * 256 + 256 == 5_308_672


def test_primary_capsules_group_consecutive_channels_then_squash():
    layer = PrimaryCapsules(channels=3, capsule_dim=4, kernel_size=3)
    x = _rand(0, (2, 9, 9, 5))
    u = _np(layer(x))
    conv = _np(layer.conv(x))  # (2, 4, 4, 12)
    assert conv.shape == (2, 4, 4, 12) and u.shape == (2, 4 * 4 * 3, 4)
    # Capsule (h, w, g) is channels g*4 .. g*4+3 at (h, w), squashed.
    expected = ref.squash(conv.reshape(2, 4, 4, 3, 4).reshape(2, 48, 4))
    np.testing.assert_allclose(u, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        u[1, 2 * 4 * 3 + 1 * 3 + 2], ref.squash(conv[1, 2, 1, 8:]), rtol=1e-4
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": 0}, "channels=0"),
        ({"capsule_dim": 2.5}, "capsule_dim=2.5"),
        ({"padding": "full"}, "padding='full'"),
    ],
)
def test_primary_capsules_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PrimaryCapsules(**kwargs)


# ---- DigitCapsules -----------------------------------------------------------


def test_digit_capsules_paper_parameters():
    layer = DigitCapsules()  # 10 x 16-D
    layer.build((None, 1152, 8))
    assert layer.kernel.shape == (1152, 10, 8, 16)
    assert layer.count_params() == 1152 * 10 * 8 * 16 == 1_474_560


@pytest.mark.parametrize("seed", [0, 1])
def test_digit_capsules_match_numpy(seed):
    layer = DigitCapsules(num_capsules=3, capsule_dim=5, routing_iterations=3)
    u = _rand(seed, (2, 7, 4)) * 0.5
    v = _np(layer(u))
    w = layer.kernel.numpy().astype("float64")  # (7, 3, 4, 5)
    # u_hat_{j|i} = W_ij u_i, written as an explicit loop.
    u_hat = np.zeros((2, 7, 3, 5))
    for i in range(7):
        for j in range(3):
            u_hat[:, i, j] = u[:, i] @ w[i, j]
    want, _ = ref.routing(u_hat, 3)
    np.testing.assert_allclose(v, want, rtol=1e-4, atol=1e-6)


def test_digit_capsules_gradients_flow_both_ways():
    u = tf.constant(_rand(2, (2, 6, 4)))
    for stop in (True, False):
        layer = DigitCapsules(4, 3, stop_gradient_routing=stop)
        with tf.GradientTape() as tape:
            tape.watch(u)
            y = tf.reduce_sum(layer(u) ** 2)
        g_u, g_w = tape.gradient(y, [u, layer.kernel])
        assert np.all(np.isfinite(g_u.numpy())) and np.any(g_u.numpy() != 0)
        assert np.all(np.isfinite(g_w.numpy())) and np.any(g_w.numpy() != 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_capsules": 0}, "num_capsules=0"),
        ({"routing_iterations": 0}, "routing_iterations=0"),
        ({"stop_gradient_routing": 1}, "stop_gradient_routing=1"),
    ],
)
def test_digit_capsules_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DigitCapsules(**kwargs)


def test_digit_capsules_need_known_input_capsules():
    with pytest.raises(ValueError, match="input_shape"):
        DigitCapsules().build((None, None, 8))


# ---- Length and Mask ---------------------------------------------------------


def test_length_hand_computed_and_zero_safe():
    v = tf.constant([[[3.0, 4.0], [0.0, 0.0]]])
    with tf.GradientTape() as tape:
        tape.watch(v)
        lengths = Length()(v)
    np.testing.assert_allclose(lengths.numpy(), [[5.0, 0.0]])
    grad = tape.gradient(lengths, v).numpy()
    np.testing.assert_allclose(grad, [[[0.6, 0.8], [0.0, 0.0]]], rtol=1e-6)


def test_mask_keeps_the_label_capsule_in_training():
    v = _rand(0, (2, 3, 4))
    label = np.eye(3, dtype="float32")[[2, 0]]
    out = _np(Mask()(v, label, training=True))
    expected = v * label[:, :, None]
    np.testing.assert_allclose(out, expected)


def test_mask_keeps_the_longest_capsule_at_inference_and_ignores_label():
    v = np.zeros((2, 3, 2), "float32")
    v[0] = [[0.1, 0.0], [0.0, 0.5], [0.3, 0.3]]  # longest: 1
    v[1] = [[0.6, 0.1], [0.2, 0.0], [0.0, 0.0]]  # longest: 0
    label = np.eye(3, dtype="float32")[[2, 2]]
    expected = np.zeros_like(v)
    expected[0, 1], expected[1, 0] = v[0, 1], v[1, 0]
    for training, lab in ((False, label), (None, label), (False, None)):
        np.testing.assert_allclose(
            _np(Mask()(v, lab, training=training)), expected
        )
    np.testing.assert_allclose(_np(Mask()(v, None, training=True)), expected)


# ---- Serialization -----------------------------------------------------------


def test_capsule_layers_keras_round_trip(tmp_path):
    image = keras.Input((12, 12, 2), name="image")
    label = keras.Input((3,), name="label", optional=True)
    u = PrimaryCapsules(2, 4, kernel_size=3, strides=2, name="p")(image)
    v = DigitCapsules(3, 5, routing_iterations=2, stop_gradient_routing=False)(
        u
    )
    out = [Length()(v), Mask()(v, label)]
    model = keras.Model([image, label], out)
    path = tmp_path / "caps.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x, y = _rand(0, (2, 12, 12, 2)), np.eye(3, dtype="float32")[[0, 1]]
    before = model((x, y), training=True)
    after = loaded((x, y), training=True)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6)
    digit = next(
        layer for layer in loaded.layers if isinstance(layer, DigitCapsules)
    )
    assert digit.routing_iterations == 2 and not digit.stop_gradient_routing
    assert loaded.get_layer("p").get_config()["channels"] == 2
