"""Mixed precision in the loop: float16 with loss scaling, bfloat16."""

import keras
import numpy as np
import pytest

import loops
from tests.loops.helpers import classification_task, dataset, toy_data


@pytest.fixture
def policy():
    def use(name):
        keras.mixed_precision.set_global_policy(name)

    yield use
    keras.mixed_precision.set_global_policy("float32")


def _model():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
        ]
    )


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_loss_falls_and_weights_stay_float32(policy, name):
    policy(name)
    x, y = toy_data(n=64)
    model = _model()
    optimizer = keras.optimizers.Adam(0.01)
    if name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    history = loops.fit(
        model,
        optimizer,
        classification_task(),
        dataset(x, y, 16),
        options=loops.LoopOptions(epochs=5, verbose=0),
    )
    assert history["loss"][-1] < history["loss"][0]
    assert all(np.isfinite(history["loss"]))
    assert all(w.dtype == "float32" for w in model.trainable_variables)
    assert model(x).dtype == (
        "float16" if name == "mixed_float16" else "bfloat16"
    )


def test_clipping_under_loss_scaling_clips_the_true_gradient(policy):
    policy("mixed_float16")
    x, y = toy_data(n=32)
    model = _model()
    before = [w.numpy().copy() for w in model.trainable_variables]
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(1.0), initial_scale=1024.0
    )
    optimizer.build(model.trainable_variables)
    classification_task(clip_norm=1e-3).train_step(model, optimizer, (x, y))
    moved = np.sqrt(
        sum(
            np.sum((w.numpy() - b) ** 2)
            for w, b in zip(model.trainable_variables, before)
        )
    )
    assert moved == pytest.approx(1e-3, rel=1e-2)


def _one_sgd_step(policy, name, scale=None):
    """The first kernel's change after one SGD step on a loss scaled by
    1e-8, whose float16 gradients underflow to 0 without loss scaling."""
    policy(name)
    keras.utils.set_random_seed(0)
    x, y = toy_data(n=32)
    model = _model()
    optimizer = keras.optimizers.SGD(1e4)
    if scale is not None:
        optimizer = keras.optimizers.LossScaleOptimizer(
            optimizer, initial_scale=scale
        )
    optimizer.build(model.trainable_variables)
    ce = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None
    )
    task = loops.supervised(lambda t, p: 1e-8 * ce(t, p))
    before = model.trainable_variables[0].numpy().copy()
    task.train_step(model, optimizer, (x, y))
    return model.trainable_variables[0].numpy() - before, optimizer


def test_loss_scaling_keeps_the_gradients_float16_loses(policy):
    exact, _ = _one_sgd_step(policy, "float32")
    lost, _ = _one_sgd_step(policy, "mixed_float16")
    kept, optimizer = _one_sgd_step(policy, "mixed_float16", scale=2.0**15)
    assert np.abs(exact).max() > 1e-5  # float32: the weights move
    assert np.abs(lost).max() == 0.0  # float16 alone: all underflowed
    np.testing.assert_allclose(kept, exact, rtol=0.05, atol=1e-7)
    assert float(optimizer.dynamic_scale) == 2.0**15  # finite: kept
