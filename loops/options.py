"""The loop's options, checked at construction, and what "auto" picks."""

import dataclasses
import os

import keras

AUTO = "auto"
# Steps per compiled call when steps_per_execution="auto": at 32 the
# per-call cost (callbacks, one host read) is under 3% of an MLP epoch on
# a 2-core CPU; more changes nothing measurable (BUILD.md, speed).
AUTO_STEPS_PER_EXECUTION = 32


@dataclasses.dataclass(frozen=True)
class LoopOptions:
    """How `loops.fit` trains.

    Attributes:
      epochs: passes over the training data.
      steps_per_execution: training steps per compiled call (a `tf.range`
        loop inside one `tf.function`, like Orbit's `steps_per_loop`);
        callbacks and the progress bar see the boundaries between calls.
        "auto" (default): 32, or fewer when the epoch or
        `checkpoint_every_steps` is shorter; 1 gives per-batch callbacks.
      jit_compile: compile the step with XLA. "auto" (default): XLA for
        models of dense layers only (measured about 1.8x faster on a CPU)
        and not for convolutional, recurrent or capsule models (measured
        slower on a CPU), nor with op determinism or several replicas
        (as Keras' "auto"); if XLA cannot compile the step, the engine
        logs why and trains without it.
      clip_norm: clip gradients to this global norm; None for no clipping.
      seed: seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`).
      deterministic: also `tf.config.experimental.enable_op_determinism()`.
      checkpoint_every_steps: also checkpoint within epochs, every this many
        steps (rounded up to a call boundary); 0 checkpoints at epoch ends.
      max_checkpoints: checkpoints kept by the manager.
      verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
    """

    epochs: int = 1
    steps_per_execution: int | str = AUTO
    jit_compile: bool | str = AUTO
    clip_norm: float | None = None
    seed: int | None = None
    deterministic: bool = False
    checkpoint_every_steps: int = 0
    max_checkpoints: int = 3
    verbose: int = 1

    def __post_init__(self):
        _check_int("epochs", self.epochs, 1)
        if self.steps_per_execution != AUTO:
            _check_int("steps_per_execution", self.steps_per_execution, 1)
        if self.jit_compile not in (True, False, AUTO):
            raise ValueError(
                f"jit_compile={self.jit_compile!r}; expected True, False "
                "or 'auto'"
            )
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

    def resolved(self, model, steps_per_epoch, num_replicas=1):
        """These options with "auto" replaced by what it picks here."""
        spe = self.steps_per_execution
        if spe == AUTO:
            spe = min(AUTO_STEPS_PER_EXECUTION, max(steps_per_epoch, 1))
            if self.checkpoint_every_steps:
                spe = min(spe, self.checkpoint_every_steps)
        jit = self.jit_compile
        if jit == AUTO:
            jit = (
                is_dense(model)
                and num_replicas == 1
                and not self.deterministic
                and os.environ.get("TF_DETERMINISTIC_OPS", "0") in ("", "0")
            )
        return dataclasses.replace(
            self, steps_per_execution=spe, jit_compile=jit
        )


def is_dense(model):
    """True when no layer convolves or recurs: every variable is a vector
    or a matrix (a convolution kernel or a capsule transform has rank 3 or
    more) and no layer is a Keras RNN. An unbuilt model is not known to be
    dense."""
    if not model.variables or any(len(v.shape) > 2 for v in model.variables):
        return False
    return not any(isinstance(x, keras.layers.RNN) for x in _layers(model))


def _layers(layer):
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from _layers(child)
    for attr in ("layer", "forward_layer", "backward_layer"):
        child = getattr(layer, attr, None)
        if isinstance(child, keras.layers.Layer):
            yield from _layers(child)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}; expected an integer >= {minimum}")
