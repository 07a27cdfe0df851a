"""NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR
(Chen et al. 2020), cheat sheet 7.10 (self-supervised learning).

Each image is augmented twice; the two views are a positive pair and the
other 2N - 2 views of the batch are its negatives. New code: Keras has no
contrastive loss over a batch of pairs.

Under a `tf.distribute` strategy the negatives are the views of the
*local replica's* batch, unless the caller gathers the projections of every
replica first (`tf.distribute.get_replica_context().all_gather(z, axis=0)`)
and keeps the values of its own rows, as `experiments.simclr` does.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def _check_temperature(temperature):
    return checks.interval("temperature", temperature, 0.0, low_open=True)


def nt_xent(y_true, y_pred, temperature=0.5):
    """NT-Xent loss of SimCLR, one value per positive pair.

    Cheat sheet 7.10. The 2N projections z_1..z_2N (two views of N
    images; view a of image i is row i, view b is row N + i) give

        sim(u, v) = u.v / (||u|| ||v||)
        l(i, j)   = -log( exp(sim(z_i, z_j) / tau)
                          / sum_{k != i} exp(sim(z_i, z_k) / tau) )

    and pair n = (i, j) gets 1/2 [l(i, j) + l(j, i)], so the mean over the
    batch is SimCLR's 1/(2N) sum over all 2N anchors. The loss depends on
    the whole batch (the negatives), not on each row alone, and it is
    invariant to the scale of each z (cosine similarity).

    Distributed training: the negatives are those of the batch passed in.
    Inside `strategy.run` that is the local replica's share unless the
    projections were first gathered with `ctx.all_gather(z, axis=0)`.

    Args:
        y_true: ignored (self-supervised: the pairing is the layout of
            `y_pred`); pass None or anything.
        y_pred: projections of shape (N, 2, d): y_pred[n, 0] and
            y_pred[n, 1] are the two views of image n. N >= 1.
        temperature: tau > 0; smaller values weigh the hardest negatives
            more.

    Returns:
        float32 tensor of shape (N,): the loss of each positive pair.

    Example (tau = 1. Pair 0: both views (1, 0); pair 1: views (0, 1) and
    (0, -1). Each view of pair 0 sees its positive at similarity 1 and two
    negatives at 0: log(1 + 2 / e); each view of pair 1 sees its positive
    at -1 and two negatives at 0: log(1 + 2 e)):

    >>> z = [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, -1.0]]]
    >>> [round(float(v), 4) for v in nt_xent(None, z, temperature=1.0)]
    [0.5514, 1.862]
    """
    del y_true
    temperature = _check_temperature(temperature)
    z = to_float32(y_pred)
    if len(z.shape) != 3 or z.shape[1] != 2:
        raise ValueError(
            "`y_pred` must have shape (N, 2, d): two views per image; "
            f"received shape {tuple(z.shape)}."
        )
    z = ops.normalize(z, axis=-1)  # z / ||z||: cosine similarity
    n = ops.shape(z)[0]
    both = ops.concatenate([z[:, 0], z[:, 1]], axis=0)  # (2N, d)
    logits = ops.matmul(both, ops.transpose(both)) / temperature  # (2N, 2N)
    self_pair = ops.eye(2 * n, dtype="bool")
    logits = ops.where(self_pair, float("-inf"), logits)  # k != i
    log_norm = ops.logsumexp(logits, axis=1)  # (2N,)
    positive = ops.sum(z[:, 0] * z[:, 1], axis=-1) / temperature  # (N,)
    # l(i, j) = log_norm_i - sim(z_i, z_j) / tau, for both directions.
    return 0.5 * (log_norm[:n] + log_norm[n:]) - positive


@_register
class NTXent(DtypeInConfig, keras.losses.Loss):
    """NT-Xent of SimCLR, cheat sheet 7.10; see `nt_xent`.

    l(i, j) = -log(exp(sim(z_i, z_j) / tau)
                   / sum_{k != i} exp(sim(z_i, z_k) / tau)),
    averaged over both directions of each pair and over the batch.
    `y_pred`: (N, 2, d) projections, two views per image; `y_true` is
    ignored (pass zeros of shape (N,)).

    Args:
        temperature: tau > 0.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> z = [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, -1.0]]]
    >>> round(float(NTXent(temperature=1.0)([0.0, 0.0], z)), 4)
    1.2067
    """

    def __init__(
        self,
        temperature=0.5,
        reduction="sum_over_batch_size",
        name="nt_xent",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = _check_temperature(temperature)

    def call(self, y_true, y_pred):
        return nt_xent(y_true, y_pred, self.temperature)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
