"""keras_cheats.layers.graphs: the GCN normalisation, the segment softmax
and disjoint-union batching (Cheat sheet 7.6)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers import graphs
from tests.keras_cheats.layers.numpy_graphs import gcn_matrix, random_graph


def test_gcn_weights_on_a_path_by_hand():
    # Path 0 - 1 - 2: degrees with self loops 2, 3, 2. The edge 0 -> 1
    # weighs 1 / sqrt(3 * 2), the loop at 1 weighs 1/3.
    edges = np.array([[0, 1, 1, 2], [1, 0, 2, 1]], np.int32)
    full, w = graphs.gcn_edge_weights(edges, 3)
    weight = {(int(j), int(i)): float(v) for j, i, v in zip(*full, w)}
    assert weight[(0, 1)] == pytest.approx(1 / np.sqrt(6))
    assert weight[(1, 1)] == pytest.approx(1 / 3)
    assert weight[(0, 0)] == pytest.approx(1 / 2)


@pytest.mark.parametrize("seed, symmetric", [(0, True), (1, True), (2, False)])
def test_gcn_weights_equal_dense_normalised_adjacency(seed, symmetric):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 15))
    edges = random_graph(rng, n, symmetric=symmetric)
    full, w = graphs.gcn_edge_weights(edges, n)
    dense = np.zeros((n, n))
    dense[np.asarray(full[1]), np.asarray(full[0])] = np.asarray(w)
    np.testing.assert_allclose(dense, gcn_matrix(edges, n), rtol=1e-6)


def test_segment_softmax_sums_to_one_per_segment_and_is_stable():
    scores = tf.constant([[1.0], [2.0], [1000.0], [1001.0], [-5.0]])
    ids = tf.constant([0, 0, 1, 1, 2])
    alpha = np.asarray(graphs.segment_softmax(scores, ids, 3))[:, 0]
    e = np.exp([-1.0, 0.0])
    np.testing.assert_allclose(alpha[:2], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(alpha[2:4], e / e.sum(), rtol=1e-6)  # no inf
    assert alpha[4] == pytest.approx(1.0)


def test_aggregate_gives_zeros_to_a_node_without_messages():
    messages = tf.constant([[1.0, -2.0], [3.0, -4.0]])
    receivers = tf.constant([0, 0])
    for how, row in (("sum", [4, -6]), ("mean", [2, -3]), ("max", [3, -2])):
        out = np.asarray(graphs.aggregate(messages, receivers, 2, how))
        np.testing.assert_allclose(out, [row, [0, 0]])
    with pytest.raises(ValueError, match="aggregation='min'"):
        graphs.aggregate(messages, receivers, 2, "min")


def test_disjoint_union_shifts_indices_and_ragged_union_agrees():
    rng = np.random.default_rng(3)
    parts = []
    for n in (3, 5, 4):
        parts.append((rng.random((n, 2)), random_graph(rng, n, p=0.6)))
    union = graphs.disjoint_union(parts)
    assert union.graph_index.tolist() == [0] * 3 + [1] * 5 + [2] * 4
    assert int(union.num_graphs) == 3
    # Graph 1's edges point into rows 3..7 only.
    second = union.edges[:, parts[0][1].shape[1] :][:, : parts[1][1].shape[1]]
    assert second.min() >= 3 and second.max() <= 7
    ragged = graphs.ragged_union(
        tf.ragged.constant([p[0] for p in parts], ragged_rank=1),
        tf.ragged.constant([p[1].T for p in parts], ragged_rank=1),
    )
    for got, want in zip(ragged, union, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        graphs.disjoint_union([])
