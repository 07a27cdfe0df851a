"""Checks every loss test shares: gradients, finiteness, Keras round trips."""

import doctest
import pathlib

import keras
import numpy as np
import tensorflow as tf


def run_doctests(module):
    """Run the docstring examples of `module`; fail on any mismatch."""
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0, f"{result.failed} docstring examples failed"


def assert_finite(*tensors):
    for t in tensors:
        value = np.asarray(t)
        assert np.all(np.isfinite(value)), value


def value_and_grad(fn, x):
    """fn(x) and d sum(fn(x)) / dx, via a GradientTape."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        total = tf.reduce_sum(y)
    return y, tape.gradient(total, x)


def check_gradient(fn, x, atol=2e-3):
    """Compare the analytic Jacobian of fn at x (float64) with finite
    differences (`tf.test.compute_gradient`)."""
    x = tf.constant(np.asarray(x, np.float64))

    def fn64(v):
        # The losses compute in float32; the checker perturbs in float64.
        return tf.cast(fn(tf.cast(v, tf.float32)), tf.float64)

    theoretical, numerical = tf.test.compute_gradient(fn64, [x], delta=1e-3)
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=atol)


def assert_config_round_trip(loss):
    """get_config/from_config and keras serialize/deserialize keep config."""
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    revived = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(revived) is type(loss)
    assert revived.get_config() == config
    return clone


def fit_save_load(loss, model, x, y, tmp_path, epochs=8, lr=0.05):
    """Fit `model` with `loss`, check the loss fell, save the compiled model
    to .keras, load it back and check the loaded model has the same loss
    (class and config) and gives the same value.

    Args:
        loss: the Loss instance.
        model: an uncompiled Keras model (seeded by the caller).
        x, y: training inputs and targets (small NumPy arrays).
        tmp_path: pytest's tmp_path.

    Returns:
        The per-epoch training losses.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(lr), loss=loss, jit_compile=False
    )
    history = model.fit(
        x, y, epochs=epochs, batch_size=len(y), shuffle=False, verbose=0
    )
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses
    path = pathlib.Path(tmp_path) / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    # Eager calls: cheaper than tracing evaluate() for both models.
    before = model.loss(y, model(x))
    after = loaded.loss(y, loaded(x))
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-7)
    return losses
