"""A checkpoint that does not restore is moved aside; the run resumes from
the newest intact one, and never starts over silently."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

import loops
from loops.checkpointing import NoIntactCheckpointError
from tests.loops.helpers import dataset, fit_toy, toy_data


def _fit(folder, epochs):
    x, y = toy_data(n=64)  # 4 steps per epoch: ckpt-4, ckpt-8, ...
    options = loops.LoopOptions(epochs=epochs, verbose=0, seed=0)
    return fit_toy(dataset(x, y, 16), options=options, model_dir=folder)


def _truncate(files):
    data = next(f for f in files if ".data-" in f.name)
    data.write_bytes(data.read_bytes()[:20])


def _zero(files):
    data = next(f for f in files if ".data-" in f.name)
    raw = bytearray(data.read_bytes())
    raw[: len(raw) // 2] = bytes(len(raw) // 2)
    data.write_bytes(bytes(raw))


def _drop_index(files):
    next(f for f in files if f.name.endswith(".index")).unlink()


def _drop_data(files):
    next(f for f in files if ".data-" in f.name).unlink()


@pytest.mark.parametrize("damage", [_truncate, _zero, _drop_index, _drop_data])
def test_a_damaged_latest_checkpoint_resumes_from_the_one_before(
    tmp_path, caplog, damage
):
    whole, _ = _fit(tmp_path / "whole", 3)
    run = tmp_path / "run"
    _fit(run, 2)
    ckpts = run / "checkpoints"
    latest = sorted(ckpts.glob("ckpt-8.*"))
    damage(latest)
    with caplog.at_level("WARNING"):
        history, _ = _fit(run, 3)
    assert "checkpoint" in caplog.text and "ckpt-8" in caplog.text
    # Resumed after epoch 1: epochs 2 and 3 trained again, as one run.
    np.testing.assert_allclose(history["loss"], whole["loss"], rtol=1e-6)
    moved = sorted(p.name for p in (ckpts / "damaged").iterdir())
    assert moved and all(name.startswith("ckpt-8.") for name in moved)
    assert (ckpts / "ckpt-4.index").exists()  # the good one was kept


def test_no_intact_checkpoint_stops_instead_of_starting_over(tmp_path):
    run = tmp_path / "run"
    _fit(run, 1)
    for index in pathlib.Path(run / "checkpoints").glob("*.index"):
        index.unlink()
    with pytest.raises(NoIntactCheckpointError, match="no checkpoint in"):
        _fit(run, 2)


def test_a_new_checkpoint_that_does_not_read_back_replaces_nothing(
    tmp_path, caplog, monkeypatch
):
    """A disk that damages the newest write: it is moved aside, and the
    older checkpoints stay (max_checkpoints=3 would have dropped ckpt-4)."""
    run = tmp_path / "run"
    _fit(run, 3)  # ckpt-4, ckpt-8, ckpt-12
    ckpts = run / "checkpoints"
    save = tf.train.CheckpointManager.save

    def save_then_damage(self, *args, **kwargs):
        path = save(self, *args, **kwargs)
        path_ = pathlib.Path(path)
        _zero(sorted(path_.parent.glob(f"{path_.name}.*")))
        return path

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save_then_damage)
    with caplog.at_level("WARNING"):
        _fit(run, 4)
    assert "ckpt-16 does not read back" in caplog.text
    assert sorted(p.name for p in ckpts.glob("*.index")) == [
        "ckpt-12.index", "ckpt-4.index", "ckpt-8.index",
    ]  # fmt: skip
    assert sorted(p.name for p in (ckpts / "damaged").iterdir()) == [
        "ckpt-16.data-00000-of-00001", "ckpt-16.index",
    ]  # fmt: skip
    # The next good save drops the oldest, only then.
    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    _fit(run, 4)
    assert sorted(p.name for p in ckpts.glob("*.index")) == [
        "ckpt-12.index", "ckpt-16.index", "ckpt-8.index",
    ]  # fmt: skip
    assert tf.train.latest_checkpoint(str(ckpts)).endswith("ckpt-16")
