"""How the engine reads its input: three questions to a source."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from experiments.data import Pipeline, Split
from loops import inputs
from tests.loops.helpers import fit_toy, fit_toy_with, toy_data

DEFAULT = tf.distribute.get_strategy()


def _read(source, steps_per_call, epoch=0, skip=0):
    """The batches of an epoch, grouped by call, as the engine reads them."""
    return [
        [tf.nest.map_structure(np.asarray, source.batch(inputs_, i))
         for i in range(n)]
        for n, inputs_ in source.calls(epoch, skip, steps_per_call)
    ]  # fmt: skip


@pytest.mark.parametrize("n, drop", [(69, False), (64, False), (69, True)])
@pytest.mark.parametrize("steps_per_call", [1, 2, 32])
def test_in_memory_calls_read_the_same_batches_as_its_dataset(
    n, drop, steps_per_call
):
    x, y = toy_data(n=n)
    data = loops.InMemory((x, y), 16, loops.shuffled(3), drop_remainder=drop)
    source = inputs.InMemorySource(data, DEFAULT)
    for epoch, skip in [(0, 0), (2, 0), (2, 3)]:
        calls = _read(source, steps_per_call, epoch, skip)
        got = [b for call in calls for b in call]
        expected = list(data.dataset(epoch, skip).as_numpy_iterator())
        assert len(got) == len(expected) == data.steps_per_epoch - skip
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
        assert max(len(c) for c in calls) <= steps_per_call
        if n % 16 and not drop:  # the partial batch: a call of its own
            assert len(calls[-1]) == 1 and len(calls[-1][0][0]) == n % 16


def test_dataset_calls_read_the_dataset_in_order_from_skip():
    ds = tf.data.Dataset.range(40).batch(4)  # 10 batches
    source = inputs.DatasetSource(ds, DEFAULT, "data")
    calls = _read(source, 4, skip=3)
    assert [len(c) for c in calls] == [4, 3]
    np.testing.assert_array_equal(calls[0][0], [12, 13, 14, 15])
    np.testing.assert_array_equal(calls[-1][-1], [36, 37, 38, 39])


def test_in_memory_batches_are_split_over_the_replicas():
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(
        cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    x = np.arange(10, dtype=np.float32)[:, None]
    source = inputs.InMemorySource(loops.InMemory((x,), 5), mirrored)
    (n, block), (m, last) = list(source.calls(0, 0, 1))
    parts = mirrored.experimental_local_results(source.batch(block, 0))
    assert [p[0].numpy().ravel().tolist() for p in parts] == [[0, 1], [2, 3, 4]]


def test_source_for_picks_memory_for_arrays_and_tf_data_otherwise():
    x, y = toy_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    in_memory = loops.InMemory((x, y), 16)
    source = inputs.DatasetSource(ds, DEFAULT, "data")

    def kind(data):
        return type(inputs.source_for(data, DEFAULT, "data")).__name__

    assert kind(in_memory) == "InMemorySource"
    assert kind(Pipeline(Split(x, y), 16)) == "InMemorySource"
    assert kind(ds) == "DatasetSource"
    assert kind(lambda epoch, skip: ds.skip(skip)) == "DatasetSource"
    assert inputs.source_for(source, DEFAULT, "data") is source


@pytest.mark.parametrize("jit_compile", [False, True])
def test_memory_and_tf_data_of_the_same_batches_train_alike(jit_compile):
    x, y = toy_data()  # 69 examples: a last partial batch of 5
    data = loops.InMemory((x, y), 16, loops.shuffled(4))
    kwargs = dict(steps_per_execution=3, jit_compile=jit_compile)
    h1, w1 = fit_toy_with(data, **kwargs)
    h2, w2 = fit_toy_with(data.dataset, **kwargs)
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(w1, w2):
        if jit_compile:  # XLA fuses the whole call, not only the step
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)
    assert h1["loss"][-1] < h1["loss"][0]


class _Calls(keras.callbacks.Callback):
    """Records the step each call starts at; raises at call `crash_at`."""

    def __init__(self, crash_at=None):
        super().__init__()
        self.starts, self.crash_at = [], crash_at

    def on_train_batch_begin(self, batch, logs=None):
        self.starts.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        if len(self.starts) == self.crash_at:
            raise RuntimeError("crash")


def test_tf_data_resumes_mid_epoch_from_the_last_checkpoint(tmp_path):
    x, y = toy_data()  # 5 steps per epoch
    data = loops.InMemory((x, y), 16, loops.shuffled(4)).dataset
    options = loops.LoopOptions(
        epochs=3, verbose=0, steps_per_execution=2, checkpoint_every_steps=2
    )
    _, whole = fit_toy(data, options=options, model_dir=tmp_path / "whole")
    # Calls of steps [0, 2), [2, 4), [4, 5) each epoch; checkpoints after
    # steps 2 and 4. The crash ends the 6th call (epoch 2, before its
    # end is saved): the rerun resumes at step 4 of epoch 2.
    crash = _Calls(crash_at=6)
    with pytest.raises(RuntimeError, match="crash"):
        fit_toy(
            data, options=options, model_dir=tmp_path / "cut", callbacks=[crash]
        )
    assert crash.starts == [0, 2, 4, 0, 2, 4]
    rerun = _Calls()
    _, resumed = fit_toy(
        data, options=options, model_dir=tmp_path / "cut", callbacks=[rerun]
    )
    assert rerun.starts == [4, 0, 2, 4]
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a, b)


def test_a_callable_is_first_called_for_the_epoch_a_run_starts_at():
    calls = []

    def data(epoch, skip):
        calls.append((epoch, skip))
        return tf.data.Dataset.range(8).batch(4).skip(skip)

    source = inputs.source_for(data, DEFAULT, "data")
    assert calls == []  # nothing drawn until the engine asks
    assert source.steps_per_epoch(3) == 2
    list(source.calls(3, 0, 2))
    assert calls == [(3, 0)]  # drawn once, for the epoch the run is at
