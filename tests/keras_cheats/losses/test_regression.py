import keras
import numpy as np
import pytest

import keras_cheats.losses.regression as module
from keras_cheats.losses import (
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
    huber,
    mean_absolute_error,
    mean_squared_error,
)
from tests.keras_cheats.losses import helpers, oracles


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    y, yhat = [[1.0, 2.0]], [[1.5, 0.0]]
    np.testing.assert_allclose(mean_squared_error(y, yhat), [2.125])
    np.testing.assert_allclose(mean_absolute_error(y, yhat), [1.25])
    # |e| = 0.5 <= 1: 0.5 * 0.25; |e| = 2 > 1: 1 * (2 - 0.5).
    np.testing.assert_allclose(huber(y, yhat, 1.0), [0.8125])
    # delta = 3: both quadratic, (0.125 + 2) / 2.
    np.testing.assert_allclose(huber(y, yhat, 3.0), [1.0625])
    # At |e| = delta both branches agree: 0.5 * 4 = 2 * (2 - 1).
    np.testing.assert_allclose(huber([[0.0]], [[2.0]], 2.0), [2.0])


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for shape in [(1, 1), (5, 3), (4, 2, 6)]:
            y = rng.normal(size=shape).astype(np.float32)
            yhat = (y + 2 * rng.normal(size=shape)).astype(np.float32)
            np.testing.assert_allclose(
                mean_squared_error(y, yhat),
                oracles.mean_squared_error(y, yhat),
                rtol=1e-5,
            )
            np.testing.assert_allclose(
                mean_absolute_error(y, yhat),
                oracles.mean_absolute_error(y, yhat),
                rtol=1e-5,
            )
            for delta in (0.5, 1.0, 2.5):
                np.testing.assert_allclose(
                    huber(y, yhat, delta),
                    oracles.huber(y, yhat, delta),
                    rtol=1e-5,
                )


def test_classes_are_keras_losses():
    assert issubclass(MeanSquaredError, keras.losses.MeanSquaredError)
    assert issubclass(MeanAbsoluteError, keras.losses.MeanAbsoluteError)
    assert issubclass(Huber, keras.losses.Huber)


def test_huber_keeps_delta_through_serialization():
    # keras.losses.Huber.get_config drops delta in Keras 3.15; ours keeps it.
    loss = Huber(delta=0.3)
    revived = helpers.assert_config_round_trip(loss)
    assert revived.get_config()["delta"] == 0.3
    y, yhat = [[0.0, 0.0]], [[0.1, 2.0]]
    np.testing.assert_allclose(revived(y, yhat), loss(y, yhat))
    np.testing.assert_allclose(
        loss(y, yhat),
        oracles.huber(np.array(y), np.array(yhat), 0.3),
        rtol=1e-6,
    )


def test_gradients():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(3, 4))
    yhat = y + rng.normal(size=(3, 4))
    helpers.check_gradient(lambda v: mean_squared_error(y, v), yhat)
    helpers.check_gradient(lambda v: mean_absolute_error(y, v), yhat)
    helpers.check_gradient(lambda v: huber(y, v, 0.8), yhat)
    big = np.array([[1e4, -1e4]], np.float32)
    for fn in (mean_squared_error, mean_absolute_error, huber):
        value, grad = helpers.value_and_grad(
            lambda v, f=fn: f([[0, 0]], v), big
        )
        helpers.assert_finite(value, grad)


def test_bad_delta():
    for delta in [0.0, -1.0, "x"]:
        with pytest.raises(ValueError, match="delta"):
            Huber(delta=delta)
        with pytest.raises(ValueError, match="delta"):
            huber([[0.0]], [[1.0]], delta)
