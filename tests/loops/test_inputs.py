"""How the engine reads its input: tf.data in blocks, per step, in memory."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from loops import inputs
from tests.loops.helpers import fit_toy, fit_toy_with, toy_data

DEFAULT = tf.distribute.get_strategy()


def _read(source, steps, steps_per_execution, skip=0):
    """The batches a training epoch reads, grouped by call, as the engine
    asks for them: call_steps, then call_inputs, then next_batch."""
    source.start_epoch(0, skip)
    step, calls = skip, []
    while step < steps:
        n = source.call_steps(step, min(steps_per_execution, steps - step))
        state = source.begin_call(source.call_inputs(step, n), n)
        calls.append([source.next_batch(state, i).numpy() for i in range(n)])
        step += n
    return calls


@pytest.mark.parametrize(
    "n, batch, drop, block",
    [
        (23, 4, False, 3),  # a last batch of 3: a block of its own
        (24, 4, False, 4),  # batch size unknown to tf.data, all full
        (23, 4, True, 2),  # batch size static: plain batching
        (9, 4, False, 8),  # fewer batches than a block
    ],
)
def test_blocks_keep_the_dataset_order(n, batch, drop, block):
    ds = tf.data.Dataset.range(n).batch(batch, drop_remainder=drop)
    source = inputs.DatasetBlocksSource(ds, DEFAULT, "data")
    source.plan(block)
    steps = source.steps_per_epoch(0)
    calls = _read(source, steps, block)
    expected = [b.numpy() for b in ds]
    got = [b for call in calls for b in call]
    assert len(got) == len(expected) == steps
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    # No call spans two blocks; a last partial batch has a call of its own.
    assert max(len(c) for c in calls) <= block
    if n % batch and not drop:
        assert len(calls[-1]) == 1 and len(calls[-1][0]) == n % batch


def test_batches_of_several_sizes_keep_their_order_in_runs():
    ds = tf.data.Dataset.range(10).batch(4)  # 4, 4, 2
    ds = ds.concatenate(tf.data.Dataset.range(10, 21).batch(4))  # 4, 4, 3
    source = inputs.DatasetBlocksSource(ds, DEFAULT, "data")
    calls = _read(source, 6, 8)
    assert [[len(b) for b in c] for c in calls] == [[4, 4], [2], [4, 4], [3]]
    got = np.concatenate([b for c in calls for b in c])
    np.testing.assert_array_equal(got, np.arange(21))


def test_blocks_resume_after_skipped_steps_and_shorter_calls():
    ds = tf.data.Dataset.range(40).batch(4)  # 10 batches
    source = inputs.DatasetBlocksSource(ds, DEFAULT, "data")
    source.plan(4)
    # Resumed at step 3; the engine asks for 2 steps a call (a block of 4
    # serves two calls).
    calls = _read(source, 10, 2, skip=3)
    assert [len(c) for c in calls] == [2, 2, 2, 1]
    np.testing.assert_array_equal(calls[0][0], [12, 13, 14, 15])
    np.testing.assert_array_equal(calls[-1][0], [36, 37, 38, 39])


def test_a_dataset_object_is_grouped_into_blocks_once():
    ds = tf.data.Dataset.range(23).batch(4)
    source = inputs.DatasetBlocksSource(ds, DEFAULT, "data")
    first = [b.tolist() for call in _read(source, 6, 32) for b in call]
    built = source._blocks
    again = [b.tolist() for call in _read(source, 6, 32) for b in call]
    assert source._blocks is built and again == first
    _read(source, 6, 32, skip=2)  # a resumed epoch is grouped anew
    assert source._blocks is built


def test_source_for_picks_blocks_for_small_dense_batches_on_one_device():
    x, y = toy_data()
    small = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(cpus)
    scalars = tf.data.Dataset.from_tensor_slices(np.arange(12)).padded_batch(
        4, padded_shapes=[]
    )
    seqs = (
        tf.data.Dataset.range(1, 9)
        .map(lambda k: tf.zeros([k], tf.float32))
        .padded_batch(2)
    )  # [2, None]: the length changes from batch to batch
    big = tf.data.Dataset.from_tensors(tf.zeros([64, 64, 3])).repeat(4)

    def kind(data, strategy=DEFAULT):
        return type(inputs.source_for(data, strategy, "data")).__name__

    assert kind(small) == "DatasetBlocksSource"
    assert kind(lambda epoch, skip: small.skip(skip)) == "DatasetBlocksSource"
    assert kind(small, mirrored) == "DatasetSource"
    assert kind(scalars) == "DatasetBlocksSource"
    assert kind(seqs) == "DatasetSource"
    assert kind(big.batch(8)) == "DatasetSource"  # 48 KiB per example
    assert kind(loops.InMemory((x, y), 16)) == "InMemorySource"


def test_a_block_holds_at_most_64_mib_when_the_batch_size_is_known():
    per_example = tf.zeros([64, 64])  # 16 KiB
    ds = tf.data.Dataset.from_tensors(per_example).repeat(8192)
    source = inputs.DatasetBlocksSource(
        ds.batch(1024, drop_remainder=True), DEFAULT, "data"
    )
    source.plan(32)
    assert source.block == 4  # 4 x 1024 x 16 KiB = 64 MiB
    source = inputs.DatasetBlocksSource(ds.batch(16), DEFAULT, "data")
    source.plan(32)
    assert source.block == 32


@pytest.mark.parametrize("jit_compile", [False, True])
def test_blocks_train_exactly_as_one_element_per_step(jit_compile):
    x, y = toy_data()  # 69 examples: a last partial batch of 5
    data = loops.InMemory((x, y), 16, loops.shuffled(4)).dataset
    per_step = inputs.DatasetSource(data, DEFAULT, "data")
    assert isinstance(
        inputs.source_for(data, DEFAULT, "data"), inputs.DatasetBlocksSource
    )
    kwargs = dict(steps_per_execution=3, jit_compile=jit_compile)
    h1, w1 = fit_toy_with(data, **kwargs)
    h2, w2 = fit_toy_with(per_step, **kwargs)
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-6)
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


def test_blocks_resume_mid_epoch_from_the_last_checkpoint(tmp_path):
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

    source = inputs.source_for(data, DEFAULT, "data", epoch=3)
    assert isinstance(source, inputs.DatasetBlocksSource)
    assert calls == [(3, 0)]  # data drawn per epoch is not drawn for 0
