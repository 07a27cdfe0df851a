"""Targets and losses of deep Q-learning and actor-critic, cheat sheet 7.8.

DQN (7.8.1) regresses Q(s, a) on the temporal-difference target

    y = r + gamma (1 - done) max_a' Q_target(s', a')

with the Huber loss of 4.7 (`keras_cheats.losses.regression.huber`).
Advantage actor-critic (7.8.2) weighs log pi(a|s) by the advantage
A = G - V(s) of a discounted return G:

    L = -log pi(a|s) A + c_v (G - V(s))^2 - c_e H(pi(.|s)).

Returns and advantages are computed on the host from a rollout, in NumPy;
the losses are Keras ops, one value per sample. They take (actions,
returns, logits, values) rather than (y_true, y_pred), so they come as
functions without `Loss` classes.
"""

import numpy as np
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import to_float32
from keras_cheats.losses.regression import huber


def td_target(rewards, dones, next_q_target, gamma):
    """The DQN temporal-difference target (cheat sheet 7.8.1):

        y = r + gamma (1 - done) max_a' Q_target(s', a')

    `done` is 1 only where the episode terminated (the pole fell): an
    episode cut by a time limit still bootstraps from s'.

    Args:
        rewards: (B,) rewards r.
        dones: (B,) 1.0 where s' is terminal, else 0.0.
        next_q_target: (B, A) target-network values Q_target(s', .).
        gamma: discount factor in [0, 1].

    Returns:
        float32 tensor of shape (B,).

    Example (1 + 0.9 * 3, and 2 with no bootstrap after a terminal):

    >>> [round(float(v), 4) for v in td_target(
    ...     [1.0, 2.0], [0.0, 1.0], [[3.0, -1.0], [5.0, 6.0]], 0.9)]
    [3.7, 2.0]
    """
    gamma = checks.interval("gamma", gamma, 0.0, 1.0)
    best_next = ops.max(to_float32(next_q_target), axis=-1)
    return to_float32(rewards) + gamma * (1.0 - to_float32(dones)) * best_next


def q_of_actions(q_values, actions):
    """Q(s, a) of the actions taken: (B, A) values, (B,) ints -> (B,).

    >>> [float(v) for v in q_of_actions([[1.0, 2.0], [3.0, 4.0]], [1, 0])]
    [2.0, 3.0]
    """
    q_values = to_float32(q_values)
    actions = ops.cast(actions, "int32")
    one_hot = ops.one_hot(actions, ops.shape(q_values)[-1], dtype="float32")
    return ops.sum(q_values * one_hot, axis=-1)


def dqn_loss(targets, q_values, actions, delta=1.0):
    """Huber loss (cheat sheet 4.7) between y and Q(s, a), per sample.

        L = 1/2 e^2 if |e| <= delta else delta (|e| - 1/2 delta),
        e = y - Q(s, a)

    Args:
        targets: (B,) TD targets y (`td_target`), treated as constants.
        q_values: (B, A) online-network values Q(s, .).
        actions: (B,) actions taken, ints in [0, A).
        delta: threshold between the quadratic and linear parts, > 0.

    Returns:
        float32 tensor of shape (B,).

    Example (e = 0.5: 0.125; e = -3: 1 * (3 - 0.5) = 2.5):

    >>> [float(v) for v in dqn_loss(
    ...     [2.5, 0.0], [[2.0, 9.0], [7.0, 3.0]], [0, 1])]
    [0.125, 2.5]
    """
    y = ops.stop_gradient(to_float32(targets))
    q = q_of_actions(q_values, actions)
    return huber(y[:, None], q[:, None], delta)  # mean over 1 element


def discounted_returns(rewards, dones, bootstrap, gamma):
    """n-step (or whole-episode) discounted returns of a rollout, NumPy.

        G_t = r_t + gamma (1 - done_t) G_{t+1},   G_T = V(s_T)

    Time runs along axis 0; a `done_t` (terminal s_{t+1}) cuts the sum, so
    a rollout may hold the end of one episode and the start of the next.
    With `bootstrap` 0 and the rollout one whole episode, G_t is the
    Monte-Carlo return sum_k gamma^k r_{t+k}.

    Args:
        rewards: (T, ...) rewards r_t.
        dones: (T, ...) 1 where s_{t+1} is terminal.
        bootstrap: (...) values V(s_T) of the state after the rollout.
        gamma: discount factor in [0, 1].

    Returns:
        float32 array of shape (T, ...).

    Example (0.5-discounted, 1 + 0.5 (1 + 0.5 * 4)):

    >>> discounted_returns([1.0, 1.0], [0.0, 0.0], 4.0, 0.5).tolist()
    [2.5, 3.0]
    """
    gamma = checks.interval("gamma", gamma, 0.0, 1.0)
    rewards = np.asarray(rewards, np.float32)
    keep = 1.0 - np.asarray(dones, np.float32)
    returns = np.empty_like(rewards)
    g = np.broadcast_to(np.asarray(bootstrap, np.float32), rewards.shape[1:])
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * keep[t] * g
        returns[t] = g
    return returns


def advantages(returns, values):
    """A = G - V(s): how much better the action did than expected, NumPy.

    >>> advantages([2.5, 3.0], [2.0, 3.5]).tolist()
    [0.5, -0.5]
    """
    return np.asarray(returns, np.float32) - np.asarray(values, np.float32)


def entropy(logits):
    """Entropy of the policy pi = softmax(logits), per sample:

        H(pi) = - sum_a pi(a) log pi(a)

    Args:
        logits: (B, A) unnormalized log-probabilities.

    Returns:
        float32 tensor of shape (B,); log A for a uniform policy.

    >>> round(float(entropy([[0.0, 0.0]])[0]), 4)  # log 2
    0.6931
    """
    log_p = ops.log_softmax(to_float32(logits), axis=-1)
    return -ops.sum(ops.exp(log_p) * log_p, axis=-1)


def a2c_loss(
    logits, values, actions, returns, value_coef=0.5, entropy_coef=0.01
):
    """Advantage actor-critic loss per sample (cheat sheet 7.8.2):

        L = -log pi(a|s) A + c_v (G - V(s))^2 - c_e H(pi(.|s)),
        A = G - V(s)

    The advantage is a constant in the policy term (the critic learns
    from the second term only).

    Args:
        logits: (B, A) policy logits.
        values: (B,) or (B, 1) critic values V(s).
        actions: (B,) actions taken.
        returns: (B,) discounted returns G (`discounted_returns`).
        value_coef: c_v >= 0.
        entropy_coef: c_e >= 0 (the entropy bonus).

    Returns:
        float32 tensor of shape (B,).

    Example (uniform policy over 2 actions, G = 1, V = 0: A = 1,
    log 2 + 0.5 * 1 - 0.01 log 2):

    >>> round(float(a2c_loss([[0.0, 0.0]], [0.0], [1], [1.0])[0]), 4)
    1.1862
    """
    value_coef = checks.interval("value_coef", value_coef, 0.0)
    entropy_coef = checks.interval("entropy_coef", entropy_coef, 0.0)
    logits = to_float32(logits)
    values = ops.reshape(to_float32(values), (-1,))
    returns = to_float32(returns)
    log_pi = q_of_actions(ops.log_softmax(logits, axis=-1), actions)
    advantage = ops.stop_gradient(returns - values)
    return (
        -log_pi * advantage
        + value_coef * ops.square(returns - values)
        - entropy_coef * entropy(logits)
    )
