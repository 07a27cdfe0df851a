"""Examples held in memory, batched inside the compiled training call.

The engine's fast input path. A `tf.data` pipeline that batches examples
one by one costs about a third of an MLP's step on a 2-core CPU (measured
by `python -m benchmarks.speed --table=pipeline`); here a batch is one
`tf.gather` of a slice of the epoch's permutation, inside the same
`tf.function` as the step, so no input op runs outside it.

    data = loops.InMemory((x, y), batch_size=128, order=loops.shuffled(0))
    loops.fit(model, optimizer, task, data)

`dataset(epoch, skip)` gives the same batches, in the same order, as a
`tf.data.Dataset` (for TPUs, `model.fit` and comparisons). The order of an
epoch is a pure function of (seed, epoch), so a resumed run sees the same
batches as one never interrupted.
"""

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 31-bit seed for one epoch's order."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1)[0]
    return int(state) & (2**31 - 1)


def shuffled(seed: int) -> Callable[[int], np.ndarray]:
    """`order(epoch)`: a permutation of the examples, new each epoch."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r}; expected an integer >= 0")

    def order(epoch, n):
        return np.random.default_rng(epoch_seed(seed, epoch)).permutation(n)

    return order


@dataclasses.dataclass(frozen=True, eq=False)
class InMemory:
    """Training or validation data as arrays, batched by the engine.

    Attributes:
      arrays: a tuple of arrays (e.g. `(images, labels)`) with one leading
        example dimension n.
      batch_size: the global batch size.
      order: None for file order, or `order(epoch, n)` -> a permutation of
        `range(n)` (`shuffled(seed)`).
      drop_remainder: drop the last partial batch.
      map_fn: `map_fn(*batch) -> batch`, applied to each gathered global
        batch (as `Dataset.map` after `batch`); TensorFlow ops only.
    """

    arrays: tuple
    batch_size: int
    order: Callable | None = None
    drop_remainder: bool = False
    map_fn: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.arrays, tuple) or not self.arrays:
            raise ValueError(
                f"arrays={type(self.arrays).__name__}; expected a non-empty "
                "tuple of arrays such as (images, labels)"
            )
        sizes = [len(a) for a in self.arrays]
        if len(set(sizes)) != 1:
            raise ValueError(
                f"arrays have {sizes} examples; expected one size for all"
            )
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batch_size={b!r}; expected an integer >= 1")
        if self.drop_remainder and sizes[0] < b:
            raise ValueError(
                f"batch_size={b} with drop_remainder=True leaves no batch "
                f"from {sizes[0]} examples"
            )
        if self.order is not None and not callable(self.order):
            raise ValueError(
                f"order={self.order!r}; expected None or order(epoch, n)"
            )

    @property
    def num_examples(self) -> int:
        return len(self.arrays[0])

    @property
    def steps_per_epoch(self) -> int:
        n, b = self.num_examples, self.batch_size
        return n // b if self.drop_remainder else -(-n // b)

    def indices(self, epoch: int) -> np.ndarray:
        """The example indices of one epoch, in order (int64, used part)."""
        n = self.num_examples
        if self.order is None:
            idx = np.arange(n)
        else:
            idx = np.asarray(self.order(epoch, n))
            if idx.shape != (n,):
                raise ValueError(
                    f"order({epoch}, {n}) has shape {idx.shape}; expected "
                    f"a permutation of shape ({n},)"
                )
        used = self.steps_per_epoch * self.batch_size
        return idx[:used].astype(np.int64) if used < n else idx.astype(np.int64)

    def tensors(self):
        """The arrays as tensors in host memory (made once per engine)."""
        with tf.device("/CPU:0"):
            return tuple(tf.convert_to_tensor(a) for a in self.arrays)

    def gather(self, tensors, idx):
        """The batch of examples `idx`, with `map_fn` applied."""
        batch = tuple(tf.gather(t, idx) for t in tensors)
        return batch if self.map_fn is None else self.map_fn(*batch)

    def dataset(self, epoch: int = 0, skip: int = 0, tensors=None):
        """The same batches as a `tf.data.Dataset` (skipping `skip`)."""
        tensors = self.tensors() if tensors is None else tensors
        idx = self.indices(epoch)[skip * self.batch_size :]
        # Batches all full (the used examples divide by batch_size) keep
        # a static batch size: the engine then reads them in blocks
        # without ragged tensors.
        full = self.drop_remainder or self.num_examples % self.batch_size == 0
        ds = tf.data.Dataset.from_tensor_slices(idx).batch(
            self.batch_size, drop_remainder=full
        )
        ds = ds.map(
            lambda i: self.gather(tensors, i),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        # tf.data's autotuning took CPU from a convnet's step on 2 cores
        # (BUILD.md, "Input pipeline"); without it AUTOTUNE means a thread
        # per core.
        options = tf.data.Options()
        options.autotune.enabled = False
        return ds.prefetch(2).with_options(options)

    __call__ = dataset
