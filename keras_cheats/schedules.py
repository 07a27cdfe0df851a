"""Learning-rate schedules for `--lr_schedule` (Cheat sheet 5, optimizers
and learning rate), built on `keras.optimizers.schedules`.

A step t is the optimizer's `iterations`: the number of `apply_gradients`
calls made so far. The update made by call t + 1 uses lr(t), so a run of
total_steps updates (epochs * steps_per_epoch) uses lr(0) ...
lr(total_steps - 1). With W = warmup_steps and T = total_steps - W:

    constant      lr
    cosine        lr * ((1 - alpha) * 0.5 * (1 + cos(pi * t / T)) + alpha)
                  t = min(step - W, T): the rate reaches alpha * lr at
                  step = total_steps and stays there
    exponential   lr * decay_rate^(t / T), t = step - W: the rate reaches
                  decay_rate * lr at step = total_steps and keeps falling
                  after it

Warm-up (W > 0), for step < W:

    constant, exponential   lr * (step + 1) / W     (`LinearWarmup`)
    cosine                  lr * step / W           (Keras' `CosineDecay`)

`LinearWarmup` counts from 1, so the first update already trains (lr / W)
and the full rate is reached at step W - 1; Keras' cosine warm-up counts
from 0, so its first update has rate 0 and the full rate is reached at
step W. Either way the schedule proper starts at step W with t = 0.

Usage:

    lr = learning_rate_schedule("cosine", 1e-3, 10 * 469, warmup_steps=100)
    model.compile(keras.optimizers.Adam(learning_rate=lr), loss="mse")
    model.fit(x, y, batch_size=128, epochs=10)  # 60000 / 128: 469 steps
"""

import math
import numbers

import keras

SCHEDULES = ("constant", "cosine", "exponential")

_Schedule = keras.optimizers.schedules.LearningRateSchedule


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@keras.saving.register_keras_serializable(package="keras_cheats")
class LinearWarmup(_Schedule):
    """Linear warm-up to `target` over `warmup_steps`, then `after`.

        lr(step) = target * (step + 1) / warmup_steps   step < warmup_steps
        lr(step) = after(step - warmup_steps)           otherwise

    The rate at step 0 is target / warmup_steps (> 0, so the first update
    trains) and it reaches `target` at step warmup_steps - 1.

    Args:
        target: float > 0, the rate at the end of the warm-up.
        warmup_steps: int >= 1.
        after: a float (a constant rate) or a `LearningRateSchedule`, which
            sees its step counted from the end of the warm-up. None (the
            default) means the constant `target`.
    """

    def __init__(self, target, warmup_steps, after=None):
        super().__init__()
        if not (_is_number(target) and math.isfinite(target) and target > 0):
            raise ValueError(f"target={target!r}; expected a number > 0")
        if not (_is_int(warmup_steps) and warmup_steps >= 1):
            raise ValueError(
                f"warmup_steps={warmup_steps!r}; expected an int >= 1"
            )
        if not (
            after is None or _is_number(after) or isinstance(after, _Schedule)
        ):
            raise ValueError(
                f"after={after!r}; expected None, a number or a "
                "keras.optimizers.schedules.LearningRateSchedule"
            )
        self.target = float(target)
        self.warmup_steps = int(warmup_steps)
        self.after = float(after) if _is_number(after) else after

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup_steps = keras.ops.cast(self.warmup_steps, "float32")
        warm = self.target * (step + 1.0) / warmup_steps
        if isinstance(self.after, _Schedule):
            # Both branches are computed; clip so `after` never sees a
            # negative step.
            later = self.after(keras.ops.maximum(step - warmup_steps, 0.0))
            later = keras.ops.cast(later, "float32")
        else:
            later = self.target if self.after is None else self.after
            later = keras.ops.cast(later, "float32")
        return keras.ops.where(step < warmup_steps, warm, later)

    def get_config(self):
        after = self.after
        if isinstance(after, _Schedule):
            after = keras.saving.serialize_keras_object(after)
        return {
            "target": self.target,
            "warmup_steps": self.warmup_steps,
            "after": after,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("after"), dict):
            config["after"] = keras.saving.deserialize_keras_object(
                config["after"]
            )
        return cls(**config)


def _validate(
    name, learning_rate, total_steps, warmup_steps, decay_rate, alpha
):
    if name not in SCHEDULES:
        raise ValueError(
            f"name={name!r}; expected one of "
            + ", ".join(repr(s) for s in SCHEDULES)
        )
    if not (
        _is_number(learning_rate)
        and math.isfinite(learning_rate)
        and learning_rate > 0
    ):
        raise ValueError(
            f"learning_rate={learning_rate!r}; expected a number > 0"
        )
    if not (_is_int(total_steps) and total_steps >= 1):
        raise ValueError(f"total_steps={total_steps!r}; expected an int >= 1")
    if not (_is_int(warmup_steps) and 0 <= warmup_steps < total_steps):
        raise ValueError(
            f"warmup_steps={warmup_steps!r}; expected an int >= 0 and < "
            f"total_steps={total_steps}"
        )
    if not (_is_number(decay_rate) and 0 < decay_rate <= 1):
        raise ValueError(
            f"decay_rate={decay_rate!r}; expected a number in (0, 1]"
        )
    if not (_is_number(alpha) and 0 <= alpha <= 1):
        raise ValueError(f"alpha={alpha!r}; expected a number in [0, 1]")


def learning_rate_schedule(
    name,
    learning_rate,
    total_steps,
    *,
    warmup_steps=0,
    decay_rate=0.1,
    alpha=0.0,
):
    """What a Keras optimizer takes as `learning_rate` for `--lr_schedule`.

    Args:
        name: one of `SCHEDULES`: "constant", "cosine" or "exponential".
        learning_rate: float > 0, the peak rate (after any warm-up).
        total_steps: int >= 1, the number of updates in the run
            (epochs * steps_per_epoch); the decay ends at this step.
        warmup_steps: int in [0, total_steps), steps of linear warm-up;
            the decay runs over the total_steps - warmup_steps after it.
        decay_rate: float in (0, 1], "exponential" only: the rate falls to
            decay_rate * learning_rate by step total_steps.
        alpha: float in [0, 1], "cosine" only: the final rate as a fraction
            of learning_rate.

    Returns:
        The float `learning_rate` for "constant" without warm-up, otherwise
        a `keras.optimizers.schedules.LearningRateSchedule` (see the module
        docstring for the formulas).

    Raises:
        ValueError: an argument out of range; the message names it, its
            value and what was expected.
    """
    _validate(name, learning_rate, total_steps, warmup_steps, decay_rate, alpha)
    learning_rate = float(learning_rate)
    decay_steps = total_steps - warmup_steps
    if name == "constant":
        if warmup_steps == 0:
            return learning_rate
        return LinearWarmup(learning_rate, warmup_steps)
    if name == "cosine":
        if warmup_steps == 0:
            return keras.optimizers.schedules.CosineDecay(
                learning_rate, decay_steps, alpha=float(alpha)
            )
        return keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps,
            alpha=float(alpha),
            warmup_target=learning_rate,
            warmup_steps=warmup_steps,
        )
    decay = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay_steps, decay_rate=float(decay_rate)
    )
    if warmup_steps == 0:
        return decay
    return LinearWarmup(learning_rate, warmup_steps, after=decay)
