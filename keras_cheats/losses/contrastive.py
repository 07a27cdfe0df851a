"""Contrastive loss, cheat sheet 4.10, for Siamese networks (Hadsell, Chopra
and LeCun 2006). New code: Keras has no contrastive loss.

Label convention: y = 1 for a SIMILAR pair, y = 0 for a DISSIMILAR pair, as
in the cheat sheet and TensorFlow Addons' `contrastive_loss`. Some Keras
examples use the opposite (1 = dissimilar); convert with 1 - y.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import (
    DtypeInConfig,
    safe_sqrt,
    to_float32,
)

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def pair_distance(a, b, squared=False):
    """Euclidean distance between paired rows of two embedding batches.

    ||a_i - b_i||_2, with a gradient of 0 (not inf) when a_i = b_i.

    Args:
        a, b: embeddings f(x^a), f(x^b), shape (N, D).
        squared: return ||a_i - b_i||^2 instead.

    Returns:
        float32 tensor of shape (N,), the `y_pred` of `contrastive_loss`.

    >>> float(pair_distance([[0.0, 0.0]], [[3.0, 4.0]])[0])
    5.0
    """
    d2 = ops.sum(ops.square(to_float32(a) - to_float32(b)), axis=-1)
    return d2 if squared else safe_sqrt(d2)


def contrastive_loss(y_true, y_pred, margin=1.0):
    """Contrastive loss, one value per pair.

    Cheat sheet 4.10, with d_i = ||f(x_i^a) - f(x_i^b)||_2:

        L = 1/(2N) sum_i  y_i d_i^2 + (1 - y_i) max(0, m - d_i)^2

    Each pair gets 1/2 [y d^2 + (1 - y) max(0, m - d)^2], so the default
    reduction (mean over the batch) gives the cheat sheet's 1/(2N) sum.
    TFA's `contrastive_loss` has no 1/2: it is twice this value.

    Args:
        y_true: 1 for similar pairs, 0 for dissimilar, shape (N,) or (N, 1).
        y_pred: pair distances d (see `pair_distance`), shape (N,) or (N, 1).
        margin: m >= 0; dissimilar pairs farther than m cost nothing.

    Returns:
        float32 tensor of shape (N,) (a trailing axis of y_pred is
        averaged away, as Keras losses do).

    Example (similar at 0.5: 0.5^2 / 2; dissimilar at 0.3: 0.7^2 / 2):

    >>> values = contrastive_loss([1, 0], [0.5, 0.3], margin=1.0)
    >>> [round(float(v), 4) for v in values]
    [0.125, 0.245]
    """
    margin = checks.interval("margin", margin, 0.0)
    d = to_float32(y_pred)
    y = ops.reshape(to_float32(y_true), ops.shape(d))
    per_pair = 0.5 * (
        y * ops.square(d) + (1.0 - y) * ops.square(ops.relu(margin - d))
    )
    return ops.mean(per_pair, axis=-1) if len(d.shape) > 1 else per_pair


@_register
class ContrastiveLoss(DtypeInConfig, keras.losses.Loss):
    """Contrastive loss, cheat sheet 4.10; see `contrastive_loss`.

    `y_true`: 1 = similar pair, 0 = dissimilar pair. `y_pred`: the pair
    distance, e.g. `pair_distance(f(x_a), f(x_b))`.

    Args:
        margin: m >= 0.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> round(float(ContrastiveLoss(1.0)([1, 0], [0.5, 0.3])), 4)
    0.185
    """

    def __init__(
        self,
        margin=1.0,
        reduction="sum_over_batch_size",
        name="contrastive_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.margin = checks.interval("margin", margin, 0.0)

    def call(self, y_true, y_pred):
        return contrastive_loss(y_true, y_pred, self.margin)

    def get_config(self):
        config = super().get_config()
        config["margin"] = self.margin
        return config
