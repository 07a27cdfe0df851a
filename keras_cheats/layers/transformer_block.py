"""The pre-norm Transformer encoder block of the Vision Transformer
(Cheat sheet 7.5.2; Dosovitskiy et al. 2020, eqs. 2-3):

    z' = z + MSA(LN(z))
    z'' = z' + MLP(LN(z'))          MLP(u) = GELU(u W_1 + b_1) W_2 + b_2

MSA is multi-head self-attention: each of h heads runs scaled dot-product
attention (`keras_cheats.layers.attention`) on its own D/h-wide
projections of the tokens, and the heads' outputs are concatenated and
projected back to D (`keras.layers.MultiHeadAttention`). Normalizing
before each sub-layer ("pre-norm") keeps the residual path an identity,
which trains without the learning-rate warm-up tricks post-norm needs.
"""

import keras

from keras_cheats import checks


@keras.saving.register_keras_serializable(package="keras_cheats")
class TransformerBlock(keras.layers.Layer):
    """LN -> multi-head self-attention -> residual; LN -> MLP -> residual.

    Args:
        heads: h, the number of attention heads; must divide the token
            width D (each head is D / h wide).
        mlp_dim: the hidden width of the MLP (GELU).
        dropout: rate in [0, 1) after the attention output and after each
            MLP layer (training only).

    Call: tokens (B, N, D) -> (B, N, D); with `return_attention_scores=
    True`, (tokens, weights) with weights (B, h, N, N): row t of head k is
    how much token t attends to each token (rows sum to 1).
    """

    def __init__(self, heads, mlp_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.heads = checks.positive_int("heads", heads)
        self.mlp_dim = checks.positive_int("mlp_dim", mlp_dim)
        self.dropout = checks.rate("dropout", dropout)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.drop = keras.layers.Dropout(self.dropout)
        self.attention = None  # made in build, once D is known
        self.hidden = keras.layers.Dense(
            mlp_dim, activation="gelu", name="mlp_hidden"
        )
        self.out = None

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.heads:
            raise ValueError(
                f"`heads` must divide the token width; received heads="
                f"{self.heads} for tokens of width {dim}."
            )
        self.attention = keras.layers.MultiHeadAttention(
            self.heads, dim // self.heads, name="attention"
        )
        self.out = keras.layers.Dense(dim, name="mlp_out")
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.hidden.build(input_shape)
        self.out.build((*input_shape[:-1], self.mlp_dim))

    def call(self, tokens, training=None, return_attention_scores=False):
        u = self.norm1(tokens)
        attended = self.attention(
            u,
            u,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            attended, weights = attended
        z = tokens + self.drop(attended, training=training)
        h = self.drop(self.hidden(self.norm2(z)), training=training)
        z = z + self.drop(self.out(h), training=training)
        return (z, weights) if return_attention_scores else z

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            heads=self.heads, mlp_dim=self.mlp_dim, dropout=self.dropout
        )
        return config
