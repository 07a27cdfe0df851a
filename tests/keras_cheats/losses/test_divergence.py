import math

import keras
import numpy as np
import pytest

import keras_cheats.losses.divergence as module
from keras_cheats.losses import (
    GaussianKL,
    KLDivergence,
    gaussian_kl,
    kl_divergence,
)
from tests.keras_cheats.losses import helpers, oracles


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    # 4.8: 0.5 log 2 + 0.5 log(2/3) = 0.143841.
    np.testing.assert_allclose(
        kl_divergence([[0.5, 0.5]], [[0.25, 0.75]]), [0.143841], rtol=1e-5
    )
    assert float(kl_divergence([[0.3, 0.7]], [[0.3, 0.7]])[0]) == 0.0
    # 4.8.1: N(0, 1) from N(0, 1) is 0; mu = (1, 0), s^2 = (1, 2) gives
    # -(1 + 0 - 1 - 1 + 1 + log 2 - 0 - 2) / 2 = 1 - log(2) / 2.
    assert float(gaussian_kl([[0.0, 0.0]], [[0.0, 0.0]])[0]) == 0.0
    np.testing.assert_allclose(
        gaussian_kl([[1.0, 0.0]], [[0.0, math.log(2)]]),
        [1 - math.log(2) / 2],
        rtol=1e-6,
    )
    # The class reads concatenate([mean, log_var]) and ignores y_true.
    np.testing.assert_allclose(
        GaussianKL()(np.zeros((1, 1)), [[1.0, 0.0, 0.0, math.log(2)]]),
        1 - math.log(2) / 2,
        rtol=1e-6,
    )


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for shape in [(1, 2), (5, 3), (4, 2, 6)]:
            p = oracles.softmax(rng.normal(size=shape)).astype(np.float32)
            q = oracles.softmax(rng.normal(size=shape)).astype(np.float32)
            np.testing.assert_allclose(
                kl_divergence(p, q),
                oracles.kl_divergence(p, q),
                rtol=1e-4,
                atol=1e-6,
            )
            mu = rng.normal(size=shape).astype(np.float32)
            log_var = rng.normal(size=shape).astype(np.float32)
            np.testing.assert_allclose(
                gaussian_kl(mu, log_var),
                oracles.gaussian_kl(mu, log_var),
                rtol=1e-5,
            )


def test_kl_is_keras_class():
    assert issubclass(KLDivergence, keras.losses.KLDivergence)


def test_gradients_and_extremes():
    rng = np.random.default_rng(0)
    p = oracles.softmax(rng.normal(size=(3, 4)))
    q = oracles.softmax(rng.normal(size=(3, 4)))
    helpers.check_gradient(lambda v: kl_divergence(p, v), q)
    mu = rng.normal(size=(3, 4))
    helpers.check_gradient(lambda v: gaussian_kl(v, mu), mu)
    helpers.check_gradient(lambda v: gaussian_kl(mu, v), mu)
    # Probabilities of exactly 0 and 1 on either side.
    edge = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    for fn in (
        lambda v: kl_divergence(edge, v),
        lambda v: kl_divergence(v, edge[::-1]),
    ):
        value, grad = helpers.value_and_grad(fn, edge)
        helpers.assert_finite(value, grad)
    # Means of +-1e4 and a log-variance of -1e4 stay finite (a log-variance
    # above ~88 overflows exp in float32, as documented).
    big = np.array([[1e4, -1e4]], np.float32)
    tiny_var = np.full((1, 2), -1e4, np.float32)
    for fn, x in (
        (lambda v: gaussian_kl(v, tiny_var), big),
        (lambda v: gaussian_kl(np.zeros((1, 2)), v), [[-1e4, 80.0]]),
    ):
        value, grad = helpers.value_and_grad(fn, np.float32(x))
        helpers.assert_finite(value, grad)


def test_odd_width_is_rejected():
    with pytest.raises(ValueError, match="even"):
        GaussianKL()(np.zeros((2, 1)), np.zeros((2, 3), np.float32))
