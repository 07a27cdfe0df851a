"""keras_cheats.losses.reinforcement: TD targets, Huber, returns,
advantages, entropy and the A2C loss against NumPy (cheat sheet 7.8)."""

import numpy as np
import pytest
import tensorflow as tf

import keras_cheats.losses.reinforcement as module
from keras_cheats.losses.reinforcement import (
    a2c_loss,
    advantages,
    discounted_returns,
    dqn_loss,
    entropy,
    q_of_actions,
    td_target,
)
from tests.keras_cheats.losses import helpers, oracles


def _huber(e, delta):
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e**2, delta * (a - 0.5 * delta))


def _log_softmax(z):
    return np.log(oracles.softmax(z))


def test_docstring_examples():
    helpers.run_doctests(module)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_td_target_and_huber_match_numpy(seed):
    rng = np.random.default_rng(seed)
    b, a = int(rng.integers(1, 20)), int(rng.integers(2, 6))
    r = rng.normal(size=b).astype(np.float32)
    done = (rng.random(b) < 0.3).astype(np.float32)
    next_q = rng.normal(size=(b, a)).astype(np.float32) * 3
    q = rng.normal(size=(b, a)).astype(np.float32) * 3
    actions = rng.integers(0, a, size=b)
    gamma, delta = float(rng.uniform(0.5, 1)), float(rng.uniform(0.5, 2))
    y = r + gamma * (1 - done) * next_q.max(axis=1)
    np.testing.assert_allclose(
        td_target(r, done, next_q, gamma), y, rtol=1e-5, atol=1e-6
    )
    chosen = q[np.arange(b), actions]
    np.testing.assert_allclose(q_of_actions(q, actions), chosen, rtol=1e-6)
    np.testing.assert_allclose(
        dqn_loss(y, q, actions, delta),
        _huber(y - chosen, delta),
        rtol=1e-5,
        atol=1e-6,
    )


def test_dqn_loss_gradient_reaches_the_taken_action_only():
    # d/dQ(s, a) of Huber(y - Q): -(y - Q) inside delta, -delta sign(y - Q)
    # outside; zero for the other actions and for the constant target.
    q = tf.constant([[1.0, 5.0], [0.0, 0.0]])
    y = tf.constant([1.5, -4.0])
    with tf.GradientTape() as tape:
        tape.watch([q, y])
        loss = tf.reduce_sum(dqn_loss(y, q, [0, 1], delta=1.0))
    dq, dy = tape.gradient(loss, [q, y])
    np.testing.assert_allclose(dq, [[-0.5, 0.0], [0.0, 1.0]])
    assert dy is None or np.allclose(dy, 0.0)


def _returns_oracle(rewards, dones, bootstrap, gamma):
    # G = U r + gamma^(k) V(s_T), with U_tj = gamma^(j - t) for t <= j up
    # to (and with) the first terminal at or after t: a matrix, no loop.
    t_len = len(rewards)
    g = np.zeros_like(rewards, dtype=np.float64)
    for col in range(rewards.shape[1]):
        end = np.full(t_len, t_len)  # index after the last summed step
        cut = np.zeros(t_len, bool)  # a terminal ends the sum: no V(s_T)
        for start in range(t_len):
            stops = np.nonzero(dones[start:, col])[0]
            if len(stops):
                end[start], cut[start] = start + stops[0] + 1, True
        j, t = np.meshgrid(np.arange(t_len), np.arange(t_len))
        u = np.where((j >= t) & (j < end[:, None]), gamma ** (j - t), 0.0)
        tail = np.where(cut, 0.0, gamma ** (t_len - np.arange(t_len)))
        g[:, col] = u @ rewards[:, col] + tail * bootstrap[col]
    return g


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_discounted_returns_match_a_matrix_oracle(seed):
    rng = np.random.default_rng(seed)
    t_len, n = int(rng.integers(1, 12)), int(rng.integers(1, 5))
    rewards = rng.normal(size=(t_len, n))
    dones = (rng.random((t_len, n)) < 0.25).astype(np.float32)
    bootstrap = rng.normal(size=n)
    gamma = float(rng.uniform(0.3, 1.0))
    np.testing.assert_allclose(
        discounted_returns(rewards, dones, bootstrap, gamma),
        _returns_oracle(rewards, dones, bootstrap, gamma),
        rtol=1e-5,
        atol=1e-5,
    )


def test_episode_returns_by_hand():
    # A whole episode (no bootstrap), gamma 0.5: G_2 = 1, G_1 = 2 + 0.5,
    # G_0 = 4 + 0.5 * 2.5; after a terminal the next episode starts anew.
    g = discounted_returns([4.0, 2.0, 1.0, 8.0], [0, 0, 1, 0], 10.0, 0.5)
    np.testing.assert_allclose(g, [5.25, 2.5, 1.0, 13.0])
    assert advantages(g, [5.0, 2.5, 0.0, 3.0]).tolist() == [
        0.25,
        0.0,
        1.0,
        10.0,
    ]
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns([1.0], [0.0], 0.0, 1.5)


@pytest.mark.parametrize("seed", [0, 1])
def test_entropy_and_a2c_loss_match_numpy(seed):
    rng = np.random.default_rng(seed)
    b, a = int(rng.integers(1, 16)), int(rng.integers(2, 6))
    logits = rng.normal(size=(b, a)).astype(np.float32) * 2
    values = rng.normal(size=b).astype(np.float32)
    returns = rng.normal(size=b).astype(np.float32) * 3
    actions = rng.integers(0, a, size=b)
    c_v, c_e = 0.5, float(rng.uniform(0, 0.1))
    p = oracles.softmax(logits.astype(np.float64))
    h = -(p * np.log(p)).sum(-1)
    np.testing.assert_allclose(entropy(logits), h, rtol=1e-5)
    log_pi = _log_softmax(logits.astype(np.float64))[np.arange(b), actions]
    adv = returns - values
    expected = -log_pi * adv + c_v * adv**2 - c_e * h
    np.testing.assert_allclose(
        a2c_loss(logits, values, actions, returns, c_v, c_e),
        expected,
        rtol=1e-5,
        atol=1e-5,
    )


def test_a2c_advantage_is_a_constant_in_the_policy_term():
    # d L / d V = -2 c_v (G - V) only: the policy term's A is not
    # differentiated. d L / d logits = -A (onehot(a) - pi) - c_e dH.
    logits = tf.constant([[0.3, -0.2]])
    values = tf.constant([0.5])
    with tf.GradientTape() as tape:
        tape.watch([logits, values])
        loss = a2c_loss(logits, values, [0], [2.0], 0.5, 0.0)
    d_logits, d_values = tape.gradient(loss, [logits, values])
    np.testing.assert_allclose(d_values, [-2 * 0.5 * 1.5], rtol=1e-6)
    pi = oracles.softmax(np.array([[0.3, -0.2]]))
    np.testing.assert_allclose(
        d_logits, -1.5 * (np.array([[1.0, 0.0]]) - pi), rtol=1e-5
    )


def test_entropy_is_log_a_for_a_uniform_policy_and_0_when_certain():
    np.testing.assert_allclose(entropy(np.zeros((2, 5))), np.log(5), 1e-6)
    assert float(entropy([[100.0, 0.0]])[0]) == pytest.approx(0.0, abs=1e-6)
