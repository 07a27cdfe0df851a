"""Graphs as tensors: the one representation of the graph layers (Cheat
sheet 7.6).

A batch of graphs is one graph, their disjoint union (`GraphBatch`):

    nodes        (N, F)  float  the node features of every graph, in order
    edges        (2, E)  int32  edge k sends node edges[0, k] (sender j)
                                to node edges[1, k] (receiver i); node
                                indices are global (into `nodes`)
    graph_index  (N,)    int32  the graph each node belongs to, 0 .. G-1
    num_graphs   ()      int32  G

An edge j -> i puts A[i, j] = 1: node i aggregates over its senders, the
neighbourhood N(i) = {j : A[i, j] = 1}. An undirected graph lists each
edge both ways. Edges never join two graphs of a batch, so a layer that
only moves values along edges treats each graph on its own; readouts
(`keras_cheats.layers.graph_readout`) pool per graph with `graph_index`.

The helpers below are the shared maths: self loops, the GCN
normalisation, a stable softmax over each node's incoming edges, and the
disjoint union of a list of graphs (NumPy, for building data sets).
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf


class GraphBatch(NamedTuple):
    """A disjoint union of graphs (see the module docstring for shapes)."""

    nodes: tf.Tensor
    edges: tf.Tensor
    graph_index: tf.Tensor
    num_graphs: tf.Tensor


def num_nodes_of(nodes):
    """N, the number of rows of `nodes` (a scalar int32 tensor)."""
    return tf.shape(nodes, out_type=tf.int32)[0]


def add_self_loops(edges, num_nodes):
    """Appends the N edges i -> i: the edges of A + I, shape (2, E + N)."""
    loops = tf.range(num_nodes, dtype=tf.int32)
    edges = tf.cast(edges, tf.int32)
    return tf.concat([edges, tf.stack([loops, loops])], axis=1)


def gcn_edge_weights(edges, num_nodes):
    """The entries of Â = D^-1/2 (A + I) D^-1/2 on the edges of A + I.

    d_i = sum_j (A + I)[i, j] is the number of edges into i (its own loop
    included), and edge j -> i gets Â[i, j] = 1 / sqrt(d_i d_j) (Kipf and
    Welling 2017, eq. 2). `edges` must not hold self loops or repeats.

    Returns:
      (edges of A + I (2, E + N) int32, weights (E + N,) float32).
    """
    full = add_self_loops(edges, num_nodes)
    senders, receivers = full[0], full[1]
    ones = tf.ones_like(receivers, dtype=tf.float32)
    degree = tf.math.unsorted_segment_sum(ones, receivers, num_nodes)
    inv_sqrt = tf.math.rsqrt(degree)  # d >= 1: every node has its loop
    weights = tf.gather(inv_sqrt, receivers) * tf.gather(inv_sqrt, senders)
    return full, weights


def segment_softmax(scores, segment_ids, num_segments):
    """Softmax over the entries that share a segment id:

        alpha_k = exp(s_k - m_c) / sum_{l : c_l = c} exp(s_l - m_c),
        c = segment_ids[k], m_c = max_{l : c_l = c} s_l,

    stable because each exponent is <= 0. For attention, the segment of an
    edge is its receiver, so each node's incoming weights sum to 1.

    Args:
      scores: (E, ...) float.
      segment_ids: (E,) int, in [0, num_segments).
      num_segments: the number of segments.

    Returns:
      (E, ...) like `scores`.
    """
    peak = tf.math.unsorted_segment_max(scores, segment_ids, num_segments)
    exp = tf.exp(scores - tf.gather(peak, segment_ids))
    total = tf.math.unsorted_segment_sum(exp, segment_ids, num_segments)
    return exp / tf.gather(total, segment_ids)


def aggregate(messages, receivers, num_nodes, how="sum"):
    """Pools each node's incoming messages: sum, mean or max (N, ...).

    A node with no incoming edge gets zeros (also for "max").
    """
    if how == "sum":
        return tf.math.unsorted_segment_sum(messages, receivers, num_nodes)
    if how == "mean":
        return tf.math.unsorted_segment_mean(messages, receivers, num_nodes)
    if how == "max":
        pooled = tf.math.unsorted_segment_max(messages, receivers, num_nodes)
        ones = tf.ones_like(receivers, dtype=messages.dtype)
        count = tf.math.unsorted_segment_sum(ones, receivers, num_nodes)
        has_any = tf.reshape(count > 0, [-1] + [1] * (messages.shape.rank - 1))
        return tf.where(has_any, pooled, tf.zeros_like(pooled))
    raise ValueError(
        f"aggregation={how!r}; expected one of 'sum', 'mean', 'max'"
    )


AGGREGATIONS = ("sum", "mean", "max")


def disjoint_union(graphs):
    """One `GraphBatch` of NumPy arrays from [(nodes (n, F), edges (2, e))]
    with node indices local to each graph: graph g's indices are shifted by
    the number of nodes before it."""
    if not graphs:
        raise ValueError("graphs=[]; expected at least one (nodes, edges)")
    offsets = np.cumsum([0] + [len(n) for n, _ in graphs[:-1]])
    nodes = np.concatenate([np.asarray(n, np.float32) for n, _ in graphs])
    edges = np.concatenate(
        [np.asarray(e, np.int32).reshape(2, -1) + o
         for (_, e), o in zip(graphs, offsets, strict=True)],
        axis=1,
    )  # fmt: skip
    graph_index = np.repeat(
        np.arange(len(graphs), dtype=np.int32), [len(n) for n, _ in graphs]
    )
    return GraphBatch(nodes, edges, graph_index, np.int32(len(graphs)))


def ragged_union(nodes, edges):
    """The `GraphBatch` of a batch of graphs held as ragged tensors (what
    `tf.data.Dataset.ragged_batch` makes; usable inside `Dataset.map`).

    Args:
      nodes: (G, None, F) ragged, the node features of each graph.
      edges: (G, None, 2) ragged, each graph's (sender, receiver) pairs
        with local node indices.
    """
    starts = tf.cast(nodes.row_starts(), tf.int32)  # first node of each
    shift = tf.gather(starts, tf.cast(edges.value_rowids(), tf.int32))
    flat_edges = tf.cast(edges.flat_values, tf.int32) + shift[:, None]
    return GraphBatch(
        nodes=nodes.flat_values,
        edges=tf.transpose(flat_edges),
        graph_index=tf.cast(nodes.value_rowids(), tf.int32),
        num_graphs=tf.cast(nodes.nrows(), tf.int32),
    )
