"""What a run keeps in its folder, for `loops.fit` and `model.fit` alike.

    model_dir/
      checkpoints/      model and optimizer variables, (epoch, step in epoch)
                        and the history of the finished epochs
      history.json      a copy of that history, written after each checkpoint
      tensorboard/      train/ and validation/ scalars, one point per epoch

`RunFolder(None, ...)` keeps nothing: every method still works, so the
engine has no `if model_dir` branches. A rerun into the same folder resumes
from the latest checkpoint (`restore`). In a multi-worker run only the chief
writes; the other workers take part in each (collective) save into a
throwaway folder, as TensorFlow requires.
"""

import pathlib

import keras
import tensorflow as tf
from absl import logging

from loops import checkpointing
from loops.trainer import build_optimizers


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker"
        and task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def learning_rate(optimizer):
    """The current learning rate (a schedule's value at this step)."""
    if isinstance(optimizer, dict):
        optimizer = next(iter(optimizer.values()))
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class RunFolder:
    def __init__(
        self, model_dir, model, optimizer, strategy, max_checkpoints=3
    ):
        self.dir = pathlib.Path(model_dir) if model_dir else None
        self.chief = is_chief(strategy)
        ckpt_dir = write_dir = None
        if self.dir is not None:
            ckpt_dir = self.dir / "checkpoints"
            if not self.chief:
                task_id = strategy.cluster_resolver.task_id
                write_dir = self.dir / f".worker_{task_id}_checkpoints"
        self.checkpoint_dir = ckpt_dir
        with strategy.scope():
            build_optimizers(model, optimizer)
            self.state = checkpointing.RunState(
                model, optimizer, ckpt_dir, max_checkpoints, write_dir
            )
        self.history, self.global_step = {}, 0
        self._writers = {}
        if self.dir is not None and self.chief:
            for name in ("train", "validation"):
                path = str(self.dir / "tensorboard" / name)
                self._writers[name] = tf.summary.create_file_writer(path)

    def restore(self):
        """Restores the latest checkpoint; returns (epoch, step in epoch),
        (0, 0) for a new run. `history` then holds the finished epochs."""
        if self.dir is not None and self.chief:
            for stray in self.dir.glob(".*.json.*"):  # a kill mid-write
                stray.unlink()
        restored = self.state.restore_latest()
        if restored:
            logging.info("resuming from %s", restored)
        epoch = int(self.state.epoch.numpy())
        self.global_step = int(self.state.global_step.numpy())
        self.history = {
            k: v[:epoch] for k, v in self.state.history.value.items()
        }
        return epoch, int(self.state.step_in_epoch.numpy())

    def save(self, epoch, step, so_far=None):
        """Checkpoints the run at (epoch, step in epoch); returns the path,
        or None without a folder or when a weight is not finite. Within an
        epoch, `so_far` = (Totals, metrics, seconds) of the epoch's steps
        until now, which `resume_epoch` gives back."""
        totals, metrics, seconds = so_far or (None, (), 0.0)
        self.state.epoch_so_far.value = (
            {
                "sums": totals.sums,
                "count": totals.count,
                "seconds": seconds,
                "metrics": [v.numpy().tolist() for v in _variables(metrics)],
            }
            if step and totals is not None
            else {}
        )
        self.state.epoch.assign(epoch)
        self.state.step_in_epoch.assign(step)
        self.state.global_step.assign(self.global_step)
        return self.state.save()

    def resume_epoch(self, totals, metrics):
        """Puts the restored epoch's sums so far into `totals` and its
        state into `metrics`; returns its seconds so far (0 if none)."""
        so_far = self.state.epoch_so_far.value
        if not so_far:
            return 0.0
        totals.sums, totals.count = dict(so_far["sums"]), so_far["count"]
        for variable, value in zip(
            _variables(metrics), so_far["metrics"], strict=True
        ):
            variable.assign(value)
        return so_far["seconds"]

    def end_epoch(self, epoch, logs):
        """Adds the epoch to the history, writes its summaries, then saves
        the checkpoint and history.json."""
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        self.state.history.value = self.history
        self._write_summaries(logs, epoch)
        self.save(epoch + 1, 0)
        if self.dir is not None and self.chief:
            checkpointing.write_json_atomic(
                self.dir / "history.json", self.history
            )

    def _write_summaries(self, logs, epoch):
        for k, v in logs.items():
            split = "validation" if k.startswith("val_") else "train"
            writer = self._writers.get(split)
            if writer is not None:
                with writer.as_default():
                    tf.summary.scalar(k.removeprefix("val_"), v, step=epoch)
        for writer in self._writers.values():
            writer.flush()


def _variables(metrics):
    return [v for m in metrics for v in m.variables]
