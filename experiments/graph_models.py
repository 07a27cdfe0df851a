"""The networks and training tasks of `experiments.graphs` (Cheat sheet 7.6).

`GraphNet(kind, ...)` stacks `num_layers` node layers of one kind:

    mlp   h' = relu(h W + b)                      no edges (the baseline)
    gcn   h' = relu(Â h W + b)                    `GraphConv`
    gat   h' = elu(||_k sum_j alpha_ij^k W^k h_j)  `GraphAttention`
    mpnn  h' = psi(h_i, sum_j phi(h_i, h_j))       `MessagePassing`

then, for graph classification, a readout (mean or sum per graph) and a
Dense head, with a linear embedding of the node features first, batch
normalisation after each node layer and residual connections
h <- h + layer(h) (as the "Benchmarking GNNs" models); for node
classification, a last node layer of one unit per class and no readout
(Kipf and Welling's two layers). Its input is
a `keras_cheats.layers.graphs.GraphBatch`; every kind sees the same node
features.

Tasks (`loops.Task`): `graph_task` trains on batches (GraphBatch, labels
(B,)); `node_task` on (GraphBatch, node indices (L,), labels (L,)): the
loss sees the labelled nodes only. Both tell the engine what an example
is (`Task.examples`: a graph, a labelled node), not the batch's first
tensor's rows (nodes).
"""

import dataclasses
import functools

import keras
import tensorflow as tf

import loops
from keras_cheats.layers.graph_attention import GraphAttention
from keras_cheats.layers.graph_conv import GraphConv
from keras_cheats.layers.message_passing import GraphReadout, MessagePassing
from loops import step as step_lib

KINDS = ("mlp", "gcn", "gat", "mpnn")


def node_layer(kind, units, heads, activation, last=False, name=None):
    """One node layer of `kind` with `units` outputs (GAT: `heads` heads of
    units // heads, concatenated; the last GAT layer averages its heads)."""
    if kind == "mlp":
        return keras.layers.Dense(units, activation=activation, name=name)
    if kind == "gcn":
        return GraphConv(units, activation=activation, name=name)
    if kind == "gat":
        if last:
            return GraphAttention(
                units, heads, concat_heads=False, activation=activation,
                name=name,
            )  # fmt: skip
        return GraphAttention(
            max(1, units // heads), heads, activation=activation, name=name
        )
    if kind == "mpnn":
        return MessagePassing(units, activation=activation, name=name)
    raise ValueError(f"kind={kind!r}; expected one of {', '.join(KINDS)}")


class GraphNet(keras.Model):
    """Node layers of one kind, then a readout and head (graph task) or
    not (node task, readout=None).

    Args:
      kind: "mlp", "gcn", "gat" or "mpnn".
      num_classes: outputs (logits).
      hidden: width of the node layers.
      num_layers: node layers (>= 1).
      heads: attention heads of the GAT layers.
      readout: "mean", "sum" or None (node classification).
      dropout: rate before each node layer.
    """

    def __init__(
        self, kind, num_classes, hidden=64, num_layers=3, heads=4,
        readout="mean", dropout=0.0, **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(
                f"kind={kind!r}; expected one of {', '.join(KINDS)}"
            )
        self.kind, self.readout_mode = kind, readout
        act = "elu" if kind == "gat" else "relu"
        node_task = readout is None
        self.node_layers = []
        for i in range(num_layers):
            last = node_task and i == num_layers - 1
            self.node_layers.append(
                node_layer(
                    kind, num_classes if last else hidden, heads,
                    None if last else act, last=last, name=f"{kind}_{i}",
                )
            )  # fmt: skip
        self.norms, self.embed = [], None
        if not node_task:
            self.embed = keras.layers.Dense(hidden, name="embed")
            self.norms = [
                keras.layers.BatchNormalization(momentum=0.9, name=f"norm_{i}")
                for i in range(num_layers)
            ]
        self.drop = keras.layers.Dropout(dropout)
        self.readout = None if node_task else GraphReadout(readout)
        self.head = []
        if not node_task:
            self.head = [
                keras.layers.Dense(hidden, activation="relu", name="head_0"),
                keras.layers.Dense(num_classes, name="head_1"),
            ]

    def call(self, graph, training=False):
        h, edges = graph.nodes, graph.edges
        if self.embed is not None:
            h = self.embed(h)  # (N, hidden): the same for every kind
        for i, layer in enumerate(self.node_layers):
            x = self.drop(h, training=training)
            if self.kind == "mlp":
                x = layer(x)
            elif self.kind == "gat":
                x = layer(x, edges, training=training)
            else:
                x = layer(x, edges)
            if self.norms:
                x = self.norms[i](x, training=training)
            h = h + x if self.norms else x
        if self.readout is None:
            return h
        h = self.readout(h, graph.graph_index, num_graphs=graph.num_graphs)
        for layer in self.head:
            h = layer(h)
        return h


def _labels(batch):
    return tf.shape(batch[-1])[0]


def graph_task(loss, metrics=()):
    """`loops.supervised(loss)` on batches (GraphBatch, labels); an
    example is a graph."""
    task = loops.supervised(loss, metrics=metrics)
    return dataclasses.replace(task, examples=_labels)


def node_train_step(model, optimizer, batch, *, loss_fn, metrics):
    """Section 2.1's steps on one whole graph; the loss and metrics see
    the labelled nodes `index` only (semi-supervised)."""
    graph, index, labels = batch
    with tf.GradientTape() as tape:
        logits = tf.gather(model(graph, training=True), index)
        task_loss, _ = loss_fn(labels, logits, None)
        loss = task_loss + loops.regularization_loss(model)
    variables = model.trainable_variables
    grads = tape.gradient(optimizer.scale_loss(loss), variables)
    optimizer.apply_gradients(zip(grads, variables))
    step_lib.update_metrics(metrics, labels, logits)
    return {"loss": loss}


def node_task(loss, metrics=()):
    """A `loops.Task` on batches (GraphBatch, index (L,), labels (L,));
    an example is a labelled node."""
    metrics = tuple(metrics)
    return loops.Task(
        functools.partial(
            node_train_step, loss_fn=loops.replica_loss(loss), metrics=metrics
        ),
        metrics=metrics,
        examples=_labels,
    )
