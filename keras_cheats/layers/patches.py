"""The tokens of a Vision Transformer (Cheat sheet 7.5.2; Dosovitskiy et
al. 2020, eq. 1):

    z_0 = [x_class; x_p^1 E; x_p^2 E; ...; x_p^N E] + E_pos

An (H, W, C) image is cut into N = (H / P)(W / P) patches of P x P
pixels, each flattened to x_p^i (P^2 C values) and projected by one
matrix E (P^2 C, D) to a D-dimensional token (`PatchEmbedding`); a
learned class token x_class may be put in front (`ClassToken`); a
learned position embedding E_pos, one D-vector per token, is added
(`PositionEmbedding`), since attention itself ignores token order.
"""

import keras
from keras import ops

from keras_cheats import checks


@keras.saving.register_keras_serializable(package="keras_cheats")
class PatchEmbedding(keras.layers.Layer):
    """Non-overlapping P x P patches, each projected to D values.

        tokens[b, i] = flatten(patch_i(images[b])) E + bias    (B, N, D)

    computed as a P x P convolution with stride P: its kernel (P, P, C, D)
    is E (P^2 C, D) with rows in (row, column, channel) order. Patches run
    row by row: token i = r * (W / P) + c is the patch at row r, column c.

    Args:
        patch_size: P, an int >= 1 dividing the image height and width.
        dim: D, the token width, an int >= 1.

    Call: images (B, H, W, C) -> tokens (B, N, D), N = (H / P)(W / P).
    """

    def __init__(self, patch_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = checks.positive_int("patch_size", patch_size)
        self.dim = checks.positive_int("dim", dim)
        self.projection = keras.layers.Conv2D(
            dim, patch_size, strides=patch_size, name="projection"
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"PatchEmbedding takes images (B, H, W, C); received input "
                f"shape {tuple(input_shape)}."
            )
        _, height, width, _ = input_shape
        for name, size in (("height", height), ("width", width)):
            if size is None or size % self.patch_size:
                raise ValueError(
                    f"`patch_size` must divide the image {name}; received "
                    f"patch_size={self.patch_size} for images of shape "
                    f"{tuple(input_shape[1:])}."
                )
        self.projection.build(input_shape)

    def call(self, images):
        grid = self.projection(images)  # (B, H/P, W/P, D)
        return ops.reshape(grid, (-1, grid.shape[1] * grid.shape[2], self.dim))

    def compute_output_shape(self, input_shape):
        _, height, width, _ = input_shape
        n = (height // self.patch_size) * (width // self.patch_size)
        return (input_shape[0], n, self.dim)

    def get_config(self):
        config = super().get_config()
        config.update(patch_size=self.patch_size, dim=self.dim)
        return config


@keras.saving.register_keras_serializable(package="keras_cheats")
class ClassToken(keras.layers.Layer):
    """Puts one learned token x_class in front of every sequence.

        out[b] = [x_class; tokens[b]]                 (B, N + 1, D)

    Its final state is what the "cls" head of a ViT classifies. Initialized
    to zeros (as in the paper's code).

    Call: tokens (B, N, D) -> (B, N + 1, D).
    """

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]),
            initializer="zeros",
            name="class_token",
        )

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        token = ops.cast(self.token, tokens.dtype)
        first = ops.broadcast_to(token, (batch, 1, tokens.shape[-1]))
        return ops.concatenate([first, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        n = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], n, input_shape[2])


@keras.saving.register_keras_serializable(package="keras_cheats")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned D-vector per position: out = tokens + E_pos.

    E_pos (1, N, D) is drawn from N(0, 0.02^2) (as in the paper's code).

    Call: tokens (B, N, D) -> (B, N, D); N is fixed when the layer builds.
    """

    def build(self, input_shape):
        if input_shape[1] is None:
            raise ValueError(
                "PositionEmbedding needs a known number of tokens; received "
                f"input shape {tuple(input_shape)}."
            )
        self.embedding = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="position_embedding",
        )

    def call(self, tokens):
        return tokens + ops.cast(self.embedding, tokens.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
