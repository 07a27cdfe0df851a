"""Hinge loss, cheat sheet 4.12: Keras' own `Hinge`.

Labels. The loss expects y in {-1, 1}. Keras converts {0, 1} labels to
{-1, 1} (y -> 2y - 1), but only when *every* label in the tensor it is given
is 0 or 1 (keras.losses.convert_binary_labels_to_hinge, one decision per
call, so per batch in `fit`). A batch mixing conventions ({-1, 0, 1}) or
holding soft labels such as 0.5 is used as is: a 0 label then costs
max(0, 1 - 0) = 1 whatever the prediction. Keep to one convention.
"""

import keras

from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def hinge_loss(y_true, y_pred):
    """Hinge loss, mean over the last axis.

    Cheat sheet 4.12:  L_Hinge = sum_i max(0, 1 - y_i yhat_i)

    The cheat sheet sums over i; Keras, and so this function, averages over
    the last axis (identical for one output per sample) and the default
    reduction averages the samples. Use `reduction="sum"` for the total.

    Args:
        y_true: labels in {-1, 1}, or {0, 1} converted as the module
            docstring explains, shape (batch, ..., N).
        y_pred: raw scores (not probabilities), same shape.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (max(0, 1 - 0.3) and max(0, 1 - 2), averaged; labels {0, 1}
    become {-1, 1}):

    >>> round(float(hinge_loss([[1.0, -1.0]], [[0.3, -2.0]])[0]), 4)
    0.35
    >>> round(float(hinge_loss([[1.0, 0.0]], [[0.3, -2.0]])[0]), 4)
    0.35
    """
    return keras.losses.hinge(to_float32(y_true), to_float32(y_pred))


@_register
class HingeLoss(DtypeInConfig, keras.losses.Hinge):
    """Hinge loss, cheat sheet 4.12: Keras' `Hinge`; see `hinge_loss`.

    L_Hinge = sum_i max(0, 1 - y_i yhat_i), labels in {-1, 1} ({0, 1}
    converted only when all labels of the batch are 0 or 1).

    >>> round(float(HingeLoss()([[1.0, -1.0]], [[0.3, -2.0]])), 4)
    0.35
    """
