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
