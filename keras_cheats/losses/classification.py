"""Cross-entropy losses, cheat sheet 4.1 to 4.4.

All four are Keras' own losses: the classes below are thin registered
subclasses that carry the cheat-sheet name and formula, and the functions
only upcast to float32 before calling Keras. No maths is re-implemented.

Sum or mean. The cheat sheet writes 4.1, 4.3 and 4.4 as a sum over i; here i
runs over the classes of one sample, so the per-sample value is that sum, and
the default reduction ("sum_over_batch_size") then averages the samples. 4.2
already has the 1/N: the per-sample value is the mean over the last axis.
For the cheat sheet's total over a batch use `reduction="sum"`.

Keras details (checked against keras/src/backend/tensorflow/nn.py):
- probabilities are clipped to [1e-7, 1 - 1e-7] before the log, so exact 0
  and 1 give a finite value and gradient (a wrong 0 costs -log(1e-7) = 16.1);
- the categorical losses divide `y_pred` by its sum over the class axis
  first, so unnormalised scores are treated as a distribution;
- with `from_logits=True` they call `tf.nn.*_cross_entropy_with_logits`,
  which is exact and finite for logits of +-1e4.
"""

import keras

from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def cross_entropy(y_true, y_pred, from_logits=False, axis=-1):
    """Cross-entropy between a label distribution and a prediction.

    Cheat sheet 4.1:  L_CE = - sum_i y_i log(yhat_i),  i over the classes.

    `y_true` may be any distribution (soft labels), not only one-hot.

    Args:
        y_true: label distribution, shape (batch, ..., C).
        y_pred: predicted probabilities (or logits with `from_logits`),
            shape (batch, ..., C).
        from_logits: whether `y_pred` holds logits.
        axis: the class axis.

    Returns:
        float32 tensor of shape (batch, ...): the class axis summed away.

    Example (labels (0.25, 0.75), prediction (0.5, 0.5): log 2):

    >>> round(float(cross_entropy([[0.25, 0.75]], [[0.5, 0.5]])[0]), 4)
    0.6931
    """
    return keras.losses.categorical_crossentropy(
        to_float32(y_true), to_float32(y_pred), from_logits, axis=axis
    )


@_register
class CrossEntropy(DtypeInConfig, keras.losses.CategoricalCrossentropy):
    """Cross-entropy, cheat sheet 4.1: Keras' `CategoricalCrossentropy`.

    L_CE = - sum_i y_i log(yhat_i); see `cross_entropy`. Arguments as
    `keras.losses.CategoricalCrossentropy`.

    >>> round(float(CrossEntropy()([[0.25, 0.75]], [[0.5, 0.5]])), 4)
    0.6931
    """


def binary_cross_entropy(y_true, y_pred, from_logits=False, axis=-1):
    """Binary cross-entropy (log loss), mean over the last axis.

    Cheat sheet 4.2:
        L_BCE = - 1/N sum_i [y_i log(yhat_i) + (1 - y_i) log(1 - yhat_i)]

    Args:
        y_true: labels in {0, 1} (or soft labels in [0, 1]), shape
            (batch, ..., N).
        y_pred: predicted probabilities of class 1 (or logits with
            `from_logits`), same shape.
        from_logits: whether `y_pred` holds logits.
        axis: the axis averaged over (the N of the formula).

    Returns:
        float32 tensor of shape (batch, ...).

    Example (-(log 0.8 + log 0.6) / 2):

    >>> round(float(binary_cross_entropy([[1.0, 0.0]], [[0.8, 0.4]])[0]), 4)
    0.367
    """
    return keras.losses.binary_crossentropy(
        to_float32(y_true), to_float32(y_pred), from_logits, axis=axis
    )


@_register
class BinaryCrossEntropy(DtypeInConfig, keras.losses.BinaryCrossentropy):
    """Binary cross-entropy, cheat sheet 4.2: Keras' `BinaryCrossentropy`.

    L_BCE = - 1/N sum_i [y_i log(yhat_i) + (1 - y_i) log(1 - yhat_i)]; see
    `binary_cross_entropy`. Arguments as `keras.losses.BinaryCrossentropy`.

    >>> loss = BinaryCrossEntropy()
    >>> round(float(loss([[1.0, 0.0]], [[0.8, 0.4]])), 4)
    0.367
    """


def categorical_cross_entropy(y_true, y_pred, from_logits=False, axis=-1):
    """Categorical cross-entropy for one-hot labels.

    Cheat sheet 4.3:  L_CCE = - sum_i y_i log(yhat_i),  i over the classes.

    Args:
        y_true: one-hot labels, shape (batch, ..., C).
        y_pred: predicted probabilities (softmax output), same shape.
        from_logits: whether `y_pred` holds logits (the cheat sheet's 4.3
            says from_logits=False; 4.4 is the logits version).
        axis: the class axis.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (-log 0.8):

    >>> y_true, y_pred = [[0.0, 1.0, 0.0]], [[0.1, 0.8, 0.1]]
    >>> round(float(categorical_cross_entropy(y_true, y_pred)[0]), 4)
    0.2231
    """
    return keras.losses.categorical_crossentropy(
        to_float32(y_true), to_float32(y_pred), from_logits, axis=axis
    )


@_register
class CategoricalCrossEntropy(
    DtypeInConfig, keras.losses.CategoricalCrossentropy
):
    """Categorical cross-entropy, cheat sheet 4.3: Keras'
    `CategoricalCrossentropy` (from_logits=False by default).

    L_CCE = - sum_i y_i log(yhat_i); see `categorical_cross_entropy`.

    >>> loss = CategoricalCrossEntropy()
    >>> round(float(loss([[0.0, 1.0, 0.0]], [[0.1, 0.8, 0.1]])), 4)
    0.2231
    """


def softmax_cross_entropy(y_true, y_pred, sparse=False, axis=-1):
    """Softmax loss: cross-entropy of the softmax of raw scores (logits).

    Cheat sheet 4.4:
        L_Softmax = - sum_i log( exp(yhat_i) / sum_j exp(yhat_j) )
    where i runs over the true class(es), j over all C classes; with one-hot
    labels this is - sum_i y_i log softmax(yhat)_i.

    Computed by Keras from the logits (`tf.nn.*softmax_cross_entropy_with_
    logits`), exact and finite for logits of +-1e4.

    Args:
        y_true: one-hot labels (batch, ..., C), or with `sparse=True`
            integer class ids (batch, ...) or (batch, ..., 1).
        y_pred: logits, shape (batch, ..., C).
        sparse: whether `y_true` holds integer class ids.
        axis: the class axis.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (-log(e^3 / (e + e^2 + e^3))):

    >>> logits = [[1.0, 2.0, 3.0]]
    >>> round(float(softmax_cross_entropy([[0, 0, 1]], logits)[0]), 4)
    0.4076
    >>> round(float(softmax_cross_entropy([2], logits, sparse=True)[0]), 4)
    0.4076
    """
    y_pred = to_float32(y_pred)
    if sparse:
        return keras.losses.sparse_categorical_crossentropy(
            keras.ops.convert_to_tensor(y_true), y_pred, True, axis=axis
        )
    return keras.losses.categorical_crossentropy(
        to_float32(y_true), y_pred, from_logits=True, axis=axis
    )


@_register
class SoftmaxCrossEntropy(DtypeInConfig, keras.losses.Loss):
    """Softmax loss from logits, cheat sheet 4.4.

    L_Softmax = - sum_i log(exp(yhat_i) / sum_j exp(yhat_j)); see
    `softmax_cross_entropy`. Keras' `CategoricalCrossentropy(from_logits=
    True)` for one-hot labels, `SparseCategoricalCrossentropy(from_logits=
    True)` for integer labels (`sparse=True`).

    Args:
        sparse: whether `y_true` holds integer class ids.
        axis: the class axis.
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> loss = SoftmaxCrossEntropy(sparse=True)
    >>> round(float(loss([2], [[1.0, 2.0, 3.0]])), 4)
    0.4076
    """

    def __init__(
        self,
        sparse=False,
        axis=-1,
        reduction="sum_over_batch_size",
        name="softmax_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(sparse, bool):
            raise ValueError(
                f"`sparse` must be True or False; received sparse={sparse!r}."
            )
        self.sparse = sparse
        self.axis = axis

    def call(self, y_true, y_pred):
        return softmax_cross_entropy(y_true, y_pred, self.sparse, self.axis)

    def get_config(self):
        config = super().get_config()
        config.update(sparse=self.sparse, axis=self.axis)
        return config
