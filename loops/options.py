"""The loop's options, checked at construction."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class LoopOptions:
    """How `loops.fit` trains.

    Attributes:
      epochs: passes over the training data.
      steps_per_execution: training steps per compiled call (a `tf.range`
        loop inside one `tf.function`, like Orbit's `steps_per_loop`);
        callbacks and the progress bar see the boundaries between calls.
      jit_compile: compile the steps with XLA (measured faster for MLPs and
        slower for convnets on CPU, so it is off by default).
      clip_norm: clip gradients to this global norm; None for no clipping.
      seed: seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`).
      deterministic: also `tf.config.experimental.enable_op_determinism()`.
      checkpoint_every_steps: also checkpoint within epochs, every this many
        steps (rounded up to a call boundary); 0 checkpoints at epoch ends.
      max_checkpoints: checkpoints kept by the manager.
      verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
    """

    epochs: int = 1
    steps_per_execution: int = 1
    jit_compile: bool = False
    clip_norm: float | None = None
    seed: int | None = None
    deterministic: bool = False
    checkpoint_every_steps: int = 0
    max_checkpoints: int = 3
    verbose: int = 1

    def __post_init__(self):
        _check_int("epochs", self.epochs, 1)
        _check_int("steps_per_execution", self.steps_per_execution, 1)
        _check_int("checkpoint_every_steps", self.checkpoint_every_steps, 0)
        _check_int("max_checkpoints", self.max_checkpoints, 1)
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose={self.verbose!r}; expected 0, 1 or 2")
        if self.clip_norm is not None and not (
            isinstance(self.clip_norm, int | float) and self.clip_norm > 0
        ):
            raise ValueError(
                f"clip_norm={self.clip_norm!r}; expected a number > 0 or None"
            )
        if self.seed is not None:
            _check_int("seed", self.seed, 0)
        if self.deterministic and self.seed is None:
            raise ValueError("deterministic=True needs a seed; got seed=None")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}; expected an integer >= {minimum}")
