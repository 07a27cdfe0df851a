"""The classification task of every classifier the experiments train:
sparse categorical cross-entropy on logits (section 4.2) and accuracy.

    task = classification.task()                 # a loops.Task
    history = loops.fit(model, optimizer, task, data.train, ...)
    test = classification.evaluate(model, data.test)  # {"loss", "accuracy"}
"""

import keras

import loops


def loss():
    """-sum_k y_k log softmax(z)_k, with integer labels y and logits z."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def metrics():
    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


def task(**kwargs):
    """`loops.supervised(loss(), metrics=metrics(), **kwargs)`."""
    return loops.supervised(loss(), metrics=metrics(), **kwargs)


def evaluate(model, data, *, strategy=None) -> dict:
    """{"loss", "accuracy"} of `model` on `data` (what `loops.fit` takes
    as validation data), through `loops.evaluate`."""
    return loops.evaluate(model, task(), data, strategy=strategy)
