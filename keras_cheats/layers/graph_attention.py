"""Graph attention (Cheat sheet 7.6.3; Velickovic et al. 2018, eqs. 1-6).

For each head k, with W^k (F, D) and a^k = [a_1^k; a_2^k] (2D,):

    e_ij^k     = LeakyReLU(a^k . [W^k h_i || W^k h_j])
               = LeakyReLU(a_1^k . W^k h_i + a_2^k . W^k h_j)
    alpha_ij^k = softmax_j(e_ij^k)   over j in N(i) + {i}
    h_i'       = ||_k act(sum_j alpha_ij^k W^k h_j)       (concat, D K)
            or   act(1/K sum_k sum_j alpha_ij^k W^k h_j)   (mean, D)

i is the receiving node, j its senders (`keras_cheats.layers.graphs`),
self loops added. The softmax over each node's incoming edges is
`graphs.segment_softmax`; dropout on alpha (training only) is the paper's
attention dropout.
"""

import keras
import tensorflow as tf

from keras_cheats import checks
from keras_cheats.layers import graphs


@keras.saving.register_keras_serializable(package="keras_cheats")
class GraphAttention(keras.layers.Layer):
    """Multi-head graph attention (GAT).

    Args:
        units: D, the width of each head, an int >= 1.
        heads: K, the number of heads, an int >= 1.
        concat_heads: True: concatenate heads (N, K D); False: average
            them (N, D), as the paper's output layer.
        activation: a Keras activation applied after concat or mean.
        negative_slope: of the LeakyReLU on e_ij (0.2 in the paper).
        attention_dropout: rate of dropout on alpha_ij, in [0, 1).
        use_bias: adds a bias (K D or D) before the activation.
        kernel_initializer: for W and a.

    Call: nodes (N, F), edges (2, E) int (no self loops) -> (N, K D) or
    (N, D). `attention(nodes, edges)` returns the coefficients.
    """

    def __init__(
        self,
        units,
        heads=1,
        concat_heads=True,
        activation=None,
        negative_slope=0.2,
        attention_dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = checks.positive_int("units", units)
        self.heads = checks.positive_int("heads", heads)
        self.concat_heads = bool(concat_heads)
        self.activation = keras.activations.get(activation)
        self.negative_slope = checks.interval(
            "negative_slope", negative_slope, 0.0
        )
        self.attention_dropout = checks.rate(
            "attention_dropout", attention_dropout
        )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.dropout = keras.layers.Dropout(
            self.attention_dropout, seed=seed, name="attention_dropout"
        )

    def build(self, nodes_shape):
        k, d = self.heads, self.units
        self.kernel = self.add_weight(
            shape=(nodes_shape[-1], k * d),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.attn_receiver = self.add_weight(
            shape=(k, d), initializer=self.kernel_initializer, name="a_1"
        )
        self.attn_sender = self.add_weight(
            shape=(k, d), initializer=self.kernel_initializer, name="a_2"
        )
        self.bias = None
        if self.use_bias:
            width = k * d if self.concat_heads else d
            self.bias = self.add_weight(
                shape=(width,), initializer="zeros", name="bias"
            )

    def _scores(self, nodes, edges):
        """W h (N, K, D), the edges of A + I and alpha (E + N, K)."""
        n = graphs.num_nodes_of(nodes)
        wh = tf.matmul(nodes, tf.cast(self.kernel, nodes.dtype))
        wh = tf.reshape(wh, [-1, self.heads, self.units])  # (N, K, D)
        full = graphs.add_self_loops(edges, n)
        senders, receivers = full[0], full[1]
        to_i = tf.reduce_sum(wh * tf.cast(self.attn_receiver, wh.dtype), -1)
        from_j = tf.reduce_sum(wh * tf.cast(self.attn_sender, wh.dtype), -1)
        e = tf.gather(to_i, receivers) + tf.gather(from_j, senders)  # (E, K)
        e = tf.nn.leaky_relu(e, alpha=self.negative_slope)
        alpha = graphs.segment_softmax(e, receivers, n)
        return wh, full, alpha

    def attention(self, nodes, edges):
        """(edges of A + I (2, E + N), alpha (E + N, K)): alpha[k, h] is
        head h's weight on edge k; each receiver's weights sum to 1."""
        if not self.built:
            self.build(nodes.shape)
        _, full, alpha = self._scores(tf.convert_to_tensor(nodes), edges)
        return full, alpha

    def call(self, nodes, edges, training=None):
        wh, full, alpha = self._scores(nodes, edges)
        alpha = self.dropout(alpha, training=training)
        messages = tf.gather(wh, full[0]) * alpha[:, :, None]  # (E, K, D)
        out = tf.math.unsorted_segment_sum(
            messages, full[1], graphs.num_nodes_of(nodes)
        )  # (N, K, D)
        if self.concat_heads:
            out = tf.reshape(out, [-1, self.heads * self.units])
        else:
            out = tf.reduce_mean(out, axis=1)
        if self.bias is not None:
            out = out + tf.cast(self.bias, out.dtype)
        return self.activation(out)

    def compute_output_shape(self, nodes_shape, edges_shape=None):
        width = self.heads * self.units if self.concat_heads else self.units
        return (nodes_shape[0], width)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            heads=self.heads,
            concat_heads=self.concat_heads,
            activation=keras.activations.serialize(self.activation),
            negative_slope=self.negative_slope,
            attention_dropout=self.attention_dropout,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer
            ),
            seed=self.seed,
        )
        return config
