"""Checkpoints that resume a run exactly, and atomic JSON files.

What is saved: every model variable (weights, BatchNorm statistics and the
state of each Keras `SeedGenerator`, which a plain `tf.train.Checkpoint` of
a Keras 3 model does not hold, so Dropout would diverge after a resume),
the optimizer(s), and the position in the data: (epoch, step in epoch).
"""

import json
import os
import pathlib
import shutil
import tempfile

import numpy as np
import tensorflow as tf


def write_json_atomic(path, obj):
    """Writes JSON to a temporary file in the same folder, then renames it."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path, default=None):
    path = pathlib.Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text())


def all_finite(variables) -> bool:
    for v in variables:
        value = np.asarray(v.numpy())
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return False
    return True


class RunState:
    """The checkpointed state of a run, and its `CheckpointManager`."""

    def __init__(
        self, model, optimizer, directory, max_to_keep=3, write_directory=None
    ):
        """`directory` holds the run's checkpoints. A non-chief worker of a
        multi-worker run passes a `write_directory` of its own: it restores
        from `directory`, takes part in each save (saving is collective) into
        its own folder, and deletes that copy (TensorFlow's pattern)."""
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
        optimizers = (
            optimizer if isinstance(optimizer, dict) else {"": optimizer}
        )
        self._model = model
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(model.variables),
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            global_step=self.global_step,
            **{
                f"optimizer_{k}" if k else "optimizer": v
                for k, v in optimizers.items()
            },
        )
        self.directory = directory
        self._throwaway = write_directory is not None
        self.manager = None
        if directory is not None:
            self.manager = tf.train.CheckpointManager(
                self.checkpoint,
                write_directory or directory,
                max_to_keep=max_to_keep,
            )

    def restore_latest(self):
        """Restores the latest checkpoint; returns its path or None."""
        if self.directory is None:
            return None
        path = tf.train.latest_checkpoint(str(self.directory))
        if path is None:
            return None
        self.checkpoint.restore(path).assert_existing_objects_matched()
        return path

    def save(self):
        """Saves unless a weight is not finite; returns the path or None."""
        if self.manager is None:
            return None
        if not all_finite(self._model.variables):
            return None
        path = self.manager.save(
            checkpoint_number=int(self.global_step.numpy())
        )
        if self._throwaway:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
        return path
