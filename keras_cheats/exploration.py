"""Epsilon-greedy exploration for DQN (cheat sheet 7.8.1).

With probability epsilon the agent acts at random, otherwise greedily,
a = argmax_a Q(s, a); epsilon falls linearly from `start` to `end` over
the first `decay_steps` steps and then stays at `end`:

    epsilon(t) = end + (start - end) max(0, 1 - t / decay_steps)
"""

import numpy as np

from keras_cheats import checks


def linear_epsilon(step, start=1.0, end=0.05, decay_steps=10_000):
    """epsilon at environment step `step` (see the module docstring).

    >>> [linear_epsilon(t, 1.0, 0.1, 10) for t in (0, 5, 10, 99)]
    [1.0, 0.55, 0.1, 0.1]
    """
    start = checks.interval("start", start, 0.0, 1.0)
    end = checks.interval("end", end, 0.0, 1.0)
    decay_steps = checks.positive_int("decay_steps", decay_steps)
    return end + (start - end) * max(0.0, 1.0 - step / decay_steps)


def epsilon_greedy(q_values, epsilon, rng):
    """An action per state: random with probability epsilon, else argmax.

    Args:
        q_values: (A,) or (B, A) action values.
        epsilon: probability of a uniformly random action, in [0, 1].
        rng: a `numpy.random.Generator`.

    Returns:
        an int, or (B,) ints.
    """
    q = np.asarray(q_values)
    greedy = np.argmax(q, axis=-1)
    shape = greedy.shape
    explore = rng.random(shape) < epsilon
    random = rng.integers(0, q.shape[-1], size=shape)
    action = np.where(explore, random, greedy)
    return int(action) if action.ndim == 0 else action
