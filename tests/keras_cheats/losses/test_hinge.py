import keras
import numpy as np

import keras_cheats.losses.hinge as module
from keras_cheats.losses import HingeLoss, hinge_loss
from tests.keras_cheats.losses import helpers, oracles


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed_and_label_conventions():
    # max(0, 1 - 0.3) = 0.7 and max(0, 1 - 2) = 0, averaged.
    np.testing.assert_allclose(hinge_loss([[1, -1]], [[0.3, -2.0]]), [0.35])
    # {0, 1} labels are converted when all labels are 0 or 1 ...
    np.testing.assert_allclose(hinge_loss([[1, 0]], [[0.3, -2.0]]), [0.35])
    # ... but not in a batch that also holds -1: the 0 stays 0 and costs
    # max(0, 1 - 0) = 1 whatever the score.
    np.testing.assert_allclose(
        hinge_loss([[1, 0], [-1, -1]], [[0.3, -2.0], [-5.0, -5.0]]),
        [(0.7 + 1.0) / 2, 0.0],
    )


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for shape in [(1, 1), (5, 3), (4, 2, 6)]:
            y = np.where(rng.random(shape) > 0.5, 1.0, -1.0)
            score = rng.normal(size=shape) * 2
            want = oracles.hinge(y, score)
            np.testing.assert_allclose(
                hinge_loss(y, score), want, rtol=1e-5, atol=1e-6
            )
            np.testing.assert_allclose(
                hinge_loss((y + 1) / 2, score), want, rtol=1e-5, atol=1e-6
            )


def test_is_keras_hinge():
    assert issubclass(HingeLoss, keras.losses.Hinge)


def test_gradients():
    rng = np.random.default_rng(0)
    y = np.where(rng.random((3, 4)) > 0.5, 1.0, -1.0)
    helpers.check_gradient(lambda v: hinge_loss(y, v), rng.normal(size=(3, 4)))
    big = np.array([[1e4, -1e4]], np.float32)
    value, grad = helpers.value_and_grad(lambda v: hinge_loss([[1, 1]], v), big)
    helpers.assert_finite(value, grad)
