"""Checkpoints that resume a run exactly, and atomic JSON files.

What is saved: every model variable (weights, BatchNorm statistics and the
state of each Keras `SeedGenerator`, which a plain `tf.train.Checkpoint` of
a Keras 3 model does not hold, so Dropout would diverge after a resume),
the optimizer(s), the position in the data: (epoch, step in epoch), and the
history of the finished epochs (so that a kill at any instant leaves a
checkpoint and a history that agree: history.json is only its copy), and,
for a checkpoint within an epoch, that epoch's running sums and metric
state (so the resumed epoch's means are those of the whole epoch).

A checkpoint that fails to restore (truncated, bad checksum, index or data
file missing) is reported in one warning line, moved aside into
`checkpoints/damaged/` (never deleted), and the next older one is tried.
"""

import json
import os
import pathlib
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf
from absl import logging


class NoIntactCheckpointError(RuntimeError):
    """Every checkpoint of a run folder failed to restore."""


class JsonState(tf.train.experimental.PythonState):
    """A JSON value saved in the checkpoint: the history of the finished
    epochs ({name: [one float per epoch]}), or the epoch so far."""

    def __init__(self):
        self.value = {}

    def serialize(self):
        return json.dumps(self.value)

    def deserialize(self, string_value):
        self.value = json.loads(string_value)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path, text):
    """Writes `text` to a temporary file in the same folder, then renames
    it: a reader sees the old file or the new one, never a part.

    The file gets the permissions of any file the process creates (0644
    under the usual umask), not mkstemp's private 0600.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path, obj):
    """`write_text_atomic` of `obj` as indented, key-sorted JSON."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True))


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
        self.history = JsonState()
        self.epoch_so_far = JsonState()
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(model.variables),
            history=self.history,
            epoch_so_far=self.epoch_so_far,
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
        self._write_directory = write_directory or directory
        self._max_to_keep = max_to_keep
        self.manager = None
        if directory is not None:
            self._new_manager()

    def _new_manager(self):
        # It keeps every checkpoint: `save` deletes old ones itself, only
        # after the new one has been read back.
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._write_directory, max_to_keep=None
        )

    def restore_latest(self):
        """Restores the newest intact checkpoint; returns its path, or
        None when the folder has none. Damaged ones are moved aside."""
        if self.directory is None:
            return None
        found = checkpoints_in(self.directory)
        for path in found:
            try:
                status = self.checkpoint.restore(path)
                status.assert_existing_objects_matched()
            except (tf.errors.OpError, IndexError, ValueError) as e:
                reason = str(e).strip().splitlines()[0][:200]
                where = _move_aside(path)
                logging.warning(
                    "checkpoint %s does not restore (%s: %s); moved to %s, "
                    "trying an older one",
                    path, type(e).__name__, reason, where,
                )  # fmt: skip
                continue
            if path != found[0]:  # the manager must not list damaged ones
                intact = [
                    p for p in found if pathlib.Path(p + ".index").exists()
                ]
                write_checkpoint_state(self.directory, path, intact[::-1])
                self._new_manager()
            return path
        if found:
            raise NoIntactCheckpointError(
                f"no checkpoint in {self.directory} restores (damaged ones "
                f"moved to {pathlib.Path(self.directory) / 'damaged'}); "
                "expected at least one intact checkpoint to resume from"
            )
        return None

    def save(self):
        """Saves unless a weight is not finite; returns the path or None.

        The new checkpoint is read back (every tensor, so every checksum)
        before the oldest beyond `max_to_keep` are deleted; one that does not
        read back is moved aside with a warning, and None is returned.
        """
        if self.manager is None:
            return None
        if not all_finite(self._model.variables):
            logging.warning(
                "weights not finite at step %d; checkpoint not saved",
                int(self.global_step.numpy()),
            )
            return None
        path = self.manager.save(
            checkpoint_number=int(self.global_step.numpy())
        )
        if self._throwaway:  # the chief's copy is the one that stays
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            return str(pathlib.Path(self.directory) / pathlib.Path(path).name)
        error = unreadable(path)
        if error is not None:
            where = _move_aside(path)
            logging.warning(
                "checkpoint %s does not read back (%s); moved to %s, the "
                "older checkpoints are kept", path, error, where,
            )  # fmt: skip
            self._keep_newest()
            return None
        self._keep_newest()
        return path

    def _keep_newest(self):
        """Deletes all but the newest `max_to_keep` intact checkpoints."""
        found = checkpoints_in(self.directory)
        for old in found[self._max_to_keep :]:
            for f in pathlib.Path(old).parent.glob(
                pathlib.Path(old).name + ".*"
            ):
                f.unlink()
        kept = found[: self._max_to_keep]
        if kept:
            write_checkpoint_state(self.directory, kept[0], kept[::-1])
        self._new_manager()


def write_checkpoint_state(directory, latest, all_paths):
    """Writes the `checkpoint` state file that `tf.train.latest_checkpoint`
    reads (a CheckpointState text proto), atomically; names are relative to
    `directory`, as the CheckpointManager writes them. (TensorFlow's own
    `update_checkpoint_state` is deprecated and warns at every call.)"""
    lines = [f'model_checkpoint_path: "{pathlib.Path(latest).name}"']
    lines += [
        f'all_model_checkpoint_paths: "{pathlib.Path(p).name}"'
        for p in all_paths
    ]
    write_text_atomic(
        pathlib.Path(directory) / "checkpoint", "\n".join(lines) + "\n"
    )


def unreadable(prefix):
    """Why checkpoint `prefix` cannot be read back, or None if every tensor
    reads (each read checks that tensor's checksum)."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, IndexError, ValueError) as e:
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200]}"
    return None


_CKPT = re.compile(r"^(ckpt-(\d+))\.(index|data-\d+-of-\d+)$")


def checkpoints_in(directory):
    """Checkpoint prefixes in `directory`, newest first, from the files
    present (an index or a data file; the state file may be stale)."""
    numbers = {}
    for f in pathlib.Path(directory).glob("ckpt-*"):
        match = _CKPT.match(f.name)
        if match:
            numbers[int(match.group(2))] = str(f.parent / match.group(1))
    return [numbers[n] for n in sorted(numbers, reverse=True)]


def _move_aside(prefix):
    """Moves every file of checkpoint `prefix` into damaged/; returns it."""
    prefix = pathlib.Path(prefix)
    damaged = prefix.parent / "damaged"
    damaged.mkdir(exist_ok=True)
    for f in prefix.parent.glob(prefix.name + ".*"):
        f.rename(damaged / f.name)
    return damaged
