"""Message passing, the general graph neural network (Cheat sheet 7.6.1;
Gilmer et al. 2017):

    m_ij  = phi(h_i, h_j)                 a message along each edge j -> i
    m_i   = AGG_{j in N(i)} m_ij          sum, mean or max
    h_i'  = psi(h_i, m_i)

phi and psi are one Dense layer each on the concatenations [h_i || h_j]
and [h_i || m_i]. GCN (7.6.2) and GAT (7.6.3) are special cases with a
fixed or an attention-weighted linear message. The graph is an edge index
(2, E) of (sender j, receiver i) pairs (`keras_cheats.layers.graphs`).
"""

import keras
import tensorflow as tf

from keras_cheats import checks
from keras_cheats.layers import graphs


@keras.saving.register_keras_serializable(package="keras_cheats")
class MessagePassing(keras.layers.Layer):
    """h_i' = psi([h_i || AGG_j phi([h_i || h_j])]).

    Args:
        units: width of the messages and of h', an int >= 1.
        aggregation: "sum", "mean" or "max" over each node's senders (a
            node without senders gets m_i = 0).
        activation: of phi and of psi (a Keras activation).
        message_activation: of phi alone, if different (default: the same).

    Call: nodes (N, F), edges (2, E) int -> (N, units). No self loops are
    added: h_i reaches h_i' through psi.
    """

    def __init__(
        self,
        units,
        aggregation="sum",
        activation="relu",
        message_activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = checks.positive_int("units", units)
        self.aggregation = checks.choice(
            "aggregation", aggregation, graphs.AGGREGATIONS
        )
        self.activation = keras.activations.get(activation)
        self.message_activation = keras.activations.get(
            activation if message_activation is None else message_activation
        )
        self.phi = keras.layers.Dense(
            units, activation=self.message_activation, name="phi"
        )
        self.psi = keras.layers.Dense(
            units, activation=self.activation, name="psi"
        )

    def build(self, nodes_shape):
        f = nodes_shape[-1]
        self.phi.build((None, 2 * f))
        self.psi.build((None, f + self.units))

    def call(self, nodes, edges):
        edges = tf.cast(edges, tf.int32)
        senders, receivers = edges[0], edges[1]
        pairs = tf.concat(
            [tf.gather(nodes, receivers), tf.gather(nodes, senders)], -1
        )  # (E, 2F): [h_i || h_j]
        messages = self.phi(pairs)  # (E, units)
        pooled = graphs.aggregate(
            messages, receivers, graphs.num_nodes_of(nodes), self.aggregation
        )
        return self.psi(tf.concat([nodes, pooled], -1))

    def compute_output_shape(self, nodes_shape, edges_shape=None):
        return (nodes_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            aggregation=self.aggregation,
            activation=keras.activations.serialize(self.activation),
            message_activation=keras.activations.serialize(
                self.message_activation
            ),
        )
        return config


@keras.saving.register_keras_serializable(package="keras_cheats")
class GraphReadout(keras.layers.Layer):
    """One vector per graph by pooling its nodes (Cheat sheet 7.6.1):

        h_G = sum_{i in G} h_i,  or  1/|G| sum_{i in G} h_i,  or  max.

    Args:
        mode: "sum", "mean" or "max" (an empty graph gets zeros).

    Call: nodes (N, F), graph_index (N,) int in [0, G), num_graphs=G
    (a keyword or a tensor; default max(graph_index) + 1) -> (G, F).
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        self.mode = checks.choice("mode", mode, graphs.AGGREGATIONS)

    def call(self, nodes, graph_index, num_graphs=None):
        index = tf.cast(graph_index, tf.int32)
        if num_graphs is None:
            num_graphs = tf.reduce_max(index) + 1
        return graphs.aggregate(
            nodes, index, tf.cast(num_graphs, tf.int32), self.mode
        )

    def compute_output_shape(self, nodes_shape, *args):
        return (None, nodes_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config
