"""Experience replay for DQN (cheat sheet 7.8.1): a NumPy ring buffer.

Transitions (s, a, r, s', done) are written in a circle of `capacity`
slots, the oldest overwritten first, and minibatches are drawn uniformly
with replacement from the slots filled so far, by a seeded generator:
the same seed and the same transitions give the same batches.

    buffer = ReplayBuffer(capacity=50_000, observation_shape=(4,), seed=0)
    buffer.add(s, a, r, s2, done)
    states, actions, rewards, next_states, dones = buffer.sample(64)
"""

import numpy as np

from keras_cheats import checks


class ReplayBuffer:
    """A ring buffer of transitions with uniform, seeded sampling.

    Args:
        capacity: slots, >= 1; when full, `add` overwrites the oldest.
        observation_shape: shape of one state, e.g. (4,) for CartPole.
        seed: seeds the sampling generator.
    """

    def __init__(self, capacity, observation_shape, seed=0):
        self.capacity = checks.positive_int("capacity", capacity)
        shape = checks.input_shape(observation_shape)
        self.states = np.zeros((capacity, *shape), np.float32)
        self.next_states = np.zeros((capacity, *shape), np.float32)
        self.actions = np.zeros((capacity,), np.int32)
        self.rewards = np.zeros((capacity,), np.float32)
        self.dones = np.zeros((capacity,), np.float32)
        self.size = 0  # slots filled
        self.next = 0  # the slot the next transition goes to
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return self.size

    def add(self, state, action, reward, next_state, done):
        """Stores one transition in slot `next` (the oldest once full)."""
        i = self.next
        self.states[i] = state
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_states[i] = next_state
        self.dones[i] = float(done)
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size, num_batches=None):
        """Uniformly drawn transitions, with replacement.

        Args:
            batch_size: transitions per batch, >= 1.
            num_batches: None for one batch of shape (batch_size, ...);
                an int K for K batches stacked as (K, batch_size, ...).

        Returns:
            (states, actions, rewards, next_states, dones) arrays.
        """
        checks.positive_int("batch_size", batch_size)
        if self.size == 0:
            raise ValueError("the replay buffer is empty; add transitions")
        shape = (batch_size,)
        if num_batches is not None:
            shape = (checks.positive_int("num_batches", num_batches),) + shape
        idx = self._rng.integers(0, self.size, size=shape)
        return (
            self.states[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_states[idx],
            self.dones[idx],
        )
