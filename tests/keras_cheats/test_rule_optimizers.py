"""Update rules and their Keras optimizers (cheat sheet section 5)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from keras_cheats import rule_optimizers, update_rules

# Ours and Keras' optimizer of the same name, Keras' defaults on both sides.
PAIRS = {
    "sgd": (
        rule_optimizers.SGD,
        lambda: keras.optimizers.SGD(momentum=0.0),
    ),
    "momentum": (
        rule_optimizers.Momentum,
        lambda: keras.optimizers.SGD(momentum=0.9),
    ),
    "nesterov": (
        rule_optimizers.Nesterov,
        lambda: keras.optimizers.SGD(momentum=0.9, nesterov=True),
    ),
    "adagrad": (rule_optimizers.Adagrad, keras.optimizers.Adagrad),
    "rmsprop": (rule_optimizers.RMSprop, keras.optimizers.RMSprop),
    "adam": (rule_optimizers.Adam, keras.optimizers.Adam),
    "adamw": (rule_optimizers.AdamW, keras.optimizers.AdamW),
}


def _model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3),
        ]
    )


def _train(model, optimizer, batches):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    for x, y in batches:
        step(x, y)
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_equals_keras_optimizer_over_100_steps(name):
    ours, theirs = PAIRS[name]
    rng = np.random.default_rng(1)
    batches = [
        (
            rng.normal(size=(16, 5)).astype("float32"),
            rng.integers(0, 3, 16).astype("int32"),
        )
        for _ in range(100)
    ]
    lr = 0.05  # larger than the defaults, so the weights move visibly
    ours_opt = ours(learning_rate=lr)
    kwargs = theirs().get_config()
    kwargs["learning_rate"] = lr
    theirs_opt = type(theirs()).from_config(kwargs)
    start = [w.numpy() for w in _model(0).weights]
    a = _train(_model(0), ours_opt, batches)
    b = _train(_model(0), theirs_opt, batches)
    moved = max(np.abs(x - s).max() for x, s in zip(a, start))
    assert moved > 0.05  # the 100 steps did something
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def test_sgd_first_step_by_hand():
    # W - eta g = [1 - 0.1 * 0.5, -2 - 0.1 * 0.25]
    w, g = tf.constant([1.0, -2.0]), tf.constant([0.5, 0.25])
    new_w, state = update_rules.sgd(w, g, (), 1.0, learning_rate=0.1)
    np.testing.assert_allclose(new_w, [0.95, -2.025], atol=1e-7)
    assert state == ()
    variable = keras.Variable([1.0, -2.0])
    rule_optimizers.SGD(0.1).apply_gradients([(g, variable)])
    np.testing.assert_allclose(variable.numpy(), [0.95, -2.025], atol=1e-7)


def test_adam_first_step_by_hand():
    # g = 1e-4: m = 0.1 g, v = 0.001 g^2, eta_1 = 0.1 sqrt(0.001) / 0.1,
    # so the step is 0.1 x / (x + 1e-7) with x = sqrt(0.001) g
    # = 3.16227766e-6: 0.0969346570 (eps matters: without it, 0.1).
    # W = 1 - 0.0969346570 = 0.9030653430, to float32 rounding (1 - 0.999
    # is 0.00099998713 in float32).
    w, g = tf.constant([1.0]), tf.constant([1e-4])
    state = update_rules.initial_state(update_rules.adam, w)
    new_w, (m, v) = update_rules.adam(w, g, state, 1.0, learning_rate=0.1)
    np.testing.assert_allclose(new_w, [0.9030653430], atol=1e-6)
    np.testing.assert_allclose(m, [1e-5], rtol=1e-5)
    np.testing.assert_allclose(v, [1e-11], rtol=1e-4)
    variable = keras.Variable([1.0])
    rule_optimizers.Adam(0.1).apply_gradients([(g, variable)])
    np.testing.assert_allclose(variable.numpy(), [0.9030653430], atol=1e-6)


def test_initial_state_adagrad_starts_at_0_1():
    w = tf.zeros((2, 3))
    (accumulator,) = update_rules.initial_state(update_rules.adagrad, w)
    np.testing.assert_allclose(accumulator, np.full((2, 3), 0.1))
    assert update_rules.initial_state(update_rules.sgd, w) == ()
    m, v = update_rules.initial_state(update_rules.adam, w)
    assert m.shape == v.shape == (2, 3) and not np.any(m) and not np.any(v)


@pytest.mark.parametrize("name", sorted(rule_optimizers.BY_NAME))
def test_get_config_round_trip(name):
    cls = rule_optimizers.BY_NAME[name]
    optimizer = cls(learning_rate=0.123)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert type(restored) is cls
    assert restored.get_config() == optimizer.get_config()
    assert restored.get_config()["learning_rate"] == pytest.approx(0.123)


def test_adamw_decay_is_the_rules_not_the_base_classes():
    optimizer = rule_optimizers.AdamW(weight_decay=0.5)
    assert optimizer.weight_decay is None  # the base class decays nothing
    assert optimizer.get_config()["weight_decay"] == 0.5


def test_loops_fit_trains_with_a_rule_optimizer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    model = _model(0)
    history = loops.fit(
        model,
        rule_optimizers.Nesterov(0.1),
        loops.supervised(
            keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
        loops.InMemory((x, y), 32),
        options=loops.LoopOptions(epochs=5, seed=0, verbose=0),
    )
    assert history["loss"][-1] < 0.6 * history["loss"][0]
