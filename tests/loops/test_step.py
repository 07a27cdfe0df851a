"""The five-step function and the cheat sheet's update rule."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from tests.loops.helpers import (
    classification_task,
    dataset,
    toy_data,
    toy_model,
    weights,
)


def test_sgd_update_matches_keras_sgd_exactly():
    x, y = toy_data(n=32)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    a, b = toy_model(), toy_model()
    keras_sgd = keras.optimizers.SGD(learning_rate=0.1)
    for _ in range(3):
        for model in (a, b):
            with tf.GradientTape() as tape:
                loss = ce(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            if model is a:
                loops.sgd_update(model.trainable_variables, grads, 0.1)
            else:
                keras_sgd.apply_gradients(zip(grads, model.trainable_variables))
    for wa, wb in zip(weights(a), weights(b)):
        np.testing.assert_array_equal(wa, wb)


def test_train_step_adds_the_l2_penalty_and_lowers_the_loss():
    x, y = toy_data(n=32)
    model = toy_model(l2=0.1)
    task = classification_task()
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(model.trainable_variables)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    penalty = sum(
        0.1 * float(tf.reduce_sum(tf.square(w)))
        for w in (model.layers[0].kernel, model.layers[1].kernel)
    )
    expected = float(ce(y, model(x))) + penalty
    first = float(task.train_step(model, optimizer, (x, y))["loss"])
    assert first == pytest.approx(expected, rel=1e-5)
    for _ in range(20):
        last = float(task.train_step(model, optimizer, (x, y))["loss"])
    assert last < first


def test_clip_norm_bounds_the_update():
    x, y = toy_data(n=32)
    model = toy_model()
    before = weights(model)
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.build(model.trainable_variables)
    task = classification_task(clip_norm=1e-3)
    task.train_step(model, optimizer, (x, y))
    moved = np.sqrt(
        sum(np.sum((a - b) ** 2) for a, b in zip(before, weights(model)))
    )
    assert moved == pytest.approx(1e-3, rel=1e-4)


def test_dropout_and_batchnorm_see_training_flag():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(2),
        ]
    )
    task = loops.supervised(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype("float32")
    y = np.zeros(64, np.int64)
    bn = model.layers[0]
    a = task.test_step(model, (x, y))["loss"]
    b = task.test_step(model, (x, y))["loss"]
    assert float(a) == float(b)  # inference: no dropout, frozen statistics
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(4))
    optimizer = keras.optimizers.SGD(0.0)
    optimizer.build(model.trainable_variables)
    task.train_step(model, optimizer, (x, y))
    assert np.all(bn.moving_mean.numpy() > 0)  # training updated them


def test_model_fit_through_step_model_equals_the_loop():
    x, y = toy_data(n=64)
    keras.utils.set_random_seed(0)
    a = toy_model(l2=0.01)
    b = toy_model(l2=0.01)
    b.set_weights(a.get_weights())
    loops.fit(
        a,
        keras.optimizers.Adam(0.01),
        classification_task(),
        dataset(x, y, 16),
        options=loops.LoopOptions(verbose=0),
    )
    wrapped = loops.StepModel(b)
    wrapped.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    fit = wrapped.fit(dataset(x, y, 16), epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(weights(a), weights(b)):
        np.testing.assert_allclose(wb, wa, atol=1e-6)
    assert set(fit.history) == {"loss", "accuracy"}
    result = wrapped.evaluate(dataset(x, y, 64), return_dict=True, verbose=0)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = float(ce(y, b(x))) + float(sum(b.losses))
    assert result["loss"] == pytest.approx(expected, rel=1e-5)


def test_step_model_of_a_built_net_saves_weights_before_any_call(tmp_path):
    # KerasTuner saves each trial's weights; a StepModel is built when its
    # net is, not only after Keras first calls it.
    wrapped = loops.StepModel(toy_model())
    assert wrapped.built
    wrapped.save_weights(tmp_path / "w.weights.h5")
    unbuilt = loops.StepModel(keras.Sequential([keras.layers.Dense(3)]))
    assert not unbuilt.built


def test_a_metric_name_is_refused_with_the_object_to_pass_instead():
    with pytest.raises(TypeError, match="metrics entry 'accuracy'"):
        loops.supervised("mse", metrics=["accuracy"])
    wrapped = loops.StepModel(toy_model())
    with pytest.raises(TypeError, match="SparseCategoricalAccuracy"):
        wrapped.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
