"""The loop's options, checked at construction, and what "auto" picks."""

import dataclasses
import os

import keras
import tensorflow as tf

from keras_cheats.checks import integer as check_int

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
      jit_compile: compile the step with XLA. "auto" (default): decided
        once, before the first step, by `auto_jit_compile` (per device
        type); the engine logs the decision and its reason. Gradient
        clipping is the task's (`loops.supervised(clip_norm=...)`).
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
    seed: int | None = None
    deterministic: bool = False
    checkpoint_every_steps: int = 0
    max_checkpoints: int = 3
    verbose: int = 1

    def __post_init__(self):
        check_int("epochs", self.epochs, 1)
        if self.steps_per_execution != AUTO:
            check_int("steps_per_execution", self.steps_per_execution, 1)
        if self.jit_compile not in (True, False, AUTO):
            raise ValueError(
                f"jit_compile={self.jit_compile!r}; expected True, False "
                "or 'auto'"
            )
        check_int("checkpoint_every_steps", self.checkpoint_every_steps, 0)
        check_int("max_checkpoints", self.max_checkpoints, 1)
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose={self.verbose!r}; expected 0, 1 or 2")
        if self.seed is not None:
            check_int("seed", self.seed, 0)
        if self.deterministic and self.seed is None:
            raise ValueError("deterministic=True needs a seed; got seed=None")

    def resolved(
        self,
        model,
        steps_per_epoch,
        num_replicas=1,
        device_type="CPU",
        whole_calls=True,
    ):
        """These options with "auto" replaced by what it picks here; the
        reason for the XLA decision is in `jit_reason`."""
        spe = self.steps_per_execution
        if spe == AUTO:
            spe = min(AUTO_STEPS_PER_EXECUTION, max(steps_per_epoch, 1))
            if self.checkpoint_every_steps:
                spe = min(spe, self.checkpoint_every_steps)
        jit, why = self.jit_compile, "asked for"
        if jit == AUTO:
            jit, why = auto_jit_compile(
                model, num_replicas, device_type, self.deterministic
            )
            if jit and not whole_calls:
                jit, why = False, "tf.data input: XLA is tried on whole calls"
        resolved = dataclasses.replace(
            self, steps_per_execution=spe, jit_compile=jit
        )
        object.__setattr__(resolved, "jit_reason", why)
        return resolved


def auto_jit_compile(model, num_replicas, device_type, deterministic):
    """What jit_compile="auto" picks, and why: (bool, reason).

    Off with several replicas or op determinism (as Keras' own "auto").
    On a CPU, measured on a 2-core x86 CPU (BUILD.md, "Defaults chosen
    from these measurements"; 32 steps per call, examples/s with XLA on
    vs off): MLP 156,839 vs 93,334; VAE 63,632 vs 35,316; CNN 72 vs
    4,250; capsule network 30 vs 694. So XLA for dense models only (every
    variable a vector or a matrix, no recurrent layer). On a GPU or TPU
    nothing was measured here: Keras' rule (XLA when every layer supports
    it), which Keras chose for those devices.
    """
    determinism = deterministic or os.environ.get(
        "TF_DETERMINISTIC_OPS", "0"
    ) not in ("", "0")
    if num_replicas > 1:
        return False, f"{num_replicas} replicas"
    if determinism:
        return False, "op determinism"
    if device_type == "CPU":
        if is_dense(model):
            return True, "dense model on a CPU"
        return False, "not a dense model, on a CPU"
    if all(layer.supports_jit for layer in _layers(model)):
        return True, f"every layer supports XLA, on a {device_type}"
    return False, f"a layer does not support XLA, on a {device_type}"


_DEVICE_STRATEGIES = (
    tf.distribute.MirroredStrategy,
    tf.distribute.MultiWorkerMirroredStrategy,
    tf.distribute.OneDeviceStrategy,
)


def device_type(strategy):
    """ "CPU", "GPU" or "TPU": where the strategy's steps run."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "TPU"
    if isinstance(strategy, _DEVICE_STRATEGIES):
        devices = strategy.extended.worker_devices
    else:  # the default strategy places steps on GPU:0 when there is one
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    kinds = {tf.DeviceSpec.from_string(d).device_type for d in devices}
    return "GPU" if "GPU" in kinds else "CPU"


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
