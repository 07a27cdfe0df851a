"""build_autoencoder and reconstruction_error (Cheat sheet 7.4.1)."""

import keras
import numpy as np
import pytest

import loops
from experiments import data
from keras_cheats.models.autoencoder import (
    AutoencoderConfig,
    build_autoencoder,
    reconstruction_error,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_cheat_sheet_model_is_784_128_784():
    model = build_autoencoder((28, 28, 1))
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    assert tuple(encoder.output.shape) == (None, 128)
    assert tuple(model.output.shape) == (None, 28, 28, 1)
    # Linear(784, 128) + Linear(128, 784).
    assert encoder.count_params() == 784 * 128 + 128
    assert decoder.count_params() == 128 * 784 + 784
    assert model.count_params() == 201_616
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1))
    out = _np(model(x.astype("float32")))
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output
    code = _np(encoder(x.astype("float32")))
    assert code.min() >= 0  # ReLU code


@pytest.mark.parametrize(
    "shape, feature_map",
    [
        ((28, 28, 1), (7, 7, 64)),
        ((8, 8, 1), (2, 2, 64)),
        ((7, 7, 3), (2, 2, 64)),
    ],
)
def test_conv_variant_restores_the_input_shape(shape, feature_map):
    model = build_autoencoder(shape, AutoencoderConfig(kind="conv"))
    decoder = model.get_layer("decoder")
    assert tuple(decoder.get_layer("feature_map").output.shape[1:]) == (
        feature_map
    )
    assert any(
        isinstance(layer, keras.layers.Conv2DTranspose)
        for layer in decoder.layers
    )
    assert tuple(model.output.shape[1:]) == shape


def test_noise_is_added_in_training_only():
    x = np.full((2, 8, 8, 1), 0.5, "float32")
    plain = build_autoencoder((8, 8, 1), AutoencoderConfig(latent_dim=8))
    np.testing.assert_allclose(
        _np(plain(x, training=True)), _np(plain(x, training=False))
    )
    noisy = build_autoencoder(
        (8, 8, 1), AutoencoderConfig(latent_dim=8, noise=0.5)
    )
    inference = _np(noisy(x, training=False))
    np.testing.assert_allclose(inference, _np(noisy(x, training=False)))
    assert not np.allclose(_np(noisy(x, training=True)), inference)


def test_reconstruction_error_against_numpy():
    # A "model" that halves its input: error = mean((x / 2)^2) per image.
    halve = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Rescaling(0.5)]
    )
    x = np.random.default_rng(1).uniform(size=(7, 4, 4, 1)).astype("float32")
    expected = np.mean((x / 2) ** 2, axis=(1, 2, 3))
    for batch_size in (1, 3, 256):
        np.testing.assert_allclose(
            reconstruction_error(halve, x, batch_size=batch_size),
            expected,
            rtol=1e-6,
        )
    with pytest.raises(ValueError, match="images"):
        reconstruction_error(halve, x[0])


def _digits_pipeline():
    train, test, _ = data.load_splits("digits")
    pipe = data.Pipeline(train, 64, seed=0).map(lambda x, y: (x, x))
    return pipe, test


@pytest.mark.slow
def test_reconstructions_improve_through_the_loop():
    # model.fit: tests/experiments/test_generative.py (--trainer=fit).
    pipe, test = _digits_pipeline()
    keras.utils.set_random_seed(0)
    config = AutoencoderConfig(kind="conv", latent_dim=16, filters=(8, 16))
    model = build_autoencoder((8, 8, 1), config)
    before = reconstruction_error(model, test.x).mean()
    history = loops.fit(
        model,
        keras.optimizers.Adam(3e-3),
        loops.supervised(keras.losses.MeanSquaredError()),
        pipe,
        options=loops.LoopOptions(epochs=3, verbose=0),
    )
    after = reconstruction_error(model, test.x).mean()
    assert history["loss"][-1] < history["loss"][0]
    assert after < 0.7 * before


def test_save_and_reload(tmp_path):
    model = build_autoencoder(
        (8, 8, 1), AutoencoderConfig(kind="conv", latent_dim=4, noise=0.1)
    )
    path = tmp_path / "ae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(2).uniform(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6)
    assert loaded.get_layer("noise").stddev == pytest.approx(0.1)


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="kind"):
        AutoencoderConfig(kind="rnn")
    with pytest.raises(ValueError, match="latent_dim"):
        AutoencoderConfig(latent_dim=0)
    with pytest.raises(ValueError, match="noise"):
        AutoencoderConfig(noise=-0.1)
    with pytest.raises(ValueError, match="filters"):
        AutoencoderConfig(kind="conv", filters=())
    with pytest.raises(ValueError, match="input_shape"):
        build_autoencoder((784,))
    with pytest.raises(ValueError, match="config"):
        build_autoencoder((8, 8, 1), config={"latent_dim": 2})
