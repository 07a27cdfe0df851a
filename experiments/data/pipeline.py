"""Batches of one split whose order is a pure function of (seed, epoch).

A resumed run must see the same batches as a run never interrupted, and a
distributed iterator cannot be checkpointed (tensorflow issue 56372). So
each epoch's order is a permutation drawn from (seed, epoch), and a
resumed epoch skips the batches it already consumed.

A `Pipeline` is a `loops.InMemory` source for the engine (`in_memory()`:
the batches are gathered inside the compiled step, no tf.data op per
batch), and a `tf.data.Dataset` with the same batches for everything else
(`pipeline(epoch, skip)`, `as_dataset()` for `model.fit`).
"""

import dataclasses

import tensorflow as tf

from experiments.data.sources import Split
from loops.in_memory import InMemory, epoch_seed, shuffled


@dataclasses.dataclass(frozen=True, eq=False)
class Pipeline:
    """Batches of (images, labels) for one split, epoch by epoch.

    Call `pipeline(epoch)` (or `for_epoch`) for a finite `tf.data.Dataset`
    of that epoch; `as_dataset()` gives one dataset that reshuffles on each
    iteration, for `model.fit`; `in_memory()` the same batches as the
    engine's `loops.InMemory`.
    """

    split: Split
    batch_size: int
    shuffle: bool = True
    seed: int = 0
    drop_remainder: bool = False
    map_fn: object = None  # (images, labels) -> batch, after batching

    def __post_init__(self):
        source = InMemory(
            (self.split.x, self.split.y),
            self.batch_size,
            order=shuffled(self.seed) if self.shuffle else None,
            drop_remainder=self.drop_remainder,
            map_fn=self.map_fn,
        )
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_tensors", source.tensors())

    @property
    def steps_per_epoch(self) -> int:
        return self._source.steps_per_epoch

    def in_memory(self) -> InMemory:
        """This pipeline as the engine's in-memory source."""
        return self._source

    def map(self, fn):
        """The same pipeline with `fn(images, labels)` applied per batch."""
        return dataclasses.replace(self, map_fn=fn)

    def for_epoch(self, epoch: int, skip_batches: int = 0) -> tf.data.Dataset:
        return self._source.dataset(epoch, skip_batches, self._tensors)

    __call__ = for_epoch

    def as_dataset(self) -> tf.data.Dataset:
        n, source = len(self.split), self._source
        ds = tf.data.Dataset.range(n)
        if self.shuffle:
            ds = ds.shuffle(n, seed=self.seed, reshuffle_each_iteration=True)
        ds = ds.batch(self.batch_size, drop_remainder=self.drop_remainder)
        ds = ds.map(
            lambda i: source.gather(self._tensors, i),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return ds.prefetch(tf.data.AUTOTUNE)


__all__ = ["Pipeline", "epoch_seed"]
