"""tf.data pipelines whose order is a pure function of (seed, epoch).

A resumed run must see the same batches as a run never interrupted, and a
distributed iterator cannot be checkpointed (tensorflow issue 56372). So
each epoch gets its own shuffle seed derived from (seed, epoch), and a
resumed epoch skips the batches it already consumed.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from experiments.data.sources import Split


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 31-bit shuffle seed for one epoch."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]) & (
        2**31 - 1
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Pipeline:
    """Batches of (images, labels) for one split, epoch by epoch.

    Call `pipeline(epoch)` (or `for_epoch`) for a finite `tf.data.Dataset`
    of that epoch; `as_dataset()` gives one dataset that reshuffles on each
    iteration, for `model.fit`.
    """

    split: Split
    batch_size: int
    shuffle: bool = True
    seed: int = 0
    drop_remainder: bool = False
    map_fn: object = None  # (images, labels) -> batch, after batching

    def __post_init__(self):
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(
                f"batch_size={self.batch_size!r}; expected an integer >= 1"
            )
        if self.drop_remainder and len(self.split) < self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} with drop_remainder=True "
                f"leaves no batch from {len(self.split)} examples"
            )
        base = tf.data.Dataset.from_tensor_slices(
            (self.split.x, self.split.y)
        ).cache()
        object.__setattr__(self, "_base", base)

    @property
    def steps_per_epoch(self) -> int:
        n, b = len(self.split), self.batch_size
        return n // b if self.drop_remainder else -(-n // b)

    def _finish(self, ds):
        ds = ds.batch(self.batch_size, drop_remainder=self.drop_remainder)
        if self.map_fn is not None:
            ds = ds.map(self.map_fn, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def map(self, fn):
        """The same pipeline with `fn(images, labels)` applied per batch."""
        return dataclasses.replace(self, map_fn=fn)

    def for_epoch(self, epoch: int, skip_batches: int = 0) -> tf.data.Dataset:
        ds = self._base
        if self.shuffle:
            ds = ds.shuffle(
                len(self.split),
                seed=epoch_seed(self.seed, epoch),
                reshuffle_each_iteration=False,
            )
        ds = self._finish(ds)
        return ds.skip(skip_batches) if skip_batches else ds

    __call__ = for_epoch

    def as_dataset(self) -> tf.data.Dataset:
        ds = self._base
        if self.shuffle:
            ds = ds.shuffle(
                len(self.split), seed=self.seed, reshuffle_each_iteration=True
            )
        return self._finish(ds)
