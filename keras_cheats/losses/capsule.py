"""Margin loss of capsule networks (Sabour, Frosst and Hinton, 2017).

The cheat sheet describes CapsNets in 7.3.2 but gives no formula for their
loss; this is the paper's equation (4). Keras has no margin loss, so this is
new code.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import (
    DtypeInConfig,
    to_float32,
)


def _check_margins(m_plus, m_minus, down_weight):
    m_plus = checks.interval("m_plus", m_plus, 0.0, 1.0)
    m_minus = checks.interval("m_minus", m_minus, 0.0, 1.0)
    down_weight = checks.interval("down_weight", down_weight, 0.0)
    if m_minus > m_plus:
        raise ValueError(
            "`m_minus` must not exceed `m_plus`; received "
            f"m_plus={m_plus!r}, m_minus={m_minus!r}."
        )
    return m_plus, m_minus, down_weight


def margin_loss(y_true, y_pred, m_plus=0.9, m_minus=0.1, down_weight=0.5):
    """Capsule-network margin loss, one value per sample.

    Sabour et al. 2017, eq. (4), summed over the K classes:

        L = sum_k  T_k max(0, m+ - ||v_k||)^2
                 + lambda (1 - T_k) max(0, ||v_k|| - m-)^2

    where T_k = 1 iff class k is present and ||v_k|| is the length of the
    class-k output capsule (its predicted probability of being present).
    Several classes may be present at once (multi-hot `y_true`).

    Args:
        y_true: one-hot (or multi-hot) labels T, shape (batch, K).
        y_pred: capsule lengths ||v_k|| in [0, 1], shape (batch, K). Take
            the norm of the DigitCaps vectors (batch, K, D) over the last
            axis before calling.
        m_plus: m+, a present class is penalised below this length.
        m_minus: m-, an absent class is penalised above this length.
        down_weight: lambda, the weight of the absent-class term.

    Returns:
        float32 tensor of shape (batch,).

    Example (class 1 present with length 0.8, absent class 0 with 0.3:
    (0.9 - 0.8)^2 + 0.5 (0.3 - 0.1)^2 = 0.01 + 0.02):

    >>> round(float(margin_loss([[0.0, 1.0]], [[0.3, 0.8]])[0]), 4)
    0.03
    """
    m_plus, m_minus, down_weight = _check_margins(m_plus, m_minus, down_weight)
    y_true = to_float32(y_true)
    lengths = to_float32(y_pred)
    present = y_true * ops.square(ops.relu(m_plus - lengths))
    absent = (1.0 - y_true) * ops.square(ops.relu(lengths - m_minus))
    return ops.sum(present + down_weight * absent, axis=-1)


@keras.saving.register_keras_serializable(package="keras_cheats")
class MarginLoss(DtypeInConfig, keras.losses.Loss):
    """Capsule-network margin loss (Sabour et al. 2017); see `margin_loss`.

    `y_true` is one-hot (batch, K), `y_pred` the capsule lengths (batch, K).

    >>> loss = MarginLoss(m_plus=0.9, m_minus=0.1, down_weight=0.5)
    >>> round(float(loss([[0.0, 1.0]], [[0.3, 0.8]])), 4)
    0.03
    """

    def __init__(
        self,
        m_plus=0.9,
        m_minus=0.1,
        down_weight=0.5,
        reduction="sum_over_batch_size",
        name="margin_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.m_plus, self.m_minus, self.down_weight = _check_margins(
            m_plus, m_minus, down_weight
        )

    def call(self, y_true, y_pred):
        return margin_loss(
            y_true, y_pred, self.m_plus, self.m_minus, self.down_weight
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            m_plus=self.m_plus,
            m_minus=self.m_minus,
            down_weight=self.down_weight,
        )
        return config
