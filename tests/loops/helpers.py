"""Small models and data shared by the loop tests."""

import keras
import numpy as np
import tensorflow as tf

import loops


def toy_data(n=69, dim=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y.astype(np.int64) % classes


def toy_model(l2=0.0, dropout=0.0, dim=6, classes=3, seed=1):
    reg = keras.regularizers.L2(l2) if l2 else None
    init = keras.initializers.GlorotUniform(seed=seed)
    layers = [
        keras.Input((dim,)),
        keras.layers.Dense(
            16,
            activation="relu",
            kernel_initializer=init,
            kernel_regularizer=reg,
        ),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, seed=seed))
    layers.append(
        keras.layers.Dense(
            classes,
            kernel_initializer=keras.initializers.GlorotUniform(seed + 1),
            kernel_regularizer=reg,
        )
    )
    return keras.Sequential(layers)


def classification_task(**kwargs):
    return loops.supervised(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        **kwargs,
    )


def dataset(x, y, batch_size):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def fit_toy(
    data, strategy=None, *, l2=0.0, options=None, clip_norm=None, **fit_kwargs
):
    """Trains `toy_model` (Adam 0.01, `classification_task`) on `data`
    under `strategy`; returns (history, weights)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = toy_model(l2=l2)
        optimizer = keras.optimizers.Adam(0.01)
        task = classification_task(clip_norm=clip_norm)
    history = loops.fit(
        model,
        optimizer,
        task,
        data,
        options=options or loops.LoopOptions(verbose=0),
        strategy=strategy,
        **fit_kwargs,
    )
    return history, weights(model)


def fit_toy_with(data, strategy=None, epochs=2, **options):
    """`fit_toy` with `LoopOptions(epochs, verbose=0, **options)`."""
    options = loops.LoopOptions(epochs=epochs, verbose=0, **options)
    return fit_toy(data, strategy, options=options)
