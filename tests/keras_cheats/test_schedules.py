"""Learning-rate schedules for --lr_schedule (keras_cheats.schedules)."""

import inspect
import json
import math
import re

import keras
import numpy as np
import pytest

from keras_cheats import schedules
from keras_cheats.schedules import LinearWarmup, learning_rate_schedule


def _value(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def _oracle(name, lr, total, step, warmup=0, decay_rate=0.1, alpha=0.0):
    """The module docstring's formulas, in NumPy float64."""
    step = np.asarray(step, dtype=np.float64)
    decay_steps = total - warmup
    t = step - warmup
    if name == "constant":
        after = np.full_like(step, lr)
    elif name == "cosine":
        t = np.minimum(t, decay_steps)
        cos = 0.5 * (1 + np.cos(np.pi * t / decay_steps))
        after = lr * ((1 - alpha) * cos + alpha)
    else:
        after = lr * decay_rate ** (t / decay_steps)
    if warmup == 0:
        return after
    if name == "cosine":  # Keras' CosineDecay counts its warm-up from 0.
        warm = lr * step / warmup
    else:
        warm = lr * (step + 1) / warmup
    return np.where(step < warmup, warm, after)


# lr = 0.1, total_steps = 100, (warmup_steps = 10, T = 90) or (0, T = 100).
HAND = [
    # constant, warm-up: 0.1 * (step + 1) / 10, then 0.1
    ("constant", 10, {}, 0, 0.01),
    ("constant", 10, {}, 5, 0.06),
    ("constant", 10, {}, 9, 0.1),
    ("constant", 10, {}, 10, 0.1),
    ("constant", 10, {}, 55, 0.1),
    ("constant", 10, {}, 99, 0.1),
    # cosine, no warm-up: 0.05 * (1 + cos(pi * step / 100))
    ("cosine", 0, {}, 0, 0.1),
    ("cosine", 0, {}, 25, 0.05 * (1 + math.sqrt(0.5))),
    ("cosine", 0, {}, 50, 0.05),
    ("cosine", 0, {}, 99, 0.05 * (1 - math.cos(math.pi / 100))),
    ("cosine", 0, {}, 100, 0.0),
    ("cosine", 0, {}, 150, 0.0),
    # cosine, Keras warm-up 0.1 * step / 10, then t = step - 10 over 90
    ("cosine", 10, {}, 0, 0.0),
    ("cosine", 10, {}, 5, 0.05),
    ("cosine", 10, {}, 9, 0.09),
    ("cosine", 10, {}, 10, 0.1),
    ("cosine", 10, {}, 55, 0.05),
    ("cosine", 10, {}, 99, 0.05 * (1 - math.cos(math.pi / 90))),
    # cosine, alpha = 0.1: floor 0.01, midpoint 0.1 * (0.9 * 0.5 + 0.1)
    ("cosine", 10, {"alpha": 0.1}, 55, 0.055),
    ("cosine", 10, {"alpha": 0.1}, 100, 0.01),
    ("cosine", 10, {"alpha": 0.1}, 500, 0.01),
    # exponential, no warm-up: 0.1 * 0.1 ** (step / 100)
    ("exponential", 0, {}, 0, 0.1),
    ("exponential", 0, {}, 50, 0.1 * math.sqrt(0.1)),
    ("exponential", 0, {}, 100, 0.01),
    # exponential, warm-up as constant, then 0.1 * 0.1 ** ((step - 10) / 90)
    ("exponential", 10, {}, 0, 0.01),
    ("exponential", 10, {}, 5, 0.06),
    ("exponential", 10, {}, 9, 0.1),
    ("exponential", 10, {}, 10, 0.1),
    ("exponential", 10, {}, 55, 0.1 * math.sqrt(0.1)),
    ("exponential", 10, {}, 99, 0.1 * 0.1 ** (89 / 90)),
    ("exponential", 10, {}, 100, 0.01),
    # decay_rate = 0.5: halves over the 90 decay steps
    ("exponential", 10, {"decay_rate": 0.5}, 100, 0.05),
    ("exponential", 10, {"decay_rate": 1.0}, 77, 0.1),
]


@pytest.mark.parametrize("name, warmup, kwargs, step, expected", HAND)
def test_hand_computed_values(name, warmup, kwargs, step, expected):
    schedule = learning_rate_schedule(
        name, 0.1, 100, warmup_steps=warmup, **kwargs
    )
    assert _value(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize(
    "name, lr, total, warmup, kwargs",
    [
        ("constant", 3e-4, 50, 7, {}),
        ("cosine", 1e-3, 50, 0, {}),
        ("cosine", 1e-3, 50, 7, {"alpha": 0.2}),
        ("exponential", 2e-2, 50, 0, {"decay_rate": 0.3}),
        ("exponential", 2e-2, 50, 7, {"decay_rate": 0.3}),
        ("exponential", 0.5, 1, 0, {}),
    ],
)
def test_matches_numpy_oracle(name, lr, total, warmup, kwargs):
    schedule = learning_rate_schedule(
        name, lr, total, warmup_steps=warmup, **kwargs
    )
    steps = np.arange(0, total + 15)
    got = np.array([_value(schedule, int(s)) for s in steps])
    want = _oracle(name, lr, total, steps, warmup=warmup, **kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_first_step_trains_with_linear_warmup():
    for name in ("constant", "exponential"):
        schedule = learning_rate_schedule(name, 0.1, 100, warmup_steps=50)
        assert _value(schedule, 0) == pytest.approx(0.002)


def test_constant_without_warmup_is_the_float():
    lr = learning_rate_schedule("constant", 0.01, 100)
    assert type(lr) is float and lr == 0.01
    assert learning_rate_schedule("constant", 1, 100) == 1.0
    assert type(learning_rate_schedule("constant", 1, 100)) is float


def test_schedule_types():
    assert isinstance(
        learning_rate_schedule("constant", 0.1, 100, warmup_steps=1),
        LinearWarmup,
    )
    assert isinstance(
        learning_rate_schedule("cosine", 0.1, 100, warmup_steps=1),
        keras.optimizers.schedules.CosineDecay,
    )
    assert isinstance(
        learning_rate_schedule("exponential", 0.1, 100),
        keras.optimizers.schedules.ExponentialDecay,
    )
    assert isinstance(
        learning_rate_schedule("exponential", 0.1, 100, warmup_steps=1),
        LinearWarmup,
    )
    assert schedules.SCHEDULES == ("constant", "cosine", "exponential")


def test_linear_warmup_config_is_the_constructor_arguments():
    schedule = LinearWarmup(0.1, 10)
    assert set(schedule.get_config()) == set(
        inspect.signature(LinearWarmup).parameters
    )
    clone = LinearWarmup.from_config(schedule.get_config())
    for step in (0, 4, 9, 10, 1000):
        assert _value(clone, step) == _value(schedule, step)


def test_serialization_round_trip_of_warmup_around_exponential():
    schedule = LinearWarmup(
        0.1,
        10,
        after=keras.optimizers.schedules.ExponentialDecay(
            0.1, decay_steps=90, decay_rate=0.1
        ),
    )
    config = keras.saving.serialize_keras_object(schedule)
    config = json.loads(json.dumps(config))  # plain JSON all the way down
    clone = keras.saving.deserialize_keras_object(config)
    assert isinstance(clone, LinearWarmup)
    assert isinstance(clone.after, keras.optimizers.schedules.ExponentialDecay)
    assert clone.get_config() == schedule.get_config()
    for step in (0, 5, 9, 10, 55, 99, 100, 300):
        assert _value(clone, step) == _value(schedule, step)


def test_optimizer_config_round_trip():
    schedule = learning_rate_schedule("exponential", 0.1, 100, warmup_steps=10)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    config = json.loads(json.dumps(optimizer.get_config()))
    assert config["learning_rate"]["registered_name"] == (
        "keras_cheats>LinearWarmup"
    )
    clone = keras.optimizers.SGD.from_config(config)
    assert clone.get_config() == optimizer.get_config()
    lr = float(keras.ops.convert_to_numpy(clone.learning_rate))
    assert lr == _value(schedule, 0)


@pytest.mark.parametrize("name", ["constant", "cosine", "exponential"])
def test_sgd_reads_the_schedule_at_its_iterations(name):
    schedule = learning_rate_schedule(name, 0.1, 20, warmup_steps=5)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    w = keras.Variable(np.zeros(3, dtype="float32"))
    grad = keras.ops.ones((3,))
    expected_w = np.zeros(3)
    for step in range(12):
        expected_w -= _value(schedule, step)  # update t uses lr(t)
        optimizer.apply_gradients([(grad, w)])
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 12
    lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    assert lr == pytest.approx(_value(schedule, 12), rel=1e-6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(w), expected_w, rtol=1e-5
    )


ERRORS = [
    ({"name": "linear"}, "name='linear'"),
    ({"name": "Cosine"}, "name='Cosine'"),
    ({"learning_rate": 0.0}, "learning_rate=0.0"),
    ({"learning_rate": -1e-3}, "learning_rate=-0.001"),
    ({"learning_rate": float("nan")}, "learning_rate=nan"),
    ({"learning_rate": "0.1"}, "learning_rate='0.1'"),
    ({"total_steps": 0}, "total_steps=0"),
    ({"total_steps": 10.0}, "total_steps=10.0"),
    ({"warmup_steps": -1}, "warmup_steps=-1"),
    ({"warmup_steps": 100}, "warmup_steps=100"),
    ({"warmup_steps": 2.5}, "warmup_steps=2.5"),
    ({"decay_rate": 0.0}, "decay_rate=0.0"),
    ({"decay_rate": 1.5}, "decay_rate=1.5"),
    ({"alpha": -0.1}, "alpha=-0.1"),
    ({"alpha": 1.1}, "alpha=1.1"),
]


@pytest.mark.parametrize("override, message", ERRORS)
def test_errors_name_the_argument_and_value(override, message):
    args = {"name": "cosine", "learning_rate": 0.1, "total_steps": 100}
    kwargs = {}
    for key, value in override.items():
        (args if key in args else kwargs)[key] = value
    with pytest.raises(ValueError, match=re.escape(message) + ";"):
        learning_rate_schedule(
            args["name"], args["learning_rate"], args["total_steps"], **kwargs
        )


def test_error_messages_say_what_was_expected():
    with pytest.raises(
        ValueError, match="expected one of 'constant', 'cosine', 'exponential'"
    ):
        learning_rate_schedule("step", 0.1, 100)
    with pytest.raises(ValueError, match=r"expected a number in \(0, 1\]"):
        learning_rate_schedule("exponential", 0.1, 100, decay_rate=2)
    with pytest.raises(
        ValueError,
        match=r"warmup_steps=100; expected an int >= 0 and < "
        r"total_steps=100",
    ):
        learning_rate_schedule("constant", 0.1, 100, warmup_steps=100)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0.0, 10), "target=0.0"),
        ((0.1, 0), "warmup_steps=0"),
        ((0.1, 10, "fast"), "after='fast'"),
    ],
)
def test_linear_warmup_errors(args, message):
    with pytest.raises(ValueError, match=re.escape(message) + ";"):
        LinearWarmup(*args)
