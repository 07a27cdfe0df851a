"""TransformerBlock: the pre-norm encoder block (Cheat sheet 7.5.2)."""

import math

import keras
import numpy as np
import pytest

from keras_cheats.layers.transformer_block import TransformerBlock
from tests.keras_cheats.layers.test_attention import numpy_attention


def _layer_norm(x, gamma, beta, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x):  # exact GELU: x Phi(x)
    return x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def numpy_block(block, x):
    """z' = x + MSA(LN(x)); z = z' + MLP(LN(z')), from the block's weights."""
    w = lambda layer: [np.asarray(v, np.float64) for v in layer.weights]  # noqa: E731
    mha = block.attention
    u = _layer_norm(x, *w(block.norm1))
    (qk, qb), (kk, kb), (vk, vb) = (
        w(d) for d in (mha.query_dense, mha.key_dense, mha.value_dense)
    )
    heads = lambda k, b: np.einsum("btd,dnh->bnth", u, k) + b[:, None]  # noqa: E731
    out, weights = numpy_attention(heads(qk, qb), heads(kk, kb), heads(vk, vb))
    ok, ob = w(mha.output_dense)
    z = x + np.einsum("bnth,nhd->btd", out, ok) + ob
    h1k, h1b = w(block.hidden)
    h2k, h2b = w(block.out)
    h = _gelu(_layer_norm(z, *w(block.norm2)) @ h1k + h1b)
    return z + h @ h2k + h2b, weights


@pytest.mark.parametrize(
    "heads, dim, tokens", [(1, 4, 3), (2, 8, 5), (4, 8, 6)]
)
def test_block_matches_numpy(heads, dim, tokens):
    rng = np.random.default_rng(heads)
    x = rng.normal(size=(2, tokens, dim)).astype("float32")
    block = TransformerBlock(heads, mlp_dim=16, dropout=0.2)
    block.build(x.shape)
    for v in block.weights:  # LayerNorm's ones and zeros would hide a slip
        v.assign(rng.normal(scale=0.5, size=v.shape).astype("float32"))
    got, weights = block(x, return_attention_scores=True)  # inference
    want, want_weights = numpy_block(block, x.astype(np.float64))
    assert got.shape == x.shape and weights.shape == (2, heads, tokens, tokens)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(weights, want_weights, atol=1e-5)
    # without the weights Keras takes its fused path: another summation order
    np.testing.assert_allclose(np.asarray(block(x)), got, atol=1e-5)


def test_dropout_acts_in_training_only():
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    block = TransformerBlock(2, 16, dropout=0.5)
    a, b = block(x, training=False), block(x, training=False)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(block(x, training=True), a)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="heads=3 for tokens of width 8"):
        TransformerBlock(3, 16)(np.zeros((1, 2, 8), "float32"))
    with pytest.raises(ValueError, match="dropout"):
        TransformerBlock(2, 16, dropout=1.0)
    with pytest.raises(ValueError, match="mlp_dim"):
        TransformerBlock(2, 0)


def test_round_trip_through_a_keras_file(tmp_path):
    inputs = keras.Input((5, 8))
    outputs = TransformerBlock(2, 12, dropout=0.1, name="block")(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(3, 5, 8)).astype("float32")
    model.save(tmp_path / "block.keras")
    loaded = keras.models.load_model(tmp_path / "block.keras")
    config = loaded.get_layer("block").get_config()
    assert (config["heads"], config["mlp_dim"], config["dropout"]) == (
        2,
        12,
        0.1,
    )
    np.testing.assert_array_equal(loaded(x), model(x))
