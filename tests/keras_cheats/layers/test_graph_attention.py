"""GraphAttention (Cheat sheet 7.6.3): attention coefficients and outputs
against dense NumPy, batching, node order, dropout and a round trip."""

import keras
import numpy as np
import pytest

from keras_cheats.layers import graphs
from keras_cheats.layers.graph_attention import GraphAttention
from tests.keras_cheats.layers.numpy_graphs import gat_attention, random_graph


def _weights(layer):
    kernel, a_1, a_2 = (np.asarray(w) for w in layer.weights[:3])
    return kernel, a_1, a_2


def test_two_nodes_by_hand():
    # W = I (1 unit), a_1 = 0, a_2 = 1: e_ij = LeakyReLU(h_j). Node 0
    # (h = 0) hears itself (e = 0) and node 1 (h = 1, e = 1): alpha =
    # softmax(0, 1) = (0.2689, 0.7311), h_0' = 0.7311.
    layer = GraphAttention(1, use_bias=False)
    layer.build((None, 1))
    layer.set_weights([np.ones((1, 1)), np.zeros((1, 1)), np.ones((1, 1))])
    h = np.array([[0.0], [1.0]], "float32")
    edges = np.array([[1], [0]], "int32")  # 1 -> 0 only
    out = np.asarray(layer(h, edges))
    assert out[0, 0] == pytest.approx(np.exp(1) / (1 + np.exp(1)), rel=1e-6)
    assert out[1, 0] == pytest.approx(1.0)  # node 1 hears itself only


@pytest.mark.parametrize("seed, heads", [(0, 1), (1, 3), (2, 4)])
def test_coefficients_and_outputs_equal_dense_numpy(seed, heads):
    rng = np.random.default_rng(seed)
    n, f = int(rng.integers(4, 11)), int(rng.integers(2, 5))
    h = rng.normal(size=(n, f)).astype("float32")
    edges = random_graph(rng, n, symmetric=seed != 2)
    layer = GraphAttention(2, heads=heads, use_bias=False)
    out = np.asarray(layer(h, edges))
    want_alpha, wh = gat_attention(h, edges, *_weights(layer))
    full, alpha = layer.attention(h, edges)
    full, alpha = np.asarray(full), np.asarray(alpha)
    dense = np.zeros((heads, n, n))
    dense[:, full[1], full[0]] = alpha.T
    np.testing.assert_allclose(dense, want_alpha, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dense.sum(axis=2), 1.0, rtol=1e-5)
    want = np.einsum("kij,jkd->ikd", want_alpha, wh).reshape(n, -1)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_mean_of_heads_and_batching():
    rng = np.random.default_rng(3)
    parts = [(rng.normal(size=(n, 3)), random_graph(rng, n)) for n in (5, 3)]
    union = graphs.disjoint_union(parts)
    layer = GraphAttention(4, heads=3, concat_heads=False, activation="elu")
    batched = np.asarray(layer(union.nodes, union.edges))
    assert batched.shape == (8, 4)
    assert layer.compute_output_shape((None, 3)) == (None, 4)
    alone = [np.asarray(layer(x.astype("float32"), e)) for x, e in parts]
    np.testing.assert_allclose(batched, np.concatenate(alone), atol=1e-6)


def test_permuting_the_nodes_permutes_the_outputs():
    rng = np.random.default_rng(4)
    h = rng.normal(size=(6, 2)).astype("float32")
    edges = random_graph(rng, 6, p=0.5)
    perm = rng.permutation(6)
    layer = GraphAttention(3, heads=2)
    out = np.asarray(layer(h, edges))
    moved = np.asarray(layer(h[perm], np.argsort(perm)[edges].astype("int32")))
    np.testing.assert_allclose(moved, out[perm], rtol=1e-5, atol=1e-6)


def test_attention_dropout_acts_in_training_only():
    rng = np.random.default_rng(5)
    h = rng.normal(size=(8, 3)).astype("float32")
    edges = random_graph(rng, 8, p=0.6)
    layer = GraphAttention(4, heads=2, attention_dropout=0.5, seed=1)
    quiet = np.asarray(layer(h, edges))
    np.testing.assert_allclose(np.asarray(layer(h, edges)), quiet)
    noisy = np.asarray(layer(h, edges, training=True))
    assert not np.allclose(noisy, quiet)
    with pytest.raises(ValueError, match="attention_dropout"):
        GraphAttention(4, attention_dropout=1.0)


def test_serialization_round_trip():
    rng = np.random.default_rng(6)
    h = rng.normal(size=(5, 3)).astype("float32")
    edges = random_graph(rng, 5, p=0.5)
    layer = GraphAttention(
        2, heads=3, concat_heads=False, activation="elu", negative_slope=0.1,
        attention_dropout=0.25, use_bias=True, seed=7,
    )  # fmt: skip
    out = np.asarray(layer(h, edges))
    copy = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert copy.get_config() == layer.get_config()
    if not copy.built:  # the config of a built layer holds its shapes
        copy.build((None, 3))
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(copy(h, edges)), out, atol=1e-6)
