"""Knowledge distillation loss, cheat sheet 10.3 (Hinton et al. 2015).

    L = alpha CE(y, softmax(z_s))
        + (1 - alpha) T^2 KL(softmax(z_t / T) || softmax(z_s / T))

z_s are the student's logits, z_t the teacher's, T the temperature. The
T^2 keeps the soft term's gradient the same size as T changes (the soft
gradients scale as 1 / T^2).
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def _check(alpha, temperature):
    alpha = checks.interval("alpha", alpha, 0.0, 1.0)
    temperature = checks.interval(
        "temperature", temperature, 0.0, low_open=True
    )
    return alpha, temperature


def distillation_loss(
    y_true, y_pred, teacher_logits, alpha=0.1, temperature=4.0
):
    """Distillation loss per example, from logits.

        L = alpha CE(y, softmax(z_s))
            + (1 - alpha) T^2 KL(softmax(z_t / T) || softmax(z_s / T))

    Cheat sheet 10.3 (compression: distillation).

    Args:
        y_true: integer labels, shape (batch,) or (batch, 1).
        y_pred: the student's logits z_s, shape (batch, C).
        teacher_logits: the teacher's logits z_t, shape (batch, C).
        alpha: weight of the hard-label cross-entropy, in [0, 1].
        temperature: T > 0; larger T softens both distributions.

    Returns:
        float32 tensor of shape (batch,).

    Example (label 0, z_s = (0, 0), z_t = (2, 0), T = 2, alpha = 0.5:
    0.5 log 2 + 0.5 * 4 * KL((0.731, 0.269) || (0.5, 0.5))):

    >>> z_s, z_t = [[0.0, 0.0]], [[2.0, 0.0]]
    >>> round(float(distillation_loss([0], z_s, z_t, 0.5, 2.0)[0]), 4)
    0.5685
    """
    alpha, temperature = _check(alpha, temperature)
    y_pred = to_float32(y_pred)
    teacher_logits = to_float32(teacher_logits)
    labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    hard = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
    # KL(p_t || p_s) = sum_k p_t,k (log p_t,k - log p_s,k), in log space.
    log_p_t = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_p_s = ops.log_softmax(y_pred / temperature, axis=-1)
    kl = ops.sum(ops.exp(log_p_t) * (log_p_t - log_p_s), axis=-1)
    return alpha * hard + (1.0 - alpha) * temperature**2 * kl


@_register
class DistillationLoss(DtypeInConfig, keras.losses.Loss):
    """Distillation loss, cheat sheet 10.3; see `distillation_loss`.

    L = alpha CE(y, softmax(z_s)) + (1 - alpha) T^2 KL(p_t^T || p_s^T).
    A Keras loss sees only (y_true, y_pred), so `y_true` packs the label
    and the teacher's logits: shape (batch, 1 + C), column 0 the integer
    label, columns 1: the teacher's logits z_t (computed once before
    training: `ops.concatenate([labels[:, None], teacher(x)], axis=-1)`).
    `y_pred` is the student's logits, shape (batch, C).

    Args:
        alpha: weight of the hard-label cross-entropy, in [0, 1].
        temperature: T > 0.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> loss = DistillationLoss(alpha=0.5, temperature=2.0)
    >>> round(float(loss([[0.0, 2.0, 0.0]], [[0.0, 0.0]])), 4)
    0.5685
    """

    def __init__(
        self,
        alpha=0.1,
        temperature=4.0,
        reduction="sum_over_batch_size",
        name="distillation_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.temperature = _check(alpha, temperature)

    def call(self, y_true, y_pred):
        y_true = to_float32(y_true)
        return distillation_loss(
            y_true[:, 0],
            y_pred,
            y_true[:, 1:],
            self.alpha,
            self.temperature,
        )

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, temperature=self.temperature)
        return config
