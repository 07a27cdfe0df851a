"""GraphConv (Cheat sheet 7.6.2): H' = act(D^-1/2 (A + I) D^-1/2 H W + b)
against dense NumPy, batching, node order and a .keras round trip."""

import keras
import numpy as np
import pytest

from keras_cheats.layers import graphs
from keras_cheats.layers.graph_conv import GraphConv
from tests.keras_cheats.layers.numpy_graphs import gcn_matrix, random_graph


def test_one_node_without_edges_is_a_dense_layer():
    # Â = [[1]]: h' = relu(h W + b). h = [1, 2], W = [[1], [-1]], b = 0.5:
    # relu(1 - 2 + 0.5) = 0.
    layer = GraphConv(1, activation="relu")
    layer.build((None, 2))
    layer.set_weights([np.array([[1.0], [-1.0]]), np.array([0.5])])
    out = layer(np.array([[1.0, 2.0]], "float32"), np.zeros((2, 0), "int32"))
    assert float(np.asarray(out)[0, 0]) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_output_equals_dense_numpy(seed):
    rng = np.random.default_rng(seed)
    n, f = int(rng.integers(4, 12)), int(rng.integers(1, 5))
    h = rng.normal(size=(n, f)).astype("float32")
    edges = random_graph(rng, n)
    layer = GraphConv(3, activation="tanh")
    out = np.asarray(layer(h, edges))
    kernel, bias = (np.asarray(w) for w in layer.weights)
    want = np.tanh(gcn_matrix(edges, n) @ h @ kernel + bias)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, f)) == (None, 3)


def test_a_batch_equals_its_graphs_one_by_one():
    rng = np.random.default_rng(4)
    parts = [(rng.normal(size=(n, 3)), random_graph(rng, n)) for n in (4, 6)]
    union = graphs.disjoint_union(parts)
    layer = GraphConv(5, activation="relu")
    batched = np.asarray(layer(union.nodes, union.edges))
    alone = [np.asarray(layer(x.astype("float32"), e)) for x, e in parts]
    np.testing.assert_allclose(batched, np.concatenate(alone), atol=1e-6)


def test_permuting_the_nodes_permutes_the_outputs():
    rng = np.random.default_rng(5)
    h = rng.normal(size=(7, 2)).astype("float32")
    edges = random_graph(rng, 7, p=0.5)
    perm = rng.permutation(7)
    inverse = np.argsort(perm)  # new index of old node i: inverse[i]
    layer = GraphConv(4)
    out = np.asarray(layer(h, edges))
    moved = np.asarray(layer(h[perm], inverse[edges].astype("int32")))
    np.testing.assert_allclose(moved, out[perm], rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip(tmp_path):
    nodes = keras.Input((3,))
    edges = keras.Input((None,), batch_size=2, dtype="int32")
    out = GraphConv(4, activation="relu", use_bias=False)(nodes, edges)
    model = keras.Model([nodes, edges], out)
    rng = np.random.default_rng(6)
    h, e = rng.normal(size=(6, 3)).astype("float32"), random_graph(rng, 6)
    path = tmp_path / "gcn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        np.asarray(loaded([h, e])), np.asarray(model([h, e])), atol=1e-6
    )
    config = loaded.layers[-1].get_config()
    assert (config["units"], config["use_bias"]) == (4, False)
    with pytest.raises(ValueError, match="units"):
        GraphConv(0)
