"""build_capsnet, CapsNetConfig and capsnet_loss (Cheat sheet 7.3.2)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.models import (
    CapsNetConfig,
    CapsNetLoss,
    build_capsnet,
    capsnet_loss,
)

# A very small configuration for the behaviour tests: fast on 2 CPU cores.
TINY = CapsNetConfig(
    conv_filters=8,
    primary_channels=2,
    primary_dim=4,
    digit_dim=6,
    decoder_units=(16,),
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _batch(n=4, classes=10, shape=(28, 28, 1), seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(n, *shape)).astype("float32")
    labels = np.eye(classes, dtype="float32")[rng.integers(0, classes, n)]
    return images, labels


def _numpy_margin(labels, lengths):
    present = labels * np.maximum(0, 0.9 - lengths) ** 2
    absent = 0.5 * (1 - labels) * np.maximum(0, lengths - 0.1) ** 2
    return (present + absent).sum(axis=-1)


def test_paper_shapes_and_parameter_count():
    model = build_capsnet((28, 28, 1), 10)  # paper sizes
    shapes = {
        name: tuple(model.get_layer(name).output.shape[1:])
        for name in (
            "conv1",
            "primary_caps",
            "digit_caps",
            "lengths",
            "decoder",
        )
    }
    assert shapes == {
        "conv1": (20, 20, 256),
        "primary_caps": (1152, 8),
        "digit_caps": (10, 16),
        "lengths": (10,),
        "decoder": (28, 28, 1),
    }
    counts = {
        name: model.get_layer(name).count_params()
        for name in ("conv1", "primary_caps", "digit_caps", "decoder")
    }
    assert counts == {
        "conv1": 9 * 9 * 256 + 256,
        "primary_caps": 9 * 9 * 256 * 256 + 256,
        "digit_caps": 1152 * 10 * 8 * 16,
        "decoder": 160 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 784 + 784,
    }
    # CapsNet-Keras reports 8,215,568 in total, 6,804,224 without decoder.
    assert model.count_params() == 8_215_568
    assert model.count_params() - counts["decoder"] == 6_804_224
    images, labels = _batch(n=1)
    out = model((images, labels), training=True)
    assert out["lengths"].shape == (1, 10)
    assert out["reconstruction"].shape == (1, 28, 28, 1)


def test_small_config_shapes():
    config = CapsNetConfig.small()
    assert (config.conv_filters, config.primary_channels) == (64, 8)
    assert (config.primary_dim, config.digit_dim) == (8, 16)
    model = build_capsnet((28, 28, 1), 10, config)
    assert model.get_layer("conv1").output.shape[1:] == (20, 20, 64)
    assert model.get_layer("primary_caps").output.shape[1:] == (6 * 6 * 8, 8)
    assert model.get_layer("digit_caps").output.shape[1:] == (10, 16)
    assert model.count_params() == 2_117_072


def test_outputs_lengths_in_unit_interval_and_pixels_in_zero_one():
    model = build_capsnet((28, 28, 1), 10, TINY)
    images, labels = _batch()
    out = model((images, labels), training=True)
    assert set(out) == {"lengths", "reconstruction"}
    lengths = _np(out["lengths"])
    capsules = model.get_layer("digit_caps").output
    assert capsules.shape[1:] == (10, 6)
    assert np.all((lengths >= 0) & (lengths < 1))
    recon = _np(out["reconstruction"])
    assert recon.shape == images.shape and np.all((recon > 0) & (recon < 1))


def test_label_masks_only_in_training():
    model = build_capsnet((28, 28, 1), 10, TINY)
    probe = keras.Model(
        model.inputs,
        [model.get_layer("digit_caps").output, model.get_layer("mask").output],
    )
    images, _ = _batch(n=3)
    first = np.eye(10, dtype="float32")[[0, 1, 2]]
    second = np.eye(10, dtype="float32")[[5, 5, 9]]
    for label in (first, second):
        capsules, masked = map(_np, probe((images, label), training=True))
        np.testing.assert_allclose(masked, capsules * label[:, :, None])
    # At inference the label is ignored and the longest capsule is kept.
    capsules, masked = map(_np, probe((images, first), training=False))
    longest = np.linalg.norm(capsules, axis=-1).argmax(-1)
    keep = np.eye(10, dtype="float32")[longest]
    np.testing.assert_allclose(masked, capsules * keep[:, :, None])
    outs = [
        model((images, first), training=False),
        model((images, second), training=False),
        model((images, None)),
        model({"image": images, "label": None}),
        model((images, keep), training=True),
    ]
    for out in outs[1:]:
        for key in ("lengths", "reconstruction"):
            np.testing.assert_allclose(
                _np(out[key]), _np(outs[0][key]), rtol=1e-6
            )


def test_two_dimensional_images_and_other_class_counts():
    model = build_capsnet((28, 28), 3, TINY)
    images, labels = _batch(n=2, classes=3, shape=(28, 28))
    out = model((images, labels), training=True)
    assert out["lengths"].shape == (2, 3)
    assert out["reconstruction"].shape == (2, 28, 28)


def test_capsnet_loss_matches_numpy():
    model = build_capsnet((28, 28, 1), 10, TINY)
    images, labels = _batch()
    out = model((images, labels), training=True)
    lengths, recon = _np(out["lengths"]), _np(out["reconstruction"])
    sse = ((recon - images) ** 2).reshape(len(images), -1).sum(axis=1)
    expected = _numpy_margin(labels, lengths) + 0.0005 * sse
    for y_true in ((labels, images), {"label": labels, "image": images}):
        got = _np(capsnet_loss(y_true, out))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    keyed_like_outputs = {"lengths": labels, "reconstruction": images}
    got = _np(capsnet_loss(keyed_like_outputs, (lengths, recon)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_capsnet_loss_hand_computed():
    # One sample, 2 classes, class 1 present with length 0.8, class 0
    # absent with 0.3: margin = 0.1^2 + 0.5 * 0.2^2 = 0.03; a 2x1 image
    # off by 1 and 2: SSE = 5, times 0.0005 = 0.0025.
    labels = np.array([[0.0, 1.0]], "float32")
    lengths = np.array([[0.3, 0.8]], "float32")
    image = np.zeros((1, 2, 1), "float32")
    recon = np.array([[[1.0], [2.0]]], "float32")
    got = _np(capsnet_loss((labels, image), (lengths, recon)))
    np.testing.assert_allclose(got, [0.0325], rtol=1e-5)


def test_capsnet_loss_class_weights_and_config():
    labels = np.eye(2, dtype="float32")
    lengths = np.array([[0.3, 0.8], [0.95, 0.0]], "float32")
    images = np.zeros((2, 1, 1), "float32")
    y_pred = {"lengths": lengths, "reconstruction": images + 1.0}
    per_sample = _np(capsnet_loss((labels, images), y_pred))
    loss = CapsNetLoss()
    np.testing.assert_allclose(
        float(loss((labels, images), y_pred)), per_sample.mean(), rtol=1e-6
    )
    weighted = loss(
        (labels, images), y_pred, sample_weight=np.array([1.0, 0.0])
    )
    np.testing.assert_allclose(float(weighted), per_sample[0] / 2, rtol=1e-6)
    clone = keras.losses.deserialize(keras.losses.serialize(CapsNetLoss(0.1)))
    assert isinstance(clone, CapsNetLoss) and clone.reconstruction_weight == 0.1


def test_capsnet_loss_rejects_bad_structures():
    with pytest.raises(ValueError, match="y_true"):
        capsnet_loss(
            {"labels": 1, "image": 2}, {"lengths": 1, "reconstruction": 2}
        )
    with pytest.raises(ValueError, match="y_pred"):
        capsnet_loss((1, 2), [1, 2, 3])
    with pytest.raises(ValueError, match="reconstruction_weight=-1"):
        CapsNetLoss(reconstruction_weight=-1)


@pytest.mark.parametrize("stop_gradient_routing", [True, False])
def test_gradient_tape_training_step_lowers_the_loss(stop_gradient_routing):
    keras.utils.set_random_seed(0)
    config = CapsNetConfig(
        conv_filters=8,
        primary_channels=2,
        primary_dim=4,
        digit_dim=6,
        decoder_units=(16,),
        stop_gradient_routing=stop_gradient_routing,
    )
    model = build_capsnet((28, 28, 1), 10, config)
    loss_fn = CapsNetLoss()
    optimizer = keras.optimizers.Adam(0.01)
    images, labels = _batch(n=8)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = loss_fn(y, y_pred, None)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [
        float(step((images, labels), (labels, images))) for _ in range(15)
    ]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_keras_round_trip(tmp_path):
    model = build_capsnet((28, 28, 1), 10, TINY)
    path = tmp_path / "capsnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    images, labels = _batch(n=2)
    for training in (True, False):
        before = model((images, labels), training=training)
        after = loaded((images, labels), training=training)
        for key in ("lengths", "reconstruction"):
            np.testing.assert_allclose(
                _np(before[key]), _np(after[key]), rtol=1e-6
            )
    assert loaded.count_params() == model.count_params()
    after = loaded((images, None))
    assert after["lengths"].shape == (2, 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"conv_filters": 0}, "conv_filters=0"),
        ({"routing_iterations": 1.5}, "routing_iterations=1.5"),
        ({"decoder_units": (512, 0)}, r"decoder_units=\(512, 0\)"),
        ({"stop_gradient_routing": "no"}, "stop_gradient_routing='no'"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CapsNetConfig(**kwargs)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((8, 8, 1), 10), r"input_shape=\(8, 8, 1\)"),
        (((28, 28, 1), 1), "num_classes=1"),
        (((784,), 10), r"input_shape=\(784,\)"),
        (((28, 28, 1), 10, "small"), "config='small'"),
    ],
)
def test_build_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        build_capsnet(*args)
