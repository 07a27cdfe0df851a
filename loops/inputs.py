"""How a compiled call gets its batches: from tf.data, or from memory.

The engine asks a source for the steps of an epoch, the inputs of one call
(`call_inputs`, passed to the `tf.function`), and inside that function
what the call starts with (`begin_call`), the batch of step i
(`next_batch`) and how a replica takes its part of it (`per_replica`).

- `DatasetSource`: a `tf.data.Dataset`, or a callable `(epoch, skip)` ->
  Dataset, distributed with `strategy.experimental_distribute_dataset`;
  one element per step.
- `DatasetBlocksSource`: the same data on one device, read in blocks of
  up to `steps_per_execution` batches (one tf.data element per call, not
  per step: a `get_next` in the step loop cost ~80 us of an MLP step's
  ~600); batches of one shape per call, so XLA can compile the whole call.
- `InMemorySource`: a `loops.InMemory`; the call gets the indices of its
  examples, gathers them at once and takes one global batch per step (a
  last partial batch has a call of its own, so all batches of a call have
  one shape and XLA can compile the whole call); replica r of R takes rows
  [r b / R, (r + 1) b / R) of a batch of b.
"""

import numpy as np
import tensorflow as tf

from loops.in_memory import InMemory

_MULTI_DEVICE = (
    tf.distribute.MirroredStrategy,
    tf.distribute.MultiWorkerMirroredStrategy,
    tf.distribute.TPUStrategy,
    tf.distribute.experimental.ParameterServerStrategy,
)


def single_device(strategy):
    return strategy.num_replicas_in_sync == 1 and not isinstance(
        strategy, _MULTI_DEVICE
    )


def source_for(data, strategy, name, epoch=0):
    """The source for `data`: in memory, or tf.data read in blocks, where
    the strategy allows it.

    A `Source` is used as given: the extension point for other inputs.
    A callable `(epoch, skip)` is first called for `epoch` (the epoch a
    resumed run starts at: data drawn per epoch is drawn in order).
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
    source = DatasetSource(data, strategy, name)
    spec = source.element_spec(epoch)
    if single_device(strategy) and _blockable(spec):
        return DatasetBlocksSource(data, strategy, name, spec=spec)
    return source


# Blocks for small examples only (MNIST's are 3 KiB): a block holds
# `steps_per_execution` batches and the next one is prefetched; for bigger
# examples the ~80 us of a per-step `get_next` is small beside the step.
MAX_BLOCK_EXAMPLE_BYTES = 16 * 1024
MAX_BLOCK_BYTES = 64 * 1024 * 1024  # when the batch size is static


def _example_bytes(spec):
    """Bytes of one example of dense batches whose shapes are known but
    for the batch dimension; None for any other element."""
    total = 0
    for s in tf.nest.flatten(spec):
        if not (
            isinstance(s, tf.TensorSpec)
            and s.dtype != tf.string
            and s.shape.rank
            and s.shape[1:].is_fully_defined()
        ):
            return None
        total += s.shape[1:].num_elements() * s.dtype.size
    return total


def _blockable(spec):
    size = _example_bytes(spec)
    return size is not None and size <= MAX_BLOCK_EXAMPLE_BYTES


class Source:
    """What the engine asks of an input (see the module docstring)."""

    # Every batch of a call has one shape known when XLA compiles the call.
    static_batches = False

    def steps_per_epoch(self, epoch):
        raise NotImplementedError

    def start_epoch(self, epoch, skip):
        raise NotImplementedError

    def plan(self, steps_per_execution):
        """The most steps a training call runs (told once, before any)."""

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
    def __init__(self, data, strategy, name, spec=None):
        self.data, self.strategy, self.name = data, strategy, name
        self._iterator, self._spec = None, spec
        self._last = None  # ((epoch, skip), dataset): fit asks up to 3 times

    def epoch_dataset(self, epoch, skip):
        if self._last is not None and self._last[0] == (epoch, skip):
            return self._last[1]
        data = self.data
        if callable(data) and not isinstance(data, tf.data.Dataset):
            ds = data(epoch, skip)
        else:
            ds = data.skip(skip) if skip else data
        self._spec, self._last = ds.element_spec, ((epoch, skip), ds)
        return ds

    def element_spec(self, epoch=0):
        """The element spec, from the first dataset made (else `epoch`'s)."""
        if self._spec is None:
            self.epoch_dataset(epoch, 0)
        return self._spec

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


class DatasetBlocksSource(DatasetSource):
    """A dataset on one device, one element of up to `block` batches per call.

    The host pulls a block of `block` batches and cuts it into runs of
    batches of one size (all of it but for a smaller last batch); a call
    runs steps of one run and takes batch `offset + i` of it at step i.
    The dataset's order is kept.
    """

    static_batches = True

    def __init__(self, data, strategy, name, block=32, spec=None):
        super().__init__(data, strategy, name, spec)
        self.plan(block)
        self._runs, self._offset = [], 0

    def plan(self, steps_per_execution):
        spec = tf.nest.flatten(self.element_spec())
        batch = spec[0].shape[0] if all(s.shape[0] for s in spec) else 1
        most = MAX_BLOCK_BYTES // (batch * _example_bytes(spec))
        self.block = max(1, min(steps_per_execution, most))
        self._blocks = None

    def start_epoch(self, epoch, skip):
        # A dataset (not a callable) is the same every epoch: its blocks
        # are built once (a ragged batch traces a function, ~10 ms).
        fixed = isinstance(self.data, tf.data.Dataset) and not skip
        blocks = self._blocks if fixed else None
        if blocks is None:
            blocks = self._blocks_of(self.epoch_dataset(epoch, skip))
            if fixed:
                self._blocks = blocks
        self._iterator = iter(blocks.prefetch(1))
        self._runs, self._offset = [], 0

    def _blocks_of(self, ds):
        specs = tf.nest.flatten(ds.element_spec)
        if all(s.shape[0] is not None for s in specs):
            return ds.batch(self.block)
        # Batch sizes unknown to tf.data (a smaller last batch): ragged
        # blocks, cut into runs of one batch size on the host.
        return ds.ragged_batch(self.block)

    def call_steps(self, step, n):
        if self._runs and self._offset == self._length(self._runs[0]):
            self._runs.pop(0)
            self._offset = 0
        if not self._runs:
            self._runs = _dense_runs(next(self._iterator))
        return min(n, self._length(self._runs[0]) - self._offset)

    @staticmethod
    def _length(block):
        return int(tf.nest.flatten(block)[0].shape[0])

    def call_inputs(self, step, n):
        inputs = self._runs[0], tf.constant(self._offset, tf.int32)
        self._offset += n
        return inputs

    def next_batch(self, inputs, i):
        block, offset = inputs
        j = offset + tf.cast(i, tf.int32)
        return tf.nest.map_structure(lambda t: t[j], block)


def _dense_runs(block):
    """A ragged block [k, (b), ...] as dense blocks [k_j, b_j, ...], one per
    run of batches of one size, in order; a dense block as it is."""
    leaves = tf.nest.flatten(block)
    ragged = [t for t in leaves if isinstance(t, tf.RaggedTensor)]
    if not ragged:
        return [block]
    sizes = ragged[0].row_lengths().numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)])
    runs, i = [], 0
    while i < len(sizes):
        j = i + 1
        while j < len(sizes) and sizes[j] == sizes[i]:
            j += 1

        def cut(t, i=i, j=j):
            if not isinstance(t, tf.RaggedTensor):
                return t[i:j]
            rows = t.flat_values[starts[i] : starts[j]]
            return tf.reshape(rows, [j - i, sizes[i], *rows.shape[1:]])

        runs.append(tf.nest.pack_sequence_as(block, [cut(t) for t in leaves]))
        i = j
    return runs


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
