"""Where a compiled call gets its batches: from memory, or from tf.data.

A source answers three questions, and nothing else:

- `steps_per_epoch(epoch)`: the number of steps of an epoch;
- `calls(epoch, skip, steps_per_call)`: on the host, the calls of an epoch
  from step `skip` on, each as `(num_steps, inputs)`, where `inputs` is
  what the compiled call takes (tensors, or a distributed iterator);
- `batch(inputs, i)`: inside the compiled call, the global batch of step
  `i`, as `strategy.run` takes it (already split over the replicas).

Two attributes: `static_shapes` is True when every batch of a call has one
shape, known when the call is compiled: XLA may then compile the whole
call, steps and all. `input_signature`, when not None, is the `inputs`' spec
for all calls, so the call is traced once (not once for full calls and
again for the last partial batch).

- `InMemorySource`: a `loops.InMemory`. Each call gathers its examples at
  once on the host, as a block [num_steps, batch, ...]; step i reads row i
  (a gather per step cost 17% of an MLP's step, this ~1%). A last partial
  batch gets a call of its own, so every call's batches share one shape.
- `DatasetSource`: a finite `tf.data.Dataset`, or a callable
  `(epoch, skip) -> Dataset`, through
  `strategy.experimental_distribute_dataset`; one `get_next` per step.
"""

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


def source_for(data, strategy, name):
    """The source for `data`; a `Source` is used as given (the extension
    point for other inputs)."""
    if isinstance(data, Source):
        return data
    in_memory = data if isinstance(data, InMemory) else None
    if in_memory is None and callable(getattr(data, "in_memory", None)):
        in_memory = data.in_memory()
    if in_memory is not None and not isinstance(
        strategy, tf.distribute.TPUStrategy
    ):
        return InMemorySource(in_memory, strategy)
    # TPU replicas cannot read host memory: the same batches via tf.data.
    return DatasetSource(data, strategy, name)


class Source:
    """What the engine asks of an input (see the module docstring)."""

    static_shapes = False
    input_signature = None

    def steps_per_epoch(self, epoch):
        raise NotImplementedError

    def calls(self, epoch, skip, steps_per_call):
        raise NotImplementedError

    def batch(self, inputs, i):
        raise NotImplementedError


def _chunks(first, last, steps_per_call):
    """[(step, num_steps)] covering steps first..last-1 in calls."""
    return [
        (s, min(steps_per_call, last - s))
        for s in range(first, last, steps_per_call)
    ]


class InMemorySource(Source):
    static_shapes = True

    def __init__(self, data, strategy):
        self.data, self.strategy = data, strategy
        self._tensors = data.tensors()  # once: host memory, no copy per call
        self.input_signature = tuple(  # blocks [num_steps, batch, ...]
            tf.TensorSpec([None, None, *t.shape[1:]], t.dtype)
            for t in self._tensors
        )

    def steps_per_epoch(self, epoch):
        return self.data.steps_per_epoch

    def calls(self, epoch, skip, steps_per_call):
        b, order = self.data.batch_size, self.data.indices(epoch)
        full = len(order) // b  # steps with a full batch
        chunks = _chunks(min(skip, full), full, steps_per_call)
        if full < self.steps_per_epoch(epoch) and skip <= full:
            chunks.append((full, 1))  # the partial batch, alone
        for step, n in chunks:
            with tf.device("/CPU:0"):
                idx = order[step * b : (step + n) * b]
                size = len(idx) // n
                block = tuple(
                    tf.reshape(tf.gather(t, idx), [n, size, *t.shape[1:]])
                    for t in self._tensors
                )
            yield n, block

    def batch(self, block, i):
        batch = tuple(t[i] for t in block)
        if self.data.map_fn is not None:
            batch = self.data.map_fn(*batch)
        replicas = self.strategy.num_replicas_in_sync
        if replicas == 1:
            return batch

        def shard(ctx):  # replica r of R: rows [r b / R, (r + 1) b / R)
            r = ctx.replica_id_in_sync_group
            b = tf.shape(tf.nest.flatten(batch)[0])[0]
            lo, hi = r * b // replicas, (r + 1) * b // replicas
            return tf.nest.map_structure(lambda t: t[lo:hi], batch)

        return self.strategy.experimental_distribute_values_from_function(shard)


class DatasetSource(Source):
    def __init__(self, data, strategy, name):
        self.data, self.strategy, self.name = data, strategy, name
        self._last = None  # ((epoch, skip), dataset): made once, asked twice

    def dataset(self, epoch, skip):
        if self._last is not None and self._last[0] == (epoch, skip):
            return self._last[1]
        data = self.data
        if callable(data) and not isinstance(data, tf.data.Dataset):
            ds = data(epoch, skip)
        else:
            ds = data.skip(skip) if skip else data
        self._last = ((epoch, skip), ds)
        return ds

    def steps_per_epoch(self, epoch):
        n = int(self.dataset(epoch, 0).cardinality())
        if n < 0:
            raise ValueError(
                f"{self.name} has unknown or infinite length; expected a "
                "finite tf.data.Dataset (or a Pipeline) with a known "
                "cardinality"
            )
        return n

    def calls(self, epoch, skip, steps_per_call):
        steps = self.steps_per_epoch(epoch)
        ds = self.dataset(epoch, skip)
        iterator = iter(self.strategy.experimental_distribute_dataset(ds))
        for _, n in _chunks(skip, steps, steps_per_call):
            yield n, iterator

    def batch(self, iterator, i):
        return next(iterator)
