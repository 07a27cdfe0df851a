"""keras_cheats.exploration: the linear epsilon schedule and
epsilon-greedy actions (cheat sheet 7.8.1)."""

import numpy as np
import pytest

import keras_cheats.exploration as module
from keras_cheats.exploration import epsilon_greedy, linear_epsilon
from tests.keras_cheats.losses import helpers


def test_docstring_examples():
    helpers.run_doctests(module)


def test_epsilon_falls_linearly_then_stays():
    values = [linear_epsilon(t, 1.0, 0.05, 100) for t in range(0, 201, 25)]
    np.testing.assert_allclose(
        values, [1.0, 0.7625, 0.525, 0.2875, 0.05, 0.05, 0.05, 0.05, 0.05]
    )
    with pytest.raises(ValueError, match="decay_steps=0"):
        linear_epsilon(0, decay_steps=0)
    with pytest.raises(ValueError, match="end=1.5"):
        linear_epsilon(0, end=1.5)


def test_epsilon_greedy_explores_at_the_rate_epsilon():
    rng = np.random.default_rng(0)
    q = np.tile([0.0, 0.0, 1.0, 0.0], (20_000, 1))  # greedy action: 2
    actions = epsilon_greedy(q, 0.2, rng)
    # P(a != 2) = epsilon (A - 1) / A = 0.15; each other action 0.05.
    share = np.bincount(actions, minlength=4) / len(actions)
    np.testing.assert_allclose(share, [0.05, 0.05, 0.85, 0.05], atol=0.01)
    assert epsilon_greedy(q[0], 0.0, rng) == 2
    assert isinstance(epsilon_greedy(q[0], 1.0, rng), int)
