"""Attention rollout (Cheat sheet 9.3)."""

import numpy as np
import pytest

from keras_cheats.models.attention_rollout import (
    attention_rollout,
    rollout_maps,
    vit_rollout_maps,
)
from keras_cheats.models.vit import ViTConfig, build_vit


def random_attention(rng, layers, batch, heads, tokens):
    """L row-stochastic (B, h, T, T) matrices."""
    logits = rng.normal(scale=2.0, size=(layers, batch, heads, tokens, tokens))
    e = np.exp(logits)
    return list(e / e.sum(-1, keepdims=True))


def numpy_rollout(weights, pooling):
    """Abnar and Zuidema's recipe, one image and one layer at a time."""
    batch, tokens = weights[0].shape[0], weights[0].shape[-1]
    out = []
    for b in range(batch):
        r = np.eye(tokens)
        for w in weights:
            a = w[b].mean(axis=0) + np.eye(tokens)
            a = a / a.sum(axis=1, keepdims=True)
            r = a @ r  # the later layer mixes what the earlier one made
        out.append(r[0, 1:] if pooling == "cls" else r.mean(axis=0))
    return np.array(out)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("seed, layers", [(0, 1), (1, 3), (2, 5)])
def test_rollout_matches_numpy(pooling, seed, layers):
    rng = np.random.default_rng(seed)
    weights = random_attention(rng, layers, batch=3, heads=2, tokens=5)
    got = attention_rollout(weights, pooling)
    want = numpy_rollout(weights, pooling)
    assert got.shape == (3, 4 if pooling == "cls" else 5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if pooling == "mean":
        np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-5)


def test_one_layer_hand_computed():
    # One head attending from the class token 0 to patch 2 only:
    # (A + I) / 2 has row 0 = [1/2, 0, 1/2], so patch 2 gets 1/2.
    a = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], "float32")
    got = attention_rollout([a[None, None]], "cls")
    np.testing.assert_allclose(got, [[0.0, 0.5]], atol=1e-7)
    # Two such layers: row 0 of ((A + I) / 2)^2 = [1/2, 0, 1/2].
    got = attention_rollout([a[None, None]] * 2, "cls")
    np.testing.assert_allclose(got, [[0.0, 0.5]], atol=1e-7)


def test_rollout_maps_fill_patches_row_by_row():
    relevance = np.array([[0.0, 2.0, 1.0, 0.5, 0.0, 0.0]])  # 2 x 3 grid
    maps = rollout_maps(relevance, (2, 3), 2)
    assert maps.shape == (1, 4, 6)
    np.testing.assert_array_equal(maps[0, :2, 2:4], 1.0)  # row 0, column 1
    np.testing.assert_array_equal(maps[0, :2, 4:], 0.5)
    np.testing.assert_array_equal(maps[0, 2:, :2], 0.25)  # row 1, column 0
    with pytest.raises(ValueError, match="2 x 2 patch grid"):
        rollout_maps(relevance, (2, 2), 2)
    with pytest.raises(ValueError, match="pooling"):
        attention_rollout([np.ones((1, 1, 2, 2))], "max")


def test_vit_rollout_maps_cover_the_image():
    model = build_vit(
        (8, 8, 1), 10, ViTConfig(patch_size=4, dim=8, depth=2, heads=2)
    )
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype("float32")
    maps = vit_rollout_maps(model, x, batch_size=2)
    assert maps.shape == (5, 8, 8)
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0)
    assert maps.min() > 0
