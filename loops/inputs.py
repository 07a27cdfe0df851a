"""How a compiled call gets its batches: from tf.data, or from memory.

The engine asks a source for three things: the steps of an epoch, the
inputs of one call (`call_inputs`, passed to the `tf.function`), and inside
that function the batch of step i (`next_batch`) and how a replica takes
its part of it (`per_replica`).

- `DatasetSource`: a `tf.data.Dataset`, or a callable `(epoch, skip)` ->
  Dataset, distributed with `strategy.experimental_distribute_dataset`.
- `InMemorySource`: a `loops.InMemory`; the call gets (epoch permutation,
  first step) and gathers each global batch in the graph; replica r of R
  takes rows [r b / R, (r + 1) b / R) of a batch of b.
"""

import tensorflow as tf

from loops.in_memory import InMemory


def source_for(data, strategy, name):
    """The source for `data`: in-memory where the strategy allows it.

    A `Source` is used as given: the extension point for other inputs.
    """
    if isinstance(data, Source):
        return data
    if isinstance(strategy, tf.distribute.TPUStrategy):
        # TPU replicas cannot gather from host memory: use tf.data.
        return DatasetSource(data, strategy, name)
    if isinstance(data, InMemory):
        return InMemorySource(data, strategy)
    if callable(getattr(data, "in_memory", None)):
        return InMemorySource(data.in_memory(), strategy)
    return DatasetSource(data, strategy, name)


class Source:
    """What the engine asks of an input (see the module docstring)."""

    def steps_per_epoch(self, epoch):
        raise NotImplementedError

    def start_epoch(self, epoch, skip):
        raise NotImplementedError

    def call_inputs(self, step):
        raise NotImplementedError

    def next_batch(self, inputs, i):
        raise NotImplementedError

    def per_replica(self, fn):
        return fn


class DatasetSource(Source):
    def __init__(self, data, strategy, name):
        self.data, self.strategy, self.name = data, strategy, name
        self._iterator = None

    def epoch_dataset(self, epoch, skip):
        data = self.data
        if callable(data) and not isinstance(data, tf.data.Dataset):
            return data(epoch, skip)
        return data.skip(skip) if skip else data

    def steps_per_epoch(self, epoch):
        n = int(self.epoch_dataset(epoch, 0).cardinality())
        if n < 0:
            raise ValueError(
                f"{self.name} has unknown or infinite length; expected a "
                "finite tf.data.Dataset (or a Pipeline) with a known "
                "cardinality"
            )
        return n

    def start_epoch(self, epoch, skip):
        ds = self.epoch_dataset(epoch, skip)
        self._iterator = iter(self.strategy.experimental_distribute_dataset(ds))

    def call_inputs(self, step):
        return self._iterator

    def next_batch(self, iterator, i):
        return next(iterator)


class InMemorySource(Source):
    def __init__(self, data, strategy):
        self.data, self.strategy = data, strategy
        self._tensors = data.tensors()  # once: host memory, no copy per call
        self._perm = None

    def steps_per_epoch(self, epoch):
        return self.data.steps_per_epoch

    def start_epoch(self, epoch, skip):
        del skip  # the call inputs carry the first step
        with tf.device("/CPU:0"):
            self._perm = tf.constant(self.data.indices(epoch))

    def call_inputs(self, step):
        return self._perm, tf.constant(step, tf.int64)

    def next_batch(self, inputs, i):
        perm, first = inputs
        b = self.data.batch_size
        start = (first + tf.cast(i, tf.int64)) * b
        idx = perm[start : tf.minimum(start + b, tf.size(perm, tf.int64))]
        return self.data.gather(self._tensors, idx)

    def per_replica(self, fn):
        replicas = self.strategy.num_replicas_in_sync
        if replicas == 1:
            return fn

        def shard(batch):
            r = tf.distribute.get_replica_context().replica_id_in_sync_group
            b = tf.shape(tf.nest.flatten(batch)[0])[0]
            lo, hi = r * b // replicas, (r + 1) * b // replicas
            return fn(tf.nest.map_structure(lambda t: t[lo:hi], batch))

        return shard
