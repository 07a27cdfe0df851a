"""Capsule length as class probability (Cheat sheet 7.3.2).

The length of an output capsule, ||v_j||, is the probability that the
entity it stands for (a digit class) is present; squash keeps it in [0, 1).
"""

import keras

from keras_cheats.layers.squash import safe_norm


@keras.saving.register_keras_serializable(package="keras_cheats")
class Length(keras.layers.Layer):
    """Length of each capsule, ||v_j|| (Cheat sheet 7.3.2).

    ||v_j|| = sqrt(sum_d v_jd^2), with value and gradient 0 at v_j = 0.

    Call:
        inputs: capsules (B, N, D).

    Returns:
        lengths (B, N).
    """

    def call(self, inputs):
        return safe_norm(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])
