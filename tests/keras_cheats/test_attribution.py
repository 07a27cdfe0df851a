"""keras_cheats.attribution: saliency, integrated gradients, SmoothGrad."""

import keras
import numpy as np
import pytest

from keras_cheats import attribution
from keras_cheats.models import cnn


def _square_sum_model():
    # f(x) = sum_i x_i^2, one output column.
    inputs = keras.Input((2,))
    outputs = keras.layers.Lambda(
        lambda x: keras.ops.sum(x**2, axis=1, keepdims=True)
    )(inputs)
    return keras.Model(inputs, outputs)


def _mlp(seed, features=6, classes=4):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((features,)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(classes, activation="softmax"),
    ])  # fmt: skip


def test_integrated_gradients_hand_computed():
    # Docstring example: x = (1, 2), zero baseline: IG = (1, 4), sum 5.
    ig = attribution.integrated_gradients(
        _square_sum_model(), [[1.0, 2.0]], 0, steps=4
    )
    np.testing.assert_allclose(ig, [[1.0, 4.0]], rtol=1e-6)
    # A left Riemann sum with 2 steps: grad 2 a x at a = 0, 1/2 -> x^2 / 2.
    left = attribution.integrated_gradients(
        _square_sum_model(), [[1.0, 2.0]], 0, steps=2, rule="left"
    )
    np.testing.assert_allclose(left, [[0.5, 2.0]], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saliency_of_a_linear_model_is_its_weights(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    w = model.layers[0].kernel.numpy()  # (5, 3)
    x = np.random.default_rng(seed).normal(size=(4, 5)).astype("float32")
    target = np.array([0, 2, 1, 2])
    np.testing.assert_allclose(
        attribution.saliency(model, x, target, absolute=False), w[:, target].T
    )
    np.testing.assert_allclose(
        attribution.saliency(model, x, target), np.abs(w[:, target].T)
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_saliency_matches_finite_differences(seed):
    model = _mlp(seed)
    x = np.random.default_rng(seed).normal(size=(3, 6))
    grad = attribution.saliency(model, x, 1, absolute=False).numpy()
    h = 1e-3
    for i in range(6):
        step = np.zeros(6)
        step[i] = h
        up = model.predict_on_batch(x + step)[:, 1]
        down = model.predict_on_batch(x - step)[:, 1]
        np.testing.assert_allclose(grad[:, i], (up - down) / (2 * h), atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_integrated_gradients_completeness_on_a_tiny_model(seed):
    model = _mlp(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 6)).astype("float32")
    baseline = rng.normal(size=(1, 6)).astype("float32")
    target = rng.integers(0, 4, size=5)
    ig = attribution.integrated_gradients(
        model, x, target, baseline, steps=64
    ).numpy()
    gap = (
        attribution.class_score(model, x, target)
        - attribution.class_score(model, np.repeat(baseline, 5, 0), target)
    ).numpy()
    np.testing.assert_allclose(ig.sum(axis=1), gap, rtol=0.01, atol=1e-6)


def test_integrated_gradients_completeness_on_the_cnn():
    keras.utils.set_random_seed(0)
    model = cnn.build_cnn((8, 8, 1), 10)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    target = model.predict_on_batch(x).argmax(1)
    ig = attribution.integrated_gradients(model, x, target, steps=128)
    assert ig.shape == x.shape
    gap = (
        attribution.class_score(model, x, target)
        - attribution.class_score(model, np.zeros_like(x), target)
    ).numpy()
    total = ig.numpy().reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(total, gap, rtol=0.01)


def test_smoothgrad_with_sigma_zero_is_saliency_and_noise_changes_it():
    keras.utils.set_random_seed(1)
    model = cnn.build_cnn((8, 8, 1), 10)
    x = np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")
    sal = attribution.saliency(model, x, [3, 7]).numpy()
    still = attribution.smoothgrad(model, x, [3, 7], sigma=0.0, samples=3)
    np.testing.assert_allclose(still, sal, rtol=1e-5, atol=1e-8)
    noisy = attribution.smoothgrad(model, x, [3, 7], sigma=0.3, samples=4)
    assert noisy.shape == x.shape and not np.allclose(noisy, sal)
    assert np.all(noisy.numpy() >= 0)


def test_bad_arguments_name_the_problem():
    model = _mlp(0)
    x = np.zeros((2, 6), "float32")
    with pytest.raises(ValueError, match="`target` must be an int or 2"):
        attribution.saliency(model, x, [1, 2, 3])
    with pytest.raises(ValueError, match="steps=0"):
        attribution.integrated_gradients(model, x, 0, steps=0)
    with pytest.raises(ValueError, match="rule"):
        attribution.path_weights(4, "simpson")
    with pytest.raises(ValueError, match="sigma=-1"):
        attribution.smoothgrad(model, x, 0, sigma=-1)


def test_path_weights_integrate_a_line_exactly():
    for rule in attribution.RULES:
        a, w = attribution.path_weights(8, rule)
        assert w.sum() == pytest.approx(1.0)
        if rule in ("trapezoid", "midpoint"):
            assert (w * (3 * a + 1)).sum() == pytest.approx(2.5)
