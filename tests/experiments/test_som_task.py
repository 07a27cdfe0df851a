"""The SOM's training task: the schedule, two replicas, a falling error."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from experiments import som_task
from keras_cheats.layers.som import grid_positions, som_update


def _fit(x, epochs, strategy=None, batch_size=None, steps=10):
    """Trains a 2 x 3 map on `x` (file order); returns (initial prototypes,
    final prototypes, history, optimizer)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(1)
        model = som_task.som_model(x.shape[1:], 2, 3)
        w0 = np.array(som_task.som_of(model).prototypes)
        optimizer = som_task.som_optimizer(model, 0.5, 0.1, steps)
        history = loops.fit(
            model,
            optimizer,
            som_task.som_task(2.0, 0.5, steps),
            loops.InMemory((x,), batch_size or len(x)),
            options=loops.LoopOptions(
                epochs=epochs, verbose=0, jit_compile=False
            ),
            strategy=strategy,
        )
    return w0, model.get_weights()[0], history, optimizer


def test_steps_are_the_pure_update_with_the_decayed_eta_and_sigma():
    x = np.random.default_rng(0).random((9, 5)).astype("float32")
    w0, w2, history, optimizer = _fit(x, epochs=2)
    assert int(optimizer.iterations.numpy()) == 2
    want, positions = w0, grid_positions(2, 3)
    for t in (0, 1):  # eta(t) = 0.5 (0.1 / 0.5)^(t / 10), sigma likewise
        eta, sigma = 0.5 * 0.2 ** (t / 10), 2.0 * 0.25 ** (t / 10)
        want = np.asarray(som_update(want, positions, x, eta, sigma))
    np.testing.assert_allclose(w2, want, rtol=1e-5, atol=1e-6)
    # The errors of step 0 are those of the initial prototypes.
    d = np.sqrt(((x[:, None] - w0[None]) ** 2).sum(-1))
    assert history["quantization_error"][0] == pytest.approx(
        d.min(1).mean(), rel=1e-5
    )
    assert history["learning_rate"] == pytest.approx(
        [0.5 * 0.2**0.1, 0.5 * 0.2**0.2], rel=1e-5
    )


def test_two_replicas_make_the_update_of_one_device():
    # 9 examples: 5 + 4 over the replicas; two steps.
    x = np.random.default_rng(2).random((9, 5)).astype("float32")
    _, single, one_history, _ = _fit(x, epochs=2)
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    w0, double, two_history, optimizer = _fit(x, epochs=2, strategy=strategy)
    assert int(optimizer.iterations.numpy()) == 2
    assert not np.allclose(w0, single)
    np.testing.assert_allclose(double, single, rtol=1e-5, atol=1e-6)
    for name in ("quantization_error", "topographic_error"):
        np.testing.assert_allclose(
            two_history[name], one_history[name], rtol=1e-5
        )


def test_quantization_error_falls_on_clusters():
    # Three tight clusters in 4-D; the map's prototypes move onto them.
    rng = np.random.default_rng(3)
    centres = rng.random((3, 4)) * 4
    x = centres[rng.integers(0, 3, 120)] + rng.normal(0, 0.05, (120, 4))
    x = x.astype("float32")
    _, _, history, _ = _fit(x, epochs=6, batch_size=10, steps=72)
    errors = history["quantization_error"]
    assert errors[-1] < 0.5 * errors[0], errors
    assert all(b <= a + 1e-6 for a, b in zip(errors, errors[1:])), errors


def test_task_arguments_are_checked():
    with pytest.raises(ValueError, match="sigma_end=3"):
        som_task.som_task(2.0, 3.0, 10)
    with pytest.raises(ValueError, match="steps=0"):
        som_task.som_task(2.0, 1.0, 0)
    assert som_task.total_steps(10, 4, 3) == 9
