"""`keras_cheats.checks`: each check returns the value or names it."""

import pytest

from keras_cheats import checks


def test_checks_return_the_value_normalized():
    assert checks.positive_int("units", 3) == 3
    assert checks.positive_ints("filters", [8, 16]) == (8, 16)
    assert checks.rate("dropout", 0) == 0.0
    assert checks.integers("filters", [32, 64]) == (32, 64)
    assert checks.input_shape([28, 28, 1]) == (28, 28, 1)
    assert checks.fraction("momentum", 0.9) == 0.9
    assert checks.interval("gamma", 2) == 2.0
    assert checks.interval("margin", 0.5, low=0, low_open=True) == 0.5
    assert checks.interval("alpha", 1, low=0, high=1) == 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: checks.positive_int("units", True), "received units=True"),
        (lambda: checks.integer("epochs", 0, 1), "epochs=0; expected an in"),
        (lambda: checks.rate("dropout", 1.0), r"\[0, 1.0\); received"),
        (lambda: checks.rate("w", float("nan"), high_open=False), "w=nan"),
        (lambda: checks.choice("head", "max", ("flatten",)), "head='max'"),
        (lambda: checks.above("learning_rate", 0), "learning_rate=0; exp"),
        (lambda: checks.at_least("l2", -1e-4), "l2=-0.0001; expected a n"),
        (lambda: checks.fraction("dropout", "a"), "dropout='a'; expected 0"),
        (lambda: checks.integers("filters", ("a",)), "filters='a'; expected"),
        (lambda: checks.integers("filters", []), "filters=''; expected"),
        (lambda: checks.input_shape((28, 0)), r"input_shape=\(28, 0\)"),
        (
            lambda: checks.interval("margin", 0, low=0, low_open=True),
            r"`margin` must be a number in \(0, inf\]; received margin=0",
        ),
        (lambda: checks.interval("a", 1.5, 0, 1), r"in \[0, 1\]; received"),
        (lambda: checks.interval("gamma", "x"), "a finite number; received"),
        (lambda: checks.interval("gamma", float("inf")), "gamma=inf"),
        (lambda: checks.interval("gamma", True), "gamma=True"),
    ],
)
def test_bad_values_are_named_with_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
