"""The engine: distribution, compilation, metrics, callbacks, failures."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from loops import inputs
from loops.trainer import num_steps
from tests.loops.helpers import (
    classification_task,
    dataset,
    fit_toy,
    toy_data,
    toy_model,
    weights,
)


def _train(strategy, l2, epochs=2, batch=16, spe=1, **fit_kwargs):
    x, y = toy_data()  # 69 examples: the last batch (5) splits 3 + 2
    options = loops.LoopOptions(
        epochs=epochs, steps_per_execution=spe, verbose=0
    )
    return fit_toy(
        dataset(x, y, batch), strategy, l2=l2, options=options, **fit_kwargs
    )


@pytest.mark.slow
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_two_replicas_equal_one_device(l2):
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(cpus) == 2, "conftest splits the CPU into two devices"
    mirrored = tf.distribute.MirroredStrategy(
        cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    one = tf.distribute.OneDeviceStrategy(cpus[0])
    h1, w1 = _train(one, l2)
    h2, w2 = _train(mirrored, l2)
    np.testing.assert_allclose(h2["loss"], h1["loss"], atol=1e-5)
    np.testing.assert_allclose(h2["accuracy"], h1["accuracy"], atol=1e-6)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(b, a, atol=1e-5)
    assert h1["loss"][-1] < h1["loss"][0]


@pytest.mark.slow
def test_clipping_with_two_replicas_equals_one_device():
    """The norm is the summed gradient's, not each replica's share's."""
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(
        cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    one = tf.distribute.OneDeviceStrategy(cpus[0])
    h1, w1 = _train(one, 0.0, clip_norm=0.05)
    h2, w2 = _train(mirrored, 0.0, clip_norm=0.05)
    h0, w0 = _train(one, 0.0)
    np.testing.assert_allclose(h2["loss"], h1["loss"], atol=1e-5)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(b, a, atol=1e-5)
    assert not np.allclose(w0[0], w1[0], atol=1e-3)  # clipping was active


def test_steps_per_execution_changes_nothing_but_speed():
    strategy = tf.distribute.get_strategy()
    h1, w1 = _train(strategy, 0.01, spe=1)
    h3, w3 = _train(strategy, 0.01, spe=3)
    np.testing.assert_allclose(h3["loss"], h1["loss"], rtol=1e-6)
    for a, b in zip(w1, w3):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_epoch_loss_is_the_example_weighted_mean_of_step_losses():
    x, y = toy_data()
    model = toy_model(l2=0.01)
    task = classification_task()
    before = weights(model)
    loops.fit(
        model,
        keras.optimizers.SGD(0.0),
        task,
        dataset(x, y, 16),
        options=loops.LoopOptions(verbose=0),
    )
    # With a zero learning rate the weights stay, so the epoch loss is the
    # full-batch loss: cross-entropy mean plus the L2 penalties.
    for a, b in zip(before, weights(model)):
        np.testing.assert_array_equal(a, b)
    logits = model(x)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    expected = float(ce) + float(sum(model.losses))
    history = loops.fit(
        model,
        keras.optimizers.SGD(0.0),
        task,
        dataset(x, y, 16),
        options=loops.LoopOptions(verbose=0),
    )
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", ["dataset", "in_memory"])
def test_no_retracing_across_epochs_and_the_partial_batch(kind):
    x, y = toy_data()
    model, task = toy_model(), classification_task()
    strategy = tf.distribute.get_strategy()
    if kind == "dataset":
        source = inputs.DatasetSource(dataset(x, y, 16), strategy, "data")
    else:
        data = loops.InMemory((x, y), 16, order=loops.shuffled(0))
        source = inputs.InMemorySource(data, strategy)
    trainer = loops.Trainer(
        model, keras.optimizers.SGD(0.1), task, strategy, source, False
    )
    for epoch in range(3):  # epochs: 4 full batches of 16 and one of 5
        counts = [
            trainer.train(inputs_, num_steps(n)).count
            for n, inputs_ in source.calls(epoch, 0, 2)
        ]
        assert counts == [32, 32, 5]
    # One trace: in memory, blocks [2, 16, 6] and [1, 5, 6] share the
    # source's input signature [None, None, 6].
    assert trainer.train_loop.experimental_get_tracing_count() == 1


def test_non_finite_loss_names_step_and_epoch_and_keeps_checkpoint(tmp_path):
    x, y = toy_data(n=64)
    sw = np.ones(64, np.float32)
    sw_bad = sw.copy()
    sw_bad[40] = np.nan  # in batch 3 (0-based 2): that step's loss is NaN

    def data_fn(epoch, skip):
        w = sw_bad if epoch == 1 else sw
        ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(16)
        return ds.skip(skip)

    model, task = toy_model(), classification_task()
    with pytest.raises(loops.NonFiniteLossError) as e:
        loops.fit(
            model,
            keras.optimizers.SGD(0.1),
            task,
            data_fn,
            options=loops.LoopOptions(
                epochs=3, steps_per_execution=4, verbose=0
            ),
            model_dir=tmp_path,
        )
    assert "step 3 of epoch 2" in str(e.value)
    assert "nan" in str(e.value)
    ckpt = tf.train.latest_checkpoint(tmp_path / "checkpoints")
    assert ckpt.endswith("ckpt-4")  # the end of epoch 1, 4 steps
    reader = tf.train.load_checkpoint(ckpt)
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if np.asarray(value).dtype.kind == "f":
            assert np.isfinite(value).all(), name


def test_keras_callbacks_early_stopping_csv_and_batch_boundaries(tmp_path):
    x, y = toy_data(n=64)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, set(logs)))

    model, task = toy_model(), classification_task()
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=1,
        restore_best_weights=True,
        min_delta=10.0,  # no epoch improves by 10: stop after epoch 2
    )
    csv = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    history = loops.fit(
        model,
        keras.optimizers.Adam(0.01),
        task,
        dataset(x, y, 16),
        validation_data=dataset(x, y, 32),
        options=loops.LoopOptions(epochs=10, steps_per_execution=3, verbose=0),
        callbacks=[Record(), stop, csv, keras.callbacks.TerminateOnNaN()],
    )
    assert len(history["loss"]) == 2  # stopped early
    assert [b for b, _ in seen] == [2, 3, 2, 3]  # calls of 3 + 1 steps
    assert {"loss", "accuracy"} <= seen[0][1]
    rows = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and "val_loss" in rows[0]


def test_dict_losses_with_weights_multi_task():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = {"digit": rng.integers(0, 3, 32), "value": rng.normal(size=(32, 1))}
    inputs = keras.Input((5,))
    trunk = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(
        inputs,
        {
            "digit": keras.layers.Dense(3, name="digit")(trunk),
            "value": keras.layers.Dense(1, name="value")(trunk),
        },
    )
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    mse = keras.losses.MeanSquaredError()
    task = loops.supervised(
        {"digit": ce, "value": mse},
        loss_weights={"value": 0.5},
        metrics={"digit": [keras.metrics.SparseCategoricalAccuracy()]},
    )
    values = task.test_step(model, (x, y))
    pred = model(x)
    expected_digit = float(ce(y["digit"], pred["digit"]))
    expected_value = float(mse(y["value"], pred["value"]))
    assert float(values["digit"]) == pytest.approx(expected_digit, 1e-5)
    assert float(values["loss"]) == pytest.approx(
        expected_digit + 0.5 * expected_value, 1e-5
    )
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = loops.fit(
        model,
        keras.optimizers.Adam(0.01),
        task,
        ds,
        options=loops.LoopOptions(epochs=3, verbose=0),
    )
    assert history["loss"][-1] < history["loss"][0]
    assert "sparse_categorical_accuracy" in history
    with pytest.raises(ValueError, match="loss_weights has keys"):
        loops.supervised({"digit": ce}, loss_weights={"nope": 1.0})


def test_history_json_and_tensorboard_in_model_dir(tmp_path):
    _, _ = _train(
        tf.distribute.get_strategy(), 0.0, epochs=2, model_dir=tmp_path
    )
    saved = json.loads((tmp_path / "history.json").read_text())
    assert len(saved["loss"]) == 2 and "samples_per_second" in saved
    assert list((tmp_path / "tensorboard" / "train").iterdir())


def test_options_are_checked_with_the_bad_value():
    with pytest.raises(ValueError, match=r"epochs=0; expected an integer"):
        loops.LoopOptions(epochs=0)
    with pytest.raises(ValueError, match=r"clip_norm=-1; expected a number"):
        classification_task(clip_norm=-1)
    with pytest.raises(ValueError, match="deterministic=True needs a seed"):
        loops.LoopOptions(deterministic=True)
    with pytest.raises(TypeError, match="task="):
        loops.fit(
            toy_model(), keras.optimizers.SGD(), "ce", tf.data.Dataset.range(1)
        )


def test_callbacks_that_set_the_learning_rate_reach_the_optimizer():
    x, y = toy_data(n=64)
    model, task = toy_model(), classification_task()
    optimizer = keras.optimizers.SGD(0.1)
    halve = keras.callbacks.LearningRateScheduler(lambda e, lr: 0.1 / 2**e)
    history = loops.fit(
        model,
        optimizer,
        task,
        dataset(x, y, 16),
        options=loops.LoopOptions(epochs=3, verbose=0),
        callbacks=[halve],
    )
    assert model.optimizer is optimizer
    assert history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=10.0
    )  # no epoch improves by 10: the rate halves after every later epoch
    history = loops.fit(
        model,
        keras.optimizers.SGD(0.1),
        task,
        dataset(x, y, 16),
        options=loops.LoopOptions(epochs=3, verbose=0),
        callbacks=[plateau],
    )
    assert history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
