"""Helpers shared by the loss modules: dtype casting, argument checks and
the dtype entry of `get_config`.

Every loss computes in float32, whatever the input dtype, so that float16 and
bfloat16 inputs (mixed precision) never lose a log or an exp to underflow.
"""

import math

from keras import ops

COMPUTE_DTYPE = "float32"


def to_float32(x):
    """`x` as a float32 tensor (integers, float16 and bfloat16 upcast)."""
    return ops.cast(ops.convert_to_tensor(x), COMPUTE_DTYPE)


def check_number(name, value, low=None, high=None, low_open=False):
    """Raise ValueError unless `value` is a finite number in [low, high].

    Args:
        name: argument name, quoted in the message.
        value: the value to check.
        low, high: inclusive bounds; None for no bound.
        low_open: when True the lower bound is exclusive, (low, high].

    Returns:
        `value` as a float.
    """
    if low is None and high is None:
        expected = "a finite number"
    else:
        left = "(" if low_open else "["
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        expected = f"a number in {left}{lo}, {hi}]"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be {expected}; received {name}={value!r}."
        ) from None
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and number > high
    if math.isnan(number) or math.isinf(number) or too_low or too_high:
        raise ValueError(
            f"`{name}` must be {expected}; received {name}={value!r}."
        )
    return number


def check_choice(name, value, choices):
    """Raise ValueError unless `value` is one of `choices`; return it."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {sorted(choices)}; "
            f"received {name}={value!r}."
        )
    return value


class DtypeInConfig:
    """Mixin: put the loss' compute dtype in `get_config`.

    Keras' `Loss.get_config` keeps only name and reduction, so a loss built
    with `dtype="float64"` would come back from a saved model as float32.
    """

    def get_config(self):
        config = super().get_config()
        config["dtype"] = self.dtype
        return config


def safe_sqrt(x):
    """sqrt(x) for x >= 0 whose gradient at x = 0 is 0 instead of inf.

    The inner `where` keeps sqrt away from 0 so its derivative never sees
    1 / sqrt(0); the outer one puts the exact 0 back.
    """
    positive = x > 0.0
    return ops.where(positive, ops.sqrt(ops.where(positive, x, 1.0)), 0.0)
