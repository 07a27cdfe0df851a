"""keras_cheats.shap_lime: SHAP and LIME through their packages, on tiny
models whose exact attributions are known."""

import keras
import numpy as np
import pytest

from keras_cheats import shap_lime

shap = pytest.importorskip("shap", reason="the explain extra is not installed")
lime = pytest.importorskip("lime", reason="the explain extra is not installed")


def _linear_image_model(seed):
    # (4, 4, 1) images -> 3 logits, f(x) = flatten(x) W + b.
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])  # fmt: skip
    return model, model.layers[-1].kernel.numpy()  # (16, 3)


@pytest.mark.parametrize("method", ["gradient", "deep"])
def test_shap_of_a_linear_model_is_weight_times_difference(method):
    # Constant gradient W: every SHAP estimate is W_c (x - background).
    model, w = _linear_image_model(0)
    rng = np.random.default_rng(0)
    x = rng.random((2, 4, 4, 1)).astype("float32")
    background = np.repeat(rng.random((1, 4, 4, 1)), 5, 0).astype("float32")
    target = np.array([2, 0])
    if method == "gradient":
        phi = shap_lime.shap_gradient(model, x, target, background, 20)
    else:
        phi = shap_lime.shap_deep(model, x, target, background)
    assert phi.shape == x.shape
    expected = (x - background[:1]).reshape(2, 16) * w[:, target].T
    np.testing.assert_allclose(phi.reshape(2, 16), expected, atol=1e-5)


def test_grid_segments_hand_computed():
    np.testing.assert_array_equal(
        shap_lime.grid_segments(3, 5, 2),
        [[0, 0, 1, 1, 2], [0, 0, 1, 1, 2], [3, 3, 4, 4, 5]],
    )


def test_lime_finds_the_only_patch_the_model_looks_at():
    # p(1) = sigmoid(8 (mean of the top-left 2x2 patch) - 4): only
    # superpixel 0 matters, so it gets the largest weight by far.
    def predict(batch):
        z = 8 * np.asarray(batch)[:, :2, :2].mean(axis=(1, 2, 3)) - 4
        p = 1 / (1 + np.exp(-z))
        return np.stack([1 - p, p], axis=1)

    x = np.ones((2, 4, 4, 1), "float32")
    maps = shap_lime.lime_map(predict, x, [1, 0], patch=2, samples=64)
    assert maps.shape == (2, 4, 4)
    others = np.abs(maps[:, 2:]).max(), np.abs(maps[:, :2, 2:]).max()
    assert maps[0, 0, 0] > 0.5 and max(others) < 0.1 * maps[0, 0, 0]
    assert maps[1, 0, 0] < -0.5  # the patch lowers p(0)
    # Every pixel of a superpixel carries its weight.
    np.testing.assert_array_equal(
        maps[:, :2, :2], np.broadcast_to(maps[:, :1, :1], (2, 2, 2))
    )
