"""A task: what the engine does with one batch.

The seam between models and the engine. A task is two functions and the
metrics they update; everything else (compilation, distribution, metrics
reset, callbacks, checkpoints, summaries) is the engine's.

- `train_step(model, optimizer, batch) -> {name: scalar}`
- `test_step(model, batch) -> {name: scalar}` (optional)
- `examples(batch) -> scalar` (optional): how many examples this
  replica's batch holds, the weight of its step values in the epoch's
  means; by default the rows of the batch's first tensor. A batch whose
  first tensor is not one row per example says it here (a graph batch's
  nodes: the graphs are the examples).

Each returned scalar is this replica's share of a global-batch mean (see
`loops.scaling`); the engine sums shares over replicas. Supervised learning
is `supervised(loss)`. A VAE, a capsule network or a DB-VAE is
`supervised(their_loss)` with a per-example loss over the model's outputs;
a GAN writes its own `train_step` with two tapes and passes a dict of
optimizers keyed by the sub-model attribute each one trains.
"""

import dataclasses
import functools
from collections.abc import Callable

from loops import step as step_lib
from loops.scaling import replica_loss


@dataclasses.dataclass(frozen=True)
class Task:
    train_step: Callable
    test_step: Callable | None = None
    metrics: tuple | dict = ()
    examples: Callable | None = None

    def __post_init__(self):
        if not callable(self.train_step):
            raise TypeError(
                f"train_step={self.train_step!r}; expected a callable "
                "(model, optimizer, batch) -> dict of scalars"
            )
        if self.test_step is not None and not callable(self.test_step):
            raise TypeError(
                f"test_step={self.test_step!r}; expected a callable "
                "(model, batch) -> dict of scalars, or None"
            )
        if self.examples is not None and not callable(self.examples):
            raise TypeError(
                f"examples={self.examples!r}; expected a callable "
                "batch -> number of examples, or None"
            )

    def all_metrics(self):
        if isinstance(self.metrics, dict):
            return [m for group in self.metrics.values() for m in group]
        return list(self.metrics)


def supervised(loss, *, loss_weights=None, metrics=(), clip_norm=None):
    """The default task: forward, loss, backward, update on (x, y) batches.

    Args:
      loss: a Keras loss, a loss name, a per-example callable, or a dict of
        them for a model with dict outputs (multi-task learning).
      loss_weights: dict of weights for a dict of losses.
      metrics: Keras metrics, or a dict {output name: [metrics]}.
      clip_norm: clip the gradient to this global norm (over all
        replicas: `loops.step.clip_by_global_norm`), or None.
    """
    if clip_norm is not None and not (
        isinstance(clip_norm, int | float)
        and not isinstance(clip_norm, bool)
        and clip_norm > 0
    ):
        raise ValueError(
            f"clip_norm={clip_norm!r}; expected a number > 0 or None"
        )
    if isinstance(metrics, dict):
        metrics = {k: tuple(v) for k, v in metrics.items()}
        _check_metrics([m for group in metrics.values() for m in group])
    else:
        metrics = tuple(metrics)
        _check_metrics(metrics)
    loss_fn = replica_loss(loss, loss_weights)
    return Task(
        train_step=functools.partial(
            step_lib.train_step,
            loss_fn=loss_fn,
            metrics=metrics,
            clip_norm=clip_norm,
        ),
        test_step=functools.partial(
            step_lib.test_step, loss_fn=loss_fn, metrics=metrics
        ),
        metrics=metrics,
    )


def _check_metrics(metrics):
    for metric in metrics:
        if not hasattr(metric, "update_state"):
            raise TypeError(
                f"metrics entry {metric!r}; expected a Keras metric object, "
                "e.g. keras.metrics.SparseCategoricalAccuracy(name="
                '"accuracy") (names such as "accuracy" are resolved by '
                "Keras' compile, which the loop's step does not use)"
            )
