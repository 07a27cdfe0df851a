"""Triplet loss, cheat sheet 4.9, with online mining. New code: Keras has no
triplet loss (TensorFlow Addons had one and is retired).

    L_Triplet = sum_i [ ||f(x_i^a) - f(x_i^p)||_2^2
                        - ||f(x_i^a) - f(x_i^n)||_2^2 + alpha ]_+

`triplet` is that formula for explicit (anchor, positive, negative)
batches. `TripletLoss` takes a batch of embeddings and integer labels and
mines the triplets inside the batch:

- "batch_hard" (Hermans et al. 2017, TFA `triplet_hard_loss`): per anchor,
  the farthest positive and the closest negative;
  [d(a, p*) - d(a, n*) + margin]_+, averaged over the anchors.
- "semi_hard" (Schroff et al. 2015, TFA `triplet_semihard_loss`): per
  anchor-positive pair, the closest negative farther than the positive
  (d(a, n) > d(a, p)); if there is none, the farthest negative.
  [d(a, p) - d(a, n) + margin]_+, averaged over the anchor-positive pairs.
- "batch_all" (Hermans et al. 2017, "BA != 0"): every valid triplet;
  [d(a, p) - d(a, n) + margin]_+ summed and divided by the number of
  triplets with a positive loss (0 when there are none).

Per-sample values (the Keras contract). The mined loss is returned per
anchor, shape (batch,), scaled so that the default reduction
("sum_over_batch_size", the mean over the batch) gives exactly the batch
loss defined above, which is TFA's for "batch_hard" and "semi_hard":

- batch_hard: anchor a gives [d(a, p*) - d(a, n*) + margin]_+, or 0 when
  it has no positive or no negative; the mean counts those zeros (TFA
  instead gives an anchor without positive [margin - d(a, n*)]_+).
- semi_hard: anchor a gives B / P * sum_p loss(a, p), P the number of
  anchor-positive pairs in the batch;
- batch_all: anchor a gives B / T * sum_{p, n} loss(a, p, n), T the number
  of triplets with a positive loss.

An anchor with no negative in the batch (a one-class batch) gives 0 in
every mining. So `reduction="sum"` gives B times the batch loss, and a
sample weight w_a weights anchor a's pairs/triplets.

Memory: semi_hard and batch_all build a (B, B, B) tensor.
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

MININGS = ("batch_all", "batch_hard", "semi_hard")
DISTANCES = ("squared_euclidean", "euclidean", "cosine")


def triplet(anchor, positive, negative, margin=1.0):
    """Triplet loss of explicit triplets, exactly as the cheat sheet writes
    it (squared Euclidean distances, no mining).

    Cheat sheet 4.9, one term per triplet:

        [ ||a_i - p_i||_2^2 - ||a_i - n_i||_2^2 + alpha ]_+

    The cheat sheet sums the terms; the default Keras reduction would
    average them. `reduce_sum` the result for the cheat sheet's total.

    Args:
        anchor, positive, negative: embeddings f(x), shape (N, D).
        margin: alpha >= 0.

    Returns:
        float32 tensor of shape (N,).

    Example (||(1, 1)||^2 - ||(1, 0)||^2 + 0.5 = 2 - 1 + 0.5):

    >>> float(triplet([[0.0, 0.0]], [[1.0, 1.0]], [[1.0, 0.0]], 0.5)[0])
    1.5
    """
    margin = checks.interval("margin", margin, 0.0)
    anchor = to_float32(anchor)
    d_ap = ops.sum(ops.square(anchor - to_float32(positive)), axis=-1)
    d_an = ops.sum(ops.square(anchor - to_float32(negative)), axis=-1)
    return ops.relu(d_ap - d_an + margin)


def pairwise_distances(embeddings, distance="squared_euclidean"):
    """All distances between the rows of a batch of embeddings.

    - "squared_euclidean": ||x_i - x_j||^2 (the cheat sheet's), from
      ||x_i||^2 - 2 x_i.x_j + ||x_j||^2, clamped at 0;
    - "euclidean": its square root, with a gradient of 0 (not inf) at
      distance 0, e.g. for identical embeddings;
    - "cosine": 1 - cos(x_i, x_j); a zero vector is at distance 1 from all.

    The diagonal is exactly 0.

    Args:
        embeddings: shape (B, D).
        distance: one of "squared_euclidean", "euclidean", "cosine".

    Returns:
        float32 tensor of shape (B, B).

    >>> d = pairwise_distances([[0.0, 0.0], [3.0, 4.0]], "euclidean")
    >>> float(d[0, 1])
    5.0
    """
    checks.choice("distance", distance, DISTANCES)
    x = to_float32(embeddings)
    index = ops.arange(ops.shape(x)[0])
    off_diagonal = ops.cast(index[:, None] != index[None, :], "float32")
    if distance == "cosine":
        norm2 = ops.sum(ops.square(x), axis=-1, keepdims=True)
        unit = x * ops.rsqrt(ops.maximum(norm2, 1e-12))
        d = 1.0 - ops.matmul(unit, ops.transpose(unit))
        return ops.maximum(d, 0.0) * off_diagonal
    norm2 = ops.sum(ops.square(x), axis=-1)
    gram = ops.matmul(x, ops.transpose(x))
    d2 = norm2[:, None] - 2.0 * gram + norm2[None, :]
    # Rounding can leave tiny negatives, and ~1e-7 on the diagonal.
    d2 = ops.maximum(d2, 0.0) * off_diagonal
    return safe_sqrt(d2) if distance == "euclidean" else d2


def _masks(labels):
    """(B, B) booleans: positive pairs (same label, a != p) and negatives."""
    labels = ops.reshape(labels, (-1,))
    same = labels[:, None] == labels[None, :]
    index = ops.arange(ops.shape(labels)[0])
    not_self = index[:, None] != index[None, :]
    return ops.logical_and(same, not_self), ops.logical_not(same)


def _batch_hard(d, positive, negative, margin):
    # Hardest positive: the largest d(a, p); 0 where there is none.
    hardest_pos = ops.max(ops.where(positive, d, 0.0), axis=1)
    # Hardest negative: the smallest d(a, n); the row max fills non-negatives.
    row_max = ops.max(d, axis=1, keepdims=True)
    hardest_neg = ops.min(ops.where(negative, d, row_max), axis=1)
    valid = ops.logical_and(
        ops.any(positive, axis=1), ops.any(negative, axis=1)
    )
    loss = ops.relu(hardest_pos - hardest_neg + margin)
    return ops.where(valid, loss, 0.0)


def _semi_hard(d, positive, negative, margin):
    # Index [a, p, n]: d_ap (B, B, 1), d_an (B, 1, B).
    d_ap = d[:, :, None]
    d_an = d[:, None, :]
    # Semi-hard negatives of pair (a, p): negatives with d(a, n) > d(a, p).
    outside = ops.logical_and(negative[:, None, :], d_an > d_ap)
    has_outside = ops.any(outside, axis=2)  # (B, B)
    row_max = ops.max(d, axis=1)[:, None, None]  # a finite filler
    closest_outside = ops.min(ops.where(outside, d_an, row_max), axis=2)
    # Otherwise the farthest negative (distances are >= 0, so 0 fills).
    farthest = ops.max(ops.where(negative, d, 0.0), axis=1)[:, None]
    d_neg = ops.where(has_outside, closest_outside, farthest)  # (B, B)
    has_negative = ops.any(negative, axis=1)[:, None]
    valid = ops.logical_and(positive, has_negative)
    pair_loss = ops.where(valid, ops.relu(d - d_neg + margin), 0.0)
    # Mean over the batch of the per-anchor values = mean over the pairs.
    n_pairs = ops.sum(ops.cast(positive, "float32"))
    batch = ops.cast(ops.shape(d)[0], "float32")
    return ops.divide_no_nan(ops.sum(pair_loss, axis=1) * batch, n_pairs)


def _batch_all(d, positive, negative, margin):
    # Every triplet [a, p, n] with p a positive and n a negative of a.
    valid = ops.logical_and(positive[:, :, None], negative[:, None, :])
    loss = ops.relu(d[:, :, None] - d[:, None, :] + margin)
    loss = ops.where(valid, loss, 0.0)
    # Average over the triplets with a positive loss ("BA != 0").
    n_active = ops.sum(ops.cast(loss > 0.0, "float32"))
    batch = ops.cast(ops.shape(d)[0], "float32")
    return ops.divide_no_nan(ops.sum(loss, axis=(1, 2)) * batch, n_active)


_MINERS = {
    "batch_all": _batch_all,
    "batch_hard": _batch_hard,
    "semi_hard": _semi_hard,
}


def triplet_loss(
    y_true,
    y_pred,
    margin=1.0,
    mining="semi_hard",
    distance="squared_euclidean",
):
    """Triplet loss with online mining, one value per anchor.

    Cheat sheet 4.9, [d(a, p) - d(a, n) + alpha]_+ over the triplets that
    `mining` picks inside the batch; see the module docstring for the
    three minings and for how the per-anchor values average to the batch
    loss.

    Args:
        y_true: integer class labels, shape (B,) or (B, 1).
        y_pred: embeddings, shape (B, D).
        margin: alpha >= 0.
        mining: "semi_hard", "batch_hard" or "batch_all".
        distance: "squared_euclidean" (the cheat sheet's), "euclidean" or
            "cosine".

    Returns:
        float32 tensor of shape (B,) whose mean is the batch loss.

    Example (1-D embeddings 0, 2, 3 with labels 0, 0, 1, squared
    distances d01 = 4, d02 = 9, d12 = 1, margin 1: only anchor 1 with
    positive 0 and negative 2 is violated, by 4 - 1 + 1 = 4; it is 1 of 3
    anchors, 1 of 2 pairs and the one active triplet):

    >>> labels, x = [0, 0, 1], [[0.0], [2.0], [3.0]]
    >>> for mining in ("batch_hard", "semi_hard", "batch_all"):
    ...     values = triplet_loss(labels, x, 1.0, mining)
    ...     print(mining, [round(float(v), 4) for v in values])
    batch_hard [0.0, 4.0, 0.0]
    semi_hard [0.0, 6.0, 0.0]
    batch_all [0.0, 12.0, 0.0]
    """
    margin = checks.interval("margin", margin, 0.0)
    checks.choice("mining", mining, MININGS)
    d = pairwise_distances(y_pred, distance)
    positive, negative = _masks(ops.convert_to_tensor(y_true))
    return _MINERS[mining](d, positive, negative, margin)


@_register
class TripletLoss(DtypeInConfig, keras.losses.Loss):
    """Triplet loss with online mining, cheat sheet 4.9; see `triplet_loss`
    and the module docstring.

    The class always mines triplets inside the batch; the cheat sheet's
    formula over given (anchor, positive, negative) triplets, without
    mining, is the function `triplet`.

    `y_true` holds integer labels (B,), `y_pred` the embeddings (B, D).
    Batches should hold several samples of each class (e.g. P classes x K
    samples); an anchor with no positive or no negative in its batch adds
    nothing.

    Args:
        margin: alpha >= 0 (TFA's default, 1.0).
        mining: "semi_hard" (default, FaceNet), "batch_hard" or "batch_all".
        distance: "squared_euclidean" (default, the cheat sheet's),
            "euclidean" (TFA's default) or "cosine".
        reduction, name, dtype: as `keras.losses.Loss`.

    With the default reduction the value is the batch loss (mean over
    anchors, pairs or active triplets):

    >>> loss = TripletLoss(margin=1.0, mining="semi_hard")
    >>> round(float(loss([0, 0, 1], [[0.0], [2.0], [3.0]])), 4)
    2.0
    """

    def __init__(
        self,
        margin=1.0,
        mining="semi_hard",
        distance="squared_euclidean",
        reduction="sum_over_batch_size",
        name="triplet_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.margin = checks.interval("margin", margin, 0.0)
        self.mining = checks.choice("mining", mining, MININGS)
        self.distance = checks.choice("distance", distance, DISTANCES)

    def call(self, y_true, y_pred):
        return triplet_loss(
            y_true, y_pred, self.margin, self.mining, self.distance
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            margin=self.margin, mining=self.mining, distance=self.distance
        )
        return config
