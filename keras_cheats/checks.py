"""Argument checks shared by the layers, models, loops and experiments.

Each returns the value (normalized where it says so) or raises a
ValueError that names the argument, shows the value received and says
what was expected, e.g. "`units` must be an int >= 1; received units=0."
"""

import math

ACTIVATION_HELP = "a Keras activation name such as 'relu'"


def positive_int(name, value):
    """`value` if it is an int >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"`{name}` must be an int >= 1; received {name}={value!r}."
        )
    return value


def integer(name, value, minimum):
    """`value` if it is an int >= `minimum` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}; expected an integer >= {minimum}")
    return value


def positive_ints(name, value):
    """`value` (a list or tuple) as a tuple of ints >= 1."""
    items = tuple(value) if isinstance(value, (list, tuple)) else None
    if items is None or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in items
    ):
        raise ValueError(
            f"`{name}` must be a tuple of ints >= 1; received {name}={value!r}."
        )
    return items


def rate(name, value, high=1.0, high_open=True):
    """`value` as a float in [0, high) (or [0, high] if not `high_open`)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value >= 0
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(
            f"`{name}` must be a number in [0, {high}{bracket}; "
            f"received {name}={value!r}."
        )
    return float(value)


def interval(name, value, low=None, high=None, low_open=False):
    """`value` as a float if it is a finite number in [low, high] (or
    (low, high] with `low_open`); None means no bound."""
    if low is None and high is None:
        expected = "a finite number"
    else:
        left = "(" if low_open else "["
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        expected = f"a number in {left}{lo}, {hi}]"
    message = f"`{name}` must be {expected}; received {name}={value!r}."
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and number > high
    if math.isnan(number) or math.isinf(number) or too_low or too_high:
        raise ValueError(message)
    return number


def choice(name, value, choices):
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {list(choices)}; "
            f"received {name}={value!r}."
        )
    return value


def keras_object(name, value, getter, expected, allow_none=False):
    """`value` if Keras resolves it with `getter` (an activation or
    initializer name); `expected` describes what would do."""
    if value is None and allow_none:
        return None
    try:
        getter(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"`{name}` must be {expected}; received {name}={value!r}."
        ) from None
    return value


def input_shape(value):
    """`value` (no batch axis) as a non-empty tuple of ints >= 1."""
    shape = tuple(value) if isinstance(value, (list, tuple)) else ()
    if not shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise ValueError(
            "`input_shape` must be a non-empty tuple of ints >= 1 (no batch "
            f"axis); received input_shape={value!r}."
        )
    return shape


# Checks of command-line values (experiments' Configs), worded as flags:
# "name=value; expected ...".


def number(name, value, expected="a number"):
    """`value` if it is an int or a float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}={value!r}; expected {expected}")
    return value


def above(name, value, low=0):
    """`value` if it is a number > `low`."""
    number(name, value, f"a number > {low}")
    if not value > low:
        raise ValueError(f"{name}={value!r}; expected a number > {low}")
    return value


def at_least(name, value, low=0):
    """`value` if it is a number >= `low`."""
    number(name, value, f"a number >= {low}")
    if not value >= low:
        raise ValueError(f"{name}={value!r}; expected a number >= {low}")
    return value


def fraction(name, value):
    """`value` if 0 <= value < 1 (a dropout rate, a momentum)."""
    number(name, value, f"0 <= {name} < 1")
    if not 0 <= value < 1:
        raise ValueError(f"{name}={value!r}; expected 0 <= {name} < 1")
    return value


def integers(name, value, minimum=1):
    """`value` as a non-empty tuple of ints >= `minimum`."""
    items = tuple(value) if isinstance(value, (list, tuple)) else ()
    if not items or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= minimum
        for v in items
    ):
        listed = isinstance(value, (list, tuple))
        shown = ",".join(map(str, value)) if listed else value  # as typed
        raise ValueError(
            f"{name}={shown!r}; expected a non-empty list of integers >= "
            f"{minimum}"
        )
    return items
