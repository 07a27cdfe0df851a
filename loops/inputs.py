"""How a compiled call gets its batches: from tf.data, or from memory.

The engine asks a source for the steps of an epoch, the inputs of one call
(`call_inputs`, passed to the `tf.function`), and inside that function
what the call starts with (`begin_call`), the batch of step i
(`next_batch`) and how a replica takes its part of it (`per_replica`).

- `DatasetSource`: a `tf.data.Dataset`, or a callable `(epoch, skip)` ->
  Dataset, distributed with `strategy.experimental_distribute_dataset`.
- `InMemorySource`: a `loops.InMemory`; the call gets the indices of its
  examples, gathers them at once and takes one global batch per step (a
  last partial batch has a call of its own, so all batches of a call have
  one shape and XLA can compile the whole call); replica r of R takes rows
  [r b / R, (r + 1) b / R) of a batch of b.
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

    # Every batch of a call has one shape known when XLA compiles the call.
    static_batches = False

    def steps_per_epoch(self, epoch):
        raise NotImplementedError

    def start_epoch(self, epoch, skip):
        raise NotImplementedError

    def call_steps(self, step, n):
        """How many of the n steps from `step` the next call runs."""
        return n

    def call_inputs(self, step, n):
        raise NotImplementedError

    def begin_call(self, inputs, num_steps):
        """Inside the compiled call, before its first step."""
        return inputs

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

    def call_inputs(self, step, n):
        return self._iterator

    def next_batch(self, iterator, i):
        return next(iterator)


class InMemorySource(Source):
    static_batches = True

    def __init__(self, data, strategy):
        self.data, self.strategy = data, strategy
        self._tensors = data.tensors()  # once: host memory, no copy per call
        self._order = None

    def steps_per_epoch(self, epoch):
        return self.data.steps_per_epoch

    def start_epoch(self, epoch, skip):
        del skip  # each call's inputs name its examples
        self._order = self.data.indices(epoch)

    def call_steps(self, step, n):
        # A last partial batch gets a call of its own, so every call's
        # batches share one shape: [n * b] examples as [n, b, ...].
        b, total = self.data.batch_size, len(self._order)
        partial = total % b and step + n == self.steps_per_epoch(0)
        return n - 1 if partial and n > 1 else n

    def call_inputs(self, step, n):
        b = self.data.batch_size
        with tf.device("/CPU:0"):
            return tf.constant(self._order[step * b : (step + n) * b])

    def begin_call(self, idx, num_steps):
        # One gather for the whole call, then one batch per step by
        # indexing: a gather per step cost 17% of an MLP step, this ~1%.
        m = tf.shape(idx)[0]
        size = tf.minimum(m, self.data.batch_size)
        return tuple(
            tf.reshape(
                tf.gather(t, idx),
                tf.concat([[m // size, size], tf.shape(t)[1:]], 0),
            )
            for t in self._tensors
        )

    def next_batch(self, block, i):
        batch = tuple(t[i] for t in block)
        return batch if self.data.map_fn is None else self.data.map_fn(*batch)

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
