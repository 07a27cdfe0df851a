"""Graph convolution (Cheat sheet 7.6.2; Kipf and Welling 2017, eq. 2):

    H' = act(Â H W + b),    Â = D^-1/2 (A + I) D^-1/2

on a sparse graph: for each node i,

    h_i' = act(sum_{j in N(i) + {i}} W^T h_j / sqrt(d_i d_j) + b),

d_i = 1 + |N(i)|, the row sums of A + I. The graph is an edge index
(2, E) of (sender, receiver) pairs over the rows of H, as in
`keras_cheats.layers.graphs`; a batch of graphs is their disjoint union.
"""

import keras
import tensorflow as tf

from keras_cheats import checks
from keras_cheats.layers import graphs


@keras.saving.register_keras_serializable(package="keras_cheats")
class GraphConv(keras.layers.Layer):
    """One GCN layer: H' = act(D^-1/2 (A + I) D^-1/2 H W + b).

    Args:
        units: the width of H', an int >= 1.
        activation: a Keras activation (None: linear, as the last layer).
        use_bias: adds b.
        kernel_initializer, bias_initializer: for W (F, units) and b.

    Call: nodes (N, F), edges (2, E) int (no self loops: the layer adds
    them) -> (N, units).
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = checks.positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, nodes_shape):
        self.kernel = self.add_weight(
            shape=(nodes_shape[-1], self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                name="bias",
            )

    def call(self, nodes, edges):
        n = graphs.num_nodes_of(nodes)
        full, weights = graphs.gcn_edge_weights(edges, n)
        projected = tf.matmul(nodes, tf.cast(self.kernel, nodes.dtype))
        # message j -> i: Â[i, j] (H W)_j, summed over the senders of i
        messages = tf.gather(projected, full[0]) * tf.cast(
            weights[:, None], projected.dtype
        )
        out = tf.math.unsorted_segment_sum(messages, full[1], n)
        if self.bias is not None:
            out = out + tf.cast(self.bias, out.dtype)
        return self.activation(out)

    def compute_output_shape(self, nodes_shape, edges_shape=None):
        return (nodes_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer
            ),
            bias_initializer=keras.initializers.serialize(
                self.bias_initializer
            ),
        )
        return config
