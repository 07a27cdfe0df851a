"""Squash non-linearity of capsule networks (Cheat sheet 7.3.2).

The cheat sheet (and Sabour, Frosst and Hinton 2017, eq. 1) writes

    v_j = ||s_j||^2 / (1 + ||s_j||^2) * s_j / ||s_j||

which shrinks a vector s_j to a length in [0, 1) and keeps its direction.
The cheat sheet calls the outputs "unit-length vectors"; they are not: their
length ||s||^2 / (1 + ||s||^2) is strictly below 1 (see ERRATA.md).

Dividing by ||s_j|| is 0/0 at s_j = 0, and the gradient of ||s|| is NaN there.
The code uses the equal form v = s * ||s|| / (1 + ||s||^2) with a norm whose
value and gradient are both 0 at the zero vector (`safe_norm`), so squash(0)
is exactly 0 with gradient 0, which is the true derivative at 0.
"""

import keras
from keras import ops


def safe_norm(s, axis=-1, keepdims=False):
    """Euclidean length ||s|| with value 0 and gradient 0 at s = 0.

    Cheat sheet 7.3.2: the capsule length, ||s|| = sqrt(sum_d s_d^2).

    Plain sqrt has an infinite derivative at 0, which turns into NaN once
    multiplied by the zero derivative of sum(s^2). The "double where" below
    feeds sqrt a 1 wherever the squared length is 0, so no NaN is created,
    then selects 0 there.

    Args:
        s: tensor (..., D).
        axis: the axis holding the vector components.
        keepdims: keep `axis` with size 1.

    Returns:
        tensor (...,) of lengths, or (..., 1) with keepdims=True.
    """
    squared = ops.sum(ops.square(s), axis=axis, keepdims=keepdims)
    positive = squared > 0
    safe_squared = ops.where(positive, squared, ops.ones_like(squared))
    return ops.where(positive, ops.sqrt(safe_squared), ops.zeros_like(squared))


def squash(s, axis=-1):
    """Squash each vector to a length in [0, 1), keeping its direction.

    Cheat sheet 7.3.2:
        v_j = ||s_j||^2 / (1 + ||s_j||^2) * s_j / ||s_j||
    computed as v_j = s_j * ||s_j|| / (1 + ||s_j||^2), which is the same
    for s_j != 0 and gives v_j = 0 (gradient 0) at s_j = 0.

    Args:
        s: tensor (..., D) of capsule input vectors s_j.
        axis: the axis holding the D components of each vector.

    Returns:
        tensor of the shape of `s`, each vector of length < 1.
    """
    norm = safe_norm(s, axis=axis, keepdims=True)  # (..., 1)
    return s * (norm / (1.0 + ops.square(norm)))


@keras.saving.register_keras_serializable(package="keras_cheats")
class Squash(keras.layers.Layer):
    """Layer form of `squash` (Cheat sheet 7.3.2).

    v_j = ||s_j||^2 / (1 + ||s_j||^2) * s_j / ||s_j||

    Args:
        axis: the axis holding the vector components (default -1).

    Call returns a tensor of the input's shape.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"`axis` must be an int; received axis={axis!r}.")
        self.axis = axis

    def call(self, inputs):
        return squash(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis)
        return config
