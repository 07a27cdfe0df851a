import numpy as np
import pytest

import keras_cheats.losses.capsule as capsule_module
from keras_cheats.losses import MarginLoss, margin_loss
from tests.keras_cheats.losses import helpers, oracles


def test_docstring_examples():
    helpers.run_doctests(capsule_module)


def test_hand_computed():
    # Class 1 present with length 0.8, class 0 absent with length 0.3:
    # (0.9 - 0.8)^2 + 0.5 * (0.3 - 0.1)^2 = 0.01 + 0.02.
    value = margin_loss([[0.0, 1.0]], [[0.3, 0.8]])
    np.testing.assert_allclose(value, [0.03], rtol=1e-5)
    # Inside both margins nothing is penalised.
    assert float(margin_loss([[1.0, 0.0]], [[0.95, 0.05]])[0]) == 0.0
    # Custom margins: (0.5 - 0.2)^2 + 2 * (0.6 - 0.4)^2 = 0.09 + 0.08.
    value = margin_loss([[1.0, 0.0]], [[0.2, 0.6]], 0.5, 0.4, 2.0)
    np.testing.assert_allclose(value, [0.17], rtol=1e-5)


def test_matches_numpy():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for batch, classes in [(1, 2), (5, 10), (7, 3)]:
            t = np.eye(classes, dtype=np.float32)[
                rng.integers(0, classes, batch)
            ]
            lengths = rng.uniform(0, 1, (batch, classes)).astype(np.float32)
            np.testing.assert_allclose(
                margin_loss(t, lengths, 0.8, 0.2, 0.3),
                oracles.margin(t, lengths, 0.8, 0.2, 0.3),
                rtol=1e-5,
                atol=1e-7,
            )
            # Multi-hot labels: several classes present at once.
            multi = (rng.random((batch, classes)) > 0.5).astype(np.float32)
            np.testing.assert_allclose(
                margin_loss(multi, lengths),
                oracles.margin(multi, lengths),
                rtol=1e-5,
                atol=1e-7,
            )


def test_gradient_and_edges():
    t = np.eye(4)[[0, 3, 1]]
    lengths = np.random.default_rng(0).uniform(0, 1, (3, 4))
    helpers.check_gradient(lambda v: margin_loss(t, v), lengths)
    # Lengths of exactly 0 and 1: finite value and gradient.
    edge = np.array([[0.0, 1.0, 0.0, 1.0]] * 3, np.float32)
    value, grad = helpers.value_and_grad(lambda v: margin_loss(t, v), edge)
    helpers.assert_finite(value, grad)


def test_bad_arguments():
    for kwargs, word in [
        ({"m_plus": 1.5}, "m_plus"),
        ({"m_minus": -0.1}, "m_minus"),
        ({"down_weight": -1.0}, "down_weight"),
        ({"m_plus": 0.2, "m_minus": 0.5}, "m_minus"),
    ]:
        with pytest.raises(ValueError, match=word):
            MarginLoss(**kwargs)
        with pytest.raises(ValueError, match=word):
            margin_loss([[1.0]], [[0.5]], **kwargs)


# Reductions, sample_weight, float16/bfloat16, model.fit and the .keras
# round trip: test_keras_integration.py.


def test_serialization():
    loss = MarginLoss(m_plus=0.85, m_minus=0.15, down_weight=0.4)
    clone = helpers.assert_config_round_trip(loss)
    assert (clone.m_plus, clone.m_minus, clone.down_weight) == (0.85, 0.15, 0.4)
