"""MessagePassing and GraphReadout (Cheat sheet 7.6.1) against NumPy,
batching, node order and round trips."""

import keras
import numpy as np
import pytest

from keras_cheats.layers import graphs
from keras_cheats.layers.message_passing import GraphReadout, MessagePassing
from tests.keras_cheats.layers.numpy_graphs import random_graph


def numpy_message_passing(h, edges, phi, psi, how):
    """h_i' = relu([h_i || AGG_j relu([h_i || h_j] W1 + b1)] W2 + b2)."""
    relu = lambda x: np.maximum(x, 0)  # noqa: E731
    n = len(h)
    pooled = np.zeros((n, phi[0].shape[1]))
    for i in range(n):
        senders = edges[0][edges[1] == i]
        if len(senders) == 0:
            continue
        pairs = np.concatenate([np.repeat(h[i:i + 1], len(senders), 0),
                                h[senders]], axis=1)  # fmt: skip
        m = relu(pairs @ phi[0] + phi[1])
        pooled[i] = {"sum": m.sum(0), "mean": m.mean(0), "max": m.max(0)}[how]
    return relu(np.concatenate([h, pooled], 1) @ psi[0] + psi[1])


@pytest.mark.parametrize("seed, how", [(0, "sum"), (1, "mean"), (2, "max")])
def test_output_equals_numpy(seed, how):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(7, 3)).astype("float32")
    edges = random_graph(rng, 7, p=0.3, symmetric=False)
    layer = MessagePassing(4, aggregation=how)
    out = np.asarray(layer(h, edges))
    phi = [np.asarray(w) for w in layer.phi.weights]
    psi = [np.asarray(w) for w in layer.psi.weights]
    want = numpy_message_passing(h, edges, phi, psi, how)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_batching_and_node_order():
    rng = np.random.default_rng(3)
    parts = [(rng.normal(size=(n, 2)), random_graph(rng, n)) for n in (4, 5)]
    union = graphs.disjoint_union(parts)
    layer = MessagePassing(3, aggregation="mean")
    batched = np.asarray(layer(union.nodes, union.edges))
    alone = [np.asarray(layer(x.astype("float32"), e)) for x, e in parts]
    np.testing.assert_allclose(batched, np.concatenate(alone), atol=1e-6)
    perm = rng.permutation(9)
    moved = layer(union.nodes[perm], np.argsort(perm)[union.edges])
    np.testing.assert_allclose(np.asarray(moved), batched[perm], atol=1e-6)


def test_readout_pools_each_graph_by_hand():
    h = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, -6.0]], "float32")
    index = np.array([0, 0, 1])
    mean = np.asarray(GraphReadout("mean")(h, index))
    np.testing.assert_allclose(mean, [[2, 3], [5, -6]])
    total = np.asarray(GraphReadout("sum")(h, index, num_graphs=3))
    np.testing.assert_allclose(total, [[4, 6], [5, -6], [0, 0]])  # empty: 0
    with pytest.raises(ValueError, match="mode"):
        GraphReadout("median")


def test_readout_is_invariant_to_node_order():
    rng = np.random.default_rng(4)
    h = rng.normal(size=(10, 3)).astype("float32")
    index = np.sort(rng.integers(0, 3, 10))
    perm = rng.permutation(10)
    layer = GraphReadout("max")
    np.testing.assert_allclose(
        np.asarray(layer(h[perm], index[perm], num_graphs=3)),
        np.asarray(layer(h, index, num_graphs=3)), atol=1e-6,
    )  # fmt: skip


def test_round_trips():
    rng = np.random.default_rng(5)
    h = rng.normal(size=(5, 3)).astype("float32")
    edges = random_graph(rng, 5, p=0.5)
    layer = MessagePassing(4, aggregation="max", activation="tanh",
                           message_activation="relu")  # fmt: skip
    out = np.asarray(layer(h, edges))
    copy = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert copy.get_config() == layer.get_config()
    if not copy.built:  # the config of a built layer holds its shapes
        copy.build((None, 3))
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(copy(h, edges)), out, atol=1e-6)
    readout = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(GraphReadout("sum"))
    )
    assert readout.mode == "sum"
