"""Regression losses, cheat sheet 4.5 to 4.7: Keras' own MSE, MAE and Huber.

The classes are thin registered subclasses carrying the cheat-sheet name and
formula; the functions upcast to float32 and call Keras. The 1/N of the
cheat sheet is the mean over the last axis (one value per sample); the
default reduction then averages the samples.
"""

import keras

from keras_cheats import checks
from keras_cheats.losses._common import (
    DtypeInConfig,
    to_float32,
)

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def mean_squared_error(y_true, y_pred):
    """Mean squared error over the last axis.

    Cheat sheet 4.5:  L_MSE = 1/N sum_i (yhat_i - y_i)^2

    Args:
        y_true: targets, shape (batch, ..., N).
        y_pred: predictions, same shape.

    Returns:
        float32 tensor of shape (batch, ...).

    Example ((0.5^2 + 2^2) / 2):

    >>> round(float(mean_squared_error([[1.0, 2.0]], [[1.5, 0.0]])[0]), 4)
    2.125
    """
    return keras.losses.mean_squared_error(
        to_float32(y_true), to_float32(y_pred)
    )


@_register
class MeanSquaredError(DtypeInConfig, keras.losses.MeanSquaredError):
    """Mean squared error, cheat sheet 4.5: Keras' `MeanSquaredError`.

    L_MSE = 1/N sum_i (yhat_i - y_i)^2; see `mean_squared_error`.

    >>> round(float(MeanSquaredError()([[1.0, 2.0]], [[1.5, 0.0]])), 4)
    2.125
    """


def mean_absolute_error(y_true, y_pred):
    """Mean absolute error over the last axis.

    Cheat sheet 4.6:  L_MAE = 1/N sum_i |yhat_i - y_i|

    Args:
        y_true: targets, shape (batch, ..., N).
        y_pred: predictions, same shape.

    Returns:
        float32 tensor of shape (batch, ...).

    Example ((0.5 + 2) / 2):

    >>> round(float(mean_absolute_error([[1.0, 2.0]], [[1.5, 0.0]])[0]), 4)
    1.25
    """
    return keras.losses.mean_absolute_error(
        to_float32(y_true), to_float32(y_pred)
    )


@_register
class MeanAbsoluteError(DtypeInConfig, keras.losses.MeanAbsoluteError):
    """Mean absolute error, cheat sheet 4.6: Keras' `MeanAbsoluteError`.

    L_MAE = 1/N sum_i |yhat_i - y_i|; see `mean_absolute_error`.

    >>> round(float(MeanAbsoluteError()([[1.0, 2.0]], [[1.5, 0.0]])), 4)
    1.25
    """


def huber(y_true, y_pred, delta=1.0):
    """Huber loss, mean over the last axis.

    Cheat sheet 4.7, per element with e = y_i - yhat_i:

        L_Huber = 1/2 e^2                   if |e| <= delta
                  delta (|e| - 1/2 delta)   otherwise

    The cheat sheet gives the per-element value; like MSE and MAE it is
    averaged over the last axis here.

    Args:
        y_true: targets, shape (batch, ..., N).
        y_pred: predictions, same shape.
        delta: the threshold between the quadratic and linear parts, > 0.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (delta 1: (0.5 * 0.5^2 + 1 * (2 - 0.5)) / 2):

    >>> round(float(huber([[1.0, 2.0]], [[1.5, 0.0]])[0]), 4)
    0.8125
    """
    delta = checks.interval("delta", delta, 0.0, low_open=True)
    return keras.losses.huber(to_float32(y_true), to_float32(y_pred), delta)


@_register
class Huber(DtypeInConfig, keras.losses.Huber):
    """Huber loss, cheat sheet 4.7: Keras' `Huber`, keeping `delta` in its
    config (Keras 3.15's `Huber.get_config` drops it, so a saved model would
    come back with delta=1).

    See `huber`.

    Args:
        delta: the threshold between the quadratic and linear parts, > 0.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> round(float(Huber(delta=1.0)([[1.0, 2.0]], [[1.5, 0.0]])), 4)
    0.8125
    """

    def __init__(
        self,
        delta=1.0,
        reduction="sum_over_batch_size",
        name="huber_loss",
        dtype=None,
    ):
        self.delta = checks.interval("delta", delta, 0.0, low_open=True)
        super().__init__(
            delta=self.delta, reduction=reduction, name=name, dtype=dtype
        )

    def get_config(self):
        config = super().get_config()
        config["delta"] = self.delta
        return config
