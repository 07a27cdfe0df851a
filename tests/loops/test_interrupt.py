"""SIGINT and SIGTERM stop `loops.fit` at a call boundary, after a save."""

import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from tests.loops.helpers import dataset, fit_toy, toy_data


class _SignalAt(keras.callbacks.Callback):
    """Sends itself `signum` at the end of call number `call`."""

    def __init__(self, signum, call):
        super().__init__()
        self.signum, self.call, self.calls = signum, call, 0

    def on_train_batch_end(self, batch, logs=None):
        self.calls += 1
        if self.calls == self.call:
            signal.raise_signal(self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_at_the_call_boundary_and_resumes(tmp_path, signum):
    x, y = toy_data(n=64)  # 4 steps per epoch, 2 per call
    options = loops.LoopOptions(epochs=2, steps_per_execution=2, verbose=0)
    data = dataset(x, y, 16)
    with pytest.raises(loops.Interrupted) as stop:
        fit_toy(
            data,
            options=options,
            model_dir=tmp_path,
            callbacks=[_SignalAt(signum, 3)],  # epoch 2, after step 2
        )
    assert stop.value.exit_status == 128 + signum
    assert "at step 2 of epoch 2" in str(stop.value)
    assert stop.value.checkpoint.endswith("ckpt-6")
    assert signal.getsignal(signum) is not None  # handlers restored
    reader = tf.train.load_checkpoint(stop.value.checkpoint)
    names = reader.get_variable_to_shape_map()
    step = next(n for n in names if n.startswith("step_in_epoch"))
    assert reader.get_tensor(step) == 2
    history, _ = fit_toy(data, options=options, model_dir=tmp_path)
    # The resumed epoch's means cover all its steps, the 2 before the stop
    # too (their sums and metric state are in the checkpoint).
    whole, _ = fit_toy(data, options=options, model_dir=tmp_path / "whole")
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(history[key], whole[key], rtol=1e-6)
