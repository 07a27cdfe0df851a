"""The DDPM noise predictor eps_theta(x_t, t) (Cheat sheet 7.4.4)."""

import math

import keras
import numpy as np
import pytest

from keras_cheats.models.diffusion_unet import (
    DenoiserConfig,
    SinusoidalEmbedding,
    TimeResBlock,
    build_denoiser,
)

_TINY = DenoiserConfig(channels=(8, 16), time_dim=8, groups=4)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _randomize(model, seed=0):
    """Nonzero weights everywhere (the output convolution starts at 0)."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(0.2 * rng.standard_normal(v.shape).astype("float32"))


def test_sinusoidal_embedding_against_numpy():
    t = np.array([0, 1, 7, 999])
    got = _np(SinusoidalEmbedding(6)(t))
    w = 10000.0 ** (-np.arange(3) / 3)
    expected = np.concatenate(
        [np.sin(t[:, None] * w), np.cos(t[:, None] * w)], 1
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert got[0].tolist() == [0, 0, 0, 1, 1, 1]  # sin 0, cos 0 by hand
    with pytest.raises(ValueError, match="dim=5"):
        SinusoidalEmbedding(5)


def test_mnist_shapes_through_the_levels():
    model = build_denoiser((28, 28, 1), DenoiserConfig(channels=(8, 16, 32)))
    assert tuple(model.get_layer("middle").output.shape) == (None, 7, 7, 32)
    assert tuple(model.get_layer("up_0").output.shape) == (None, 28, 28, 8)
    assert tuple(model.output.shape) == (None, 28, 28, 1)


def test_output_has_the_image_shape_and_depends_on_t():
    model = build_denoiser((8, 8, 3), _TINY)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3))
    x = x.astype("float32")
    out = model([x, np.array([0, 0], "int32")])
    assert tuple(out.shape) == (2, 8, 8, 3) and out.dtype == "float32"
    assert np.all(_np(out) == 0)  # the output convolution starts at zero
    _randomize(model)
    a = _np(model([x, np.array([0, 0], "int32")]))
    b = _np(model([x, np.array([0, 500], "int32")]))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[1], b[1])  # the time embedding reaches eps


def test_image_sides_must_halve_evenly():
    with pytest.raises(ValueError, match=r"multiples of 4.*\(28, 30, 1\)"):
        build_denoiser((28, 30, 1), DenoiserConfig(channels=(8, 8, 8)))
    with pytest.raises(ValueError, match="channels=\\(\\)"):
        DenoiserConfig(channels=())


def test_block_config_and_residual_path():
    block = TimeResBlock(6, groups=3, dropout=0.1, name="b")
    h = np.random.default_rng(1).standard_normal((2, 4, 4, 4))
    out = block([h.astype("float32"), np.ones((2, 5), "float32")])
    assert tuple(out.shape) == (2, 4, 4, 6) and block.skip is not None
    config = block.get_config()
    assert {k: config[k] for k in ("filters", "groups", "dropout")} == {
        "filters": 6,
        "groups": 3,
        "dropout": 0.1,
    }
    same = TimeResBlock(4, groups=2)
    same([h.astype("float32"), np.ones((2, 5), "float32")])
    assert same.skip is None  # identity skip when the channels agree


def test_saved_model_round_trip(tmp_path):
    model = build_denoiser((8, 8, 1), _TINY)
    _randomize(model, seed=3)
    x = np.random.default_rng(2).standard_normal((3, 8, 8, 1)).astype("float32")
    t = np.array([0, 5, 999], "int32")
    path = tmp_path / "denoiser.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(
        _np(again([x, t])), _np(model([x, t])), rtol=1e-6, atol=1e-6
    )
    emb = again.get_layer("time_embedding")
    assert emb.dim == 8 and math.isclose(emb.max_period, 10000.0)
