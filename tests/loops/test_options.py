"""LoopOptions: checks, and what "auto" picks."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from tests.loops.helpers import toy_data, toy_model


def _conv():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3),
            keras.layers.Flatten(),
        ]
    )


def _rnn():
    return keras.Sequential(
        [keras.Input((5, 3)), keras.layers.Bidirectional(keras.layers.LSTM(4))]
    )


def test_auto_steps_per_execution_is_32_or_the_shorter_epoch_or_checkpoint():
    dense = toy_model()
    options = loops.LoopOptions()
    assert options.resolved(dense, 100).steps_per_execution == 32
    assert options.resolved(dense, 5).steps_per_execution == 5
    every_3 = loops.LoopOptions(checkpoint_every_steps=3)
    assert every_3.resolved(dense, 100).steps_per_execution == 3
    explicit = loops.LoopOptions(steps_per_execution=7)
    assert explicit.resolved(dense, 100).steps_per_execution == 7


@pytest.mark.parametrize(
    "build, replicas, deterministic, expected",
    [
        (toy_model, 1, False, True),  # dense: XLA measured faster on CPU
        (_conv, 1, False, False),  # convolutions: slower
        (_rnn, 1, False, False),  # recurrent: not measured, left off
        (lambda: keras.Sequential([keras.layers.Dense(2)]), 1, False, False),
        (toy_model, 2, False, False),  # as Keras' auto under a strategy
        (toy_model, 1, True, False),  # as Keras' auto with determinism
    ],
)
def test_auto_jit_compile(build, replicas, deterministic, expected):
    options = loops.LoopOptions(
        seed=0 if deterministic else None, deterministic=deterministic
    )
    resolved = options.resolved(build(), 10, num_replicas=replicas)
    assert resolved.jit_compile is expected
    assert (
        loops.LoopOptions(jit_compile=False).resolved(build(), 10).jit_compile
        is False
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps_per_execution="fast"), "steps_per_execution='fast'"),
        (dict(steps_per_execution=0), "steps_per_execution=0"),
        (dict(jit_compile="yes"), "jit_compile='yes'; expected True, False"),
    ],
)
def test_bad_auto_options_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        loops.LoopOptions(**kwargs)


def _host_loss(y, logits):
    """Cross-entropy with a host-side (numpy) op XLA cannot compile."""
    per_example = keras.losses.sparse_categorical_crossentropy(
        y, logits, from_logits=True
    )
    ones = tf.numpy_function(np.ones_like, [per_example], tf.float32)
    return per_example * tf.reshape(ones, tf.shape(per_example))


def _train(jit_compile):
    x, y = toy_data()
    keras.utils.set_random_seed(0)
    model = toy_model()
    history = loops.fit(
        model,
        keras.optimizers.Adam(0.01),
        loops.supervised(_host_loss),
        loops.InMemory((x, y), 16, loops.shuffled(0)),
        options=loops.LoopOptions(epochs=2, jit_compile=jit_compile, verbose=0),
    )
    return history, [np.asarray(w) for w in model.get_weights()]


def test_auto_jit_falls_back_when_xla_cannot_compile_the_step(caplog):
    with caplog.at_level(logging.WARNING):
        h_auto, w_auto = _train("auto")
    assert "XLA cannot compile this step" in caplog.text
    h_off, w_off = _train(False)
    assert h_auto["loss"] == h_off["loss"]
    for a, b in zip(w_auto, w_off):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(tf.errors.InvalidArgumentError):
        _train(True)  # asked for explicitly: the error is the user's
