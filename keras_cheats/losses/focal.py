"""Focal loss, cheat sheet 4.11 (Lin et al. 2017), binary and categorical.

    L_Focal = - sum_i alpha (1 - yhat_i)^gamma y_i log(yhat_i)

Probabilities go to Keras' focal losses; logits go to new code here, because
Keras' `from_logits=True` path first turns logits into probabilities:

- binary: `keras.losses.binary_focal_crossentropy(from_logits=True)` gets a
  finite value for logits of +-1e4 but a NaN gradient when gamma < 1 (the
  derivative of (1 - p_t)^gamma at 1 - p_t = 0, e.g. 0 * inf for gamma = 0);
- categorical: `keras.losses.categorical_focal_crossentropy` clips the
  softmax to [1e-7, 1 - 1e-7], so a confidently wrong logit costs at most
  -log(1e-7) = 16.1 and gets a zero gradient.

The logits versions take log p from the logits (log-sigmoid / log-softmax,
exact for any logit) and floor the base of (1 - p)^gamma at 1e-7, so value
and gradient are finite for logits of +-1e4 and any gamma >= 0.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import (
    DtypeInConfig,
    to_float32,
)

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def _check_alpha_gamma(alpha, gamma, allow_list=False):
    if allow_list and isinstance(alpha, (list, tuple)):
        alpha = [checks.interval("alpha", a, 0.0, 1.0) for a in alpha]
    else:
        alpha = checks.interval("alpha", alpha, 0.0, 1.0)
    gamma = checks.interval("gamma", gamma, 0.0)
    return alpha, gamma


def _check_from_logits(from_logits):
    if not isinstance(from_logits, bool):
        raise ValueError(
            "`from_logits` must be True or False; received "
            f"from_logits={from_logits!r}."
        )
    return from_logits


def focal_loss(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, axis=-1
):
    """Binary focal loss with alpha_t balancing, mean over the last axis.

    Cheat sheet 4.11 for the two classes {1, 0} (y_1 = y, yhat_1 = p and
    y_0 = 1 - y, yhat_0 = 1 - p), with alpha for class 1 and 1 - alpha for
    class 0 as in Lin et al.:

        L_Focal = - alpha_t (1 - p_t)^gamma log(p_t)
        p_t = p if y = 1 else 1 - p,  alpha_t = alpha if y = 1 else 1 - alpha

    This is `keras.losses.binary_focal_crossentropy` with
    `apply_class_balancing=True`: Keras applies no alpha at all by default.
    Probabilities are clipped to [1e-7, 1 - 1e-7] before the call so that
    exact 0 and 1 give a finite gradient for every gamma; logits use the
    log-space code of this module (see the module docstring).

    Args:
        y_true: labels in {0, 1}, shape (batch, ..., N).
        y_pred: probabilities of class 1, or logits with `from_logits`.
        alpha: weight of class 1 in [0, 1]; class 0 gets 1 - alpha.
        gamma: focusing parameter >= 0; 0 gives alpha-weighted BCE.
        from_logits: whether `y_pred` holds logits.
        axis: the axis averaged over.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (0.25 * 0.2^2 * -log 0.8 and 0.75 * 0.4^2 * -log 0.6, averaged):

    >>> round(float(focal_loss([[1.0, 0.0]], [[0.8, 0.4]])[0]), 4)
    0.0318
    """
    alpha, gamma = _check_alpha_gamma(alpha, gamma)
    _check_from_logits(from_logits)
    y_true = to_float32(y_true)
    y_pred = to_float32(y_pred)
    if not from_logits:
        eps = keras.config.epsilon()
        return keras.losses.binary_focal_crossentropy(
            y_true,
            ops.clip(y_pred, eps, 1.0 - eps),
            apply_class_balancing=True,
            alpha=alpha,
            gamma=gamma,
            axis=axis,
        )
    # -log p_t, exact for any logit (tf.nn.sigmoid_cross_entropy_with_logits).
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
    # 1 - p_t = y (1 - p) + (1 - y) p, with 1 - p = sigmoid(-z) computed
    # without cancellation; floored so that d/dx x^gamma stays finite.
    one_minus_pt = y_true * ops.sigmoid(-y_pred) + (1.0 - y_true) * (
        ops.sigmoid(y_pred)
    )
    focal = ops.power(ops.maximum(one_minus_pt, keras.config.epsilon()), gamma)
    alpha_t = y_true * alpha + (1.0 - y_true) * (1.0 - alpha)
    return ops.mean(alpha_t * focal * bce, axis=axis)


@_register
class FocalLoss(DtypeInConfig, keras.losses.Loss):
    """Binary focal loss, cheat sheet 4.11; see `focal_loss`.

    L_Focal = - alpha_t (1 - p_t)^gamma log(p_t). Keras'
    `BinaryFocalCrossentropy(apply_class_balancing=True)` for
    probabilities, log-space code for logits.

    Args:
        alpha: weight of class 1 in [0, 1]; class 0 gets 1 - alpha.
        gamma: focusing parameter >= 0.
        from_logits: whether `y_pred` holds logits.
        axis: the axis averaged over.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> round(float(FocalLoss(0.25, 2.0)([[1.0, 0.0]], [[0.8, 0.4]])), 4)
    0.0318
    """

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        axis=-1,
        reduction="sum_over_batch_size",
        name="focal_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.gamma = _check_alpha_gamma(alpha, gamma)
        self.from_logits = _check_from_logits(from_logits)
        self.axis = axis

    def call(self, y_true, y_pred):
        return focal_loss(
            y_true,
            y_pred,
            self.alpha,
            self.gamma,
            self.from_logits,
            self.axis,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            axis=self.axis,
        )
        return config


def categorical_focal_loss(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, axis=-1
):
    """Categorical focal loss, summed over the classes.

    Cheat sheet 4.11 with i over the C classes:

        L_Focal = - sum_i alpha (1 - yhat_i)^gamma y_i log(yhat_i)

    Probabilities go to `keras.losses.categorical_focal_crossentropy`
    (which, like categorical cross-entropy, divides `y_pred` by its sum and
    clips it to [1e-7, 1 - 1e-7]); logits use log-softmax (see the module
    docstring).

    Args:
        y_true: one-hot labels, shape (batch, ..., C).
        y_pred: probabilities, or logits with `from_logits`, same shape.
        alpha: a weight in [0, 1], or one per class (a list of C weights,
            for the last axis only).
        gamma: focusing parameter >= 0.
        from_logits: whether `y_pred` holds logits.
        axis: the class axis.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (0.25 * 0.2^2 * -log 0.8):

    >>> y_true, y_pred = [[0.0, 1.0, 0.0]], [[0.1, 0.8, 0.1]]
    >>> round(float(categorical_focal_loss(y_true, y_pred)[0]), 6)
    0.002231
    """
    alpha, gamma = _check_alpha_gamma(alpha, gamma, allow_list=True)
    _check_from_logits(from_logits)
    y_true = to_float32(y_true)
    y_pred = to_float32(y_pred)
    if not from_logits:
        return keras.losses.categorical_focal_crossentropy(
            y_true, y_pred, alpha=alpha, gamma=gamma, axis=axis
        )
    log_p = ops.log_softmax(y_pred, axis=axis)  # exact for any logit
    # (1 - p)^gamma with the base floored: finite gradient at p = 1.
    one_minus_p = ops.maximum(1.0 - ops.exp(log_p), keras.config.epsilon())
    focal = ops.power(one_minus_p, gamma)
    alpha = ops.convert_to_tensor(alpha, "float32")
    return -ops.sum(alpha * focal * y_true * log_p, axis=axis)


@_register
class CategoricalFocalLoss(DtypeInConfig, keras.losses.Loss):
    """Categorical focal loss, cheat sheet 4.11; see
    `categorical_focal_loss`.

    L_Focal = - sum_i alpha (1 - yhat_i)^gamma y_i log(yhat_i). Keras'
    `CategoricalFocalCrossentropy` for probabilities, log-softmax code for
    logits.

    Args:
        alpha: a weight in [0, 1], or a list of one per class.
        gamma: focusing parameter >= 0.
        from_logits: whether `y_pred` holds logits.
        axis: the class axis.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> loss = CategoricalFocalLoss(alpha=0.25, gamma=2.0)
    >>> round(float(loss([[0.0, 1.0, 0.0]], [[0.1, 0.8, 0.1]])), 6)
    0.002231
    """

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.gamma = _check_alpha_gamma(
            alpha, gamma, allow_list=True
        )
        self.from_logits = _check_from_logits(from_logits)
        self.axis = axis

    def call(self, y_true, y_pred):
        return categorical_focal_loss(
            y_true,
            y_pred,
            self.alpha,
            self.gamma,
            self.from_logits,
            self.axis,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            axis=self.axis,
        )
        return config
