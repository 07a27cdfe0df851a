"""scaled_dot_product_attention (Cheat sheet 7.5.1)."""

import keras
import numpy as np
import pytest

from keras_cheats.layers.attention import scaled_dot_product_attention


def numpy_attention(q, k, v, mask=None):
    """softmax(Q K^T / sqrt(d_k)) V in float64, masked keys weight 0."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ v, weights


def test_hand_computed_example():
    # scores [1, 0] / sqrt 2; weights e^(1/sqrt 2) / (e^(1/sqrt 2) + 1)
    q = np.array([[1.0, 0.0]], "float32")
    k = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    v = np.array([[1.0], [3.0]], "float32")
    out, w = scaled_dot_product_attention(q, k, v)
    first = np.exp(1 / np.sqrt(2)) / (np.exp(1 / np.sqrt(2)) + 1)
    np.testing.assert_allclose(w, [[first, 1 - first]], rtol=1e-6)
    np.testing.assert_allclose(out, [[first + 3 * (1 - first)]], rtol=1e-6)
    np.testing.assert_allclose(out, [[1.6604769]], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "batch, t, s, d_k, d_v",
    [((), 1, 2, 1, 1), ((2,), 3, 5, 4, 6), ((2, 3), 4, 4, 8, 2)],
)
def test_matches_numpy(seed, batch, t, s, d_k, d_v):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*batch, t, d_k)).astype("float32")
    k = rng.normal(size=(*batch, s, d_k)).astype("float32")
    v = rng.normal(size=(*batch, s, d_v)).astype("float32")
    mask = rng.random((*batch, t, s)) < 0.7
    mask[..., 0] = True  # every query keeps a key
    for m in (None, mask):
        out, w = scaled_dot_product_attention(q, k, v, m)
        want_out, want_w = numpy_attention(q, k, v, m)
        assert out.shape == (*batch, t, d_v) and w.shape == (*batch, t, s)
        np.testing.assert_allclose(w, want_w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-5)


def test_masked_keys_get_weight_zero_and_a_fully_masked_query_zero():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(3, 4)).astype("float32") for _ in range(3))
    mask = np.array(
        [[1, 1, 0], [0, 0, 0], [1, 0, 1]], "float32"
    )  # 0/1 floats act as booleans, as in Keras
    out, w = scaled_dot_product_attention(q, k, v, mask)
    w = np.asarray(w)
    assert np.all(w[mask == 0] == 0)
    np.testing.assert_allclose(w.sum(-1), [1, 0, 1], rtol=1e-6)
    assert np.all(np.asarray(out)[1] == 0)


def _heads(x, kernel, bias):
    """(B, L, D) @ (D, N, H) + (N, H) -> (B, N, L, H): one slice per head."""
    return np.einsum("bld,dnh->bnlh", x, kernel) + bias[None, :, None, :]


@pytest.mark.parametrize("masked", [False, True])
def test_equals_keras_multi_head_attention(masked):
    """MHA = concat_heads(attention(Q W_q^h, K W_k^h, V W_v^h)) W_o."""
    rng = np.random.default_rng(1)
    b, t, s, d, heads = 2, 5, 7, 12, 3
    query = rng.normal(size=(b, t, d)).astype("float32")
    value = rng.normal(size=(b, s, d)).astype("float32")
    mha = keras.layers.MultiHeadAttention(heads, key_dim=4, value_dim=6)
    mask = rng.random((b, t, s)) < 0.6 if masked else None
    if masked:
        mask[:, :, 0] = True
    want, want_w = mha(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    weights = {
        name: [np.asarray(w) for w in dense.weights]
        for name, dense in (
            ("q", mha.query_dense),
            ("k", mha.key_dense),
            ("v", mha.value_dense),
            ("o", mha.output_dense),
        )
    }
    q = _heads(query, *weights["q"])  # (B, N, T, 4)
    k = _heads(value, *weights["k"])  # key = value when no key is given
    v = _heads(value, *weights["v"])  # (B, N, S, 6)
    per_head_mask = None if mask is None else mask[:, None]
    out, w = scaled_dot_product_attention(q, k, v, per_head_mask)
    kernel_o, bias_o = weights["o"]  # (N, 6, D), (D,)
    got = np.einsum("bnth,nhd->btd", np.asarray(out), kernel_o) + bias_o
    np.testing.assert_allclose(w, want_w, atol=1e-6)
    np.testing.assert_allclose(got, want, atol=1e-6)
