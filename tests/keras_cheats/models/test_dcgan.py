"""DCGAN generator, discriminator and GAN losses (Cheat sheet 7.4.3)."""

import math

import keras
import numpy as np
import pytest

from keras_cheats.models.dcgan import (
    DCGAN,
    DCGANConfig,
    build_discriminator,
    build_generator,
    discriminator_loss,
    generator_loss,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_mnist_shapes_and_parameter_counts():
    model = DCGAN((28, 28, 1))
    g, d = model.generator, model.discriminator
    assert tuple(g.get_layer("start").output.shape) == (None, 7, 7, 128)
    assert tuple(g.get_layer("up_1").output.shape) == (None, 14, 14, 64)
    assert tuple(g.output.shape) == (None, 28, 28, 1)
    assert tuple(d.get_layer("down_2").output.shape) == (None, 7, 7, 128)
    assert tuple(d.output.shape) == (None, 1)
    assert g.count_params() == (
        100 * 7 * 7 * 128  # project, no bias (batch norm follows)
        + 4 * 7 * 7 * 128  # gamma, beta, moving mean and variance
        + 5 * 5 * 128 * 64  # up_1, no bias
        + 4 * 64
        + (5 * 5 * 64 * 1 + 1)  # to_image
    )
    assert d.count_params() == (
        (5 * 5 * 1 * 64 + 64) + (5 * 5 * 64 * 128 + 128) + (7 * 7 * 128 + 1)
    )
    assert len(model.trainable_variables) == len(g.trainable_variables) + len(
        d.trainable_variables
    )


@pytest.mark.parametrize(
    ("shape", "start"),
    [((8, 8, 1), (2, 2)), ((32, 32, 3), (8, 8)), ((28, 12, 1), (7, 3))],
)
def test_generator_follows_the_image_shape(shape, start):
    config = DCGANConfig(latent_dim=4, generator_filters=(8, 4))
    g = build_generator(shape, config)
    assert tuple(g.get_layer("start").output.shape[1:3]) == start
    images = _np(g(np.random.default_rng(0).normal(size=(3, 4))))
    assert images.shape == (3, *shape)
    assert images.min() >= 0.0 and images.max() <= 1.0  # tanh / 2 + 1/2
    d = build_discriminator(shape, config)
    assert _np(d(images)).shape == (3, 1)


def test_three_doublings_need_multiples_of_eight():
    config = DCGANConfig(generator_filters=(16, 8, 4))
    assert tuple(build_generator((32, 32, 1), config).output.shape) == (
        None,
        32,
        32,
        1,
    )
    with pytest.raises(ValueError, match=r"image_shape=\(28, 28, 1\)"):
        build_generator((28, 28, 1), config)


@pytest.mark.parametrize("shape", [(30, 30, 1), (28, 28), (7, 7, 1)])
def test_unsupported_image_shapes_are_named(shape):
    with pytest.raises(ValueError, match=r"image_shape=\(") as info:
        DCGAN(shape)
    assert str(shape) in str(info.value)


def test_discriminator_sees_pixels_centred_to_minus_one_one():
    d = build_discriminator((8, 8, 1), DCGANConfig(dropout=0.0))
    centre = keras.Model(d.input, d.get_layer("centre").output)
    x = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))])
    out = _np(centre(x))
    np.testing.assert_array_equal(out[0], -1.0)
    np.testing.assert_array_equal(out[1], 1.0)


def test_losses_by_hand():
    # D(x) = sigmoid(0) = 1/2: L_D = 2 log 2, L_G = log 2.
    zeros = np.zeros((3, 1), np.float32)
    np.testing.assert_allclose(
        _np(discriminator_loss(zeros, zeros)), [2 * math.log(2)] * 3, rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(generator_loss(zeros)), [math.log(2)] * 3, rtol=1e-6
    )
    # A sure discriminator (logits +-50) costs ~0; a fooled generator 50.
    real, fake = np.full((1, 1), 50.0), np.full((1, 1), -50.0)
    assert _np(discriminator_loss(real, fake))[0] < 1e-20
    np.testing.assert_allclose(_np(generator_loss(fake)), [50.0], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_losses_match_numpy_log_sigmoid(seed):
    rng = np.random.default_rng(seed)
    real, fake = rng.normal(0, 3, size=(2, int(rng.integers(1, 20)), 1))

    def d(logit):
        return 1.0 / (1.0 + np.exp(-logit))

    expected_d = -np.log(d(real)) - np.log(1.0 - d(fake))
    expected_g = -np.log(d(fake))
    np.testing.assert_allclose(
        _np(discriminator_loss(real, fake)), expected_d[:, 0], rtol=1e-5
    )
    np.testing.assert_allclose(
        _np(generator_loss(fake)), expected_g[:, 0], rtol=1e-5
    )


def test_keras_file_round_trip(tmp_path):
    config = DCGANConfig(
        latent_dim=6, generator_filters=(8, 4), discriminator_filters=(4,)
    )
    model = DCGAN((8, 8, 1), config)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    z = rng.normal(size=(2, 6)).astype("float32")
    images = _np(model(z))
    model.save(tmp_path / "dcgan.keras")
    loaded = keras.saving.load_model(tmp_path / "dcgan.keras")
    assert isinstance(loaded, DCGAN) and loaded.config == config
    np.testing.assert_array_equal(_np(loaded(z)), images)
    np.testing.assert_array_equal(
        _np(loaded.discriminator(images)), _np(model.discriminator(images))
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latent_dim": 0}, "latent_dim=0"),
        ({"generator_filters": ()}, r"generator_filters=\(\)"),
        ({"discriminator_filters": (4, -1)}, "discriminator_filters="),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"kernel_size": 2.5}, "kernel_size=2.5"),
    ],
)
def test_bad_config_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DCGANConfig(**kwargs)


def test_config_as_dict_and_bad_config_type():
    model = DCGAN((8, 8, 1), {"latent_dim": 3, "generator_filters": (4, 2)})
    assert model.latent_dim == 3
    with pytest.raises(ValueError, match="config="):
        DCGAN((8, 8, 1), config="small")
