"""Masking of all but one capsule before the decoder (Cheat sheet 7.3.2).

The reconstruction decoder sees only one capsule's vector; the others are
set to 0 (Sabour et al. 2017, section 4.1). In training the kept capsule is
the one of the true label; at inference, the longest capsule (the predicted
class).
"""

import keras
from keras import ops

from keras_cheats.layers.squash import safe_norm


@keras.saving.register_keras_serializable(package="keras_cheats")
class Mask(keras.layers.Layer):
    """Zero every capsule except the true (training) or longest one.

    Cheat sheet 7.3.2, decoder input: v_j * T_j with T the one-hot mask,
    T = label when training, T = one_hot(argmax_j ||v_j||) otherwise.

    Call:
        inputs: capsules v (B, N, D).
        label: one-hot (B, N) or None. Used only when `training` is True;
            with training=False (or None) it is ignored, so a model can be
            called at inference with any label, or with None.
        training: Keras' training flag.

    Returns:
        masked capsules (B, N, D).
    """

    def call(self, inputs, label=None, training=None):
        if training and label is not None:
            mask = ops.cast(label, inputs.dtype)  # (B, N)
        else:
            longest = ops.argmax(safe_norm(inputs, axis=-1), axis=-1)  # (B,)
            mask = ops.one_hot(longest, inputs.shape[1], dtype=inputs.dtype)
        return inputs * ops.expand_dims(mask, -1)  # (B, N, D)

    def compute_output_shape(self, inputs_shape, label_shape=None):
        return inputs_shape
