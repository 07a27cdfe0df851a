"""keras_cheats.replay: the ring buffer's wrap-around and its uniform,
seeded sampling (cheat sheet 7.8.1)."""

import numpy as np
import pytest

from keras_cheats.replay import ReplayBuffer


def _fill(buffer, start, stop):
    for i in range(start, stop):
        buffer.add(np.full(2, i), i % 3, float(i), np.full(2, i + 1), i % 2)


def test_the_oldest_transition_is_overwritten_first():
    buffer = ReplayBuffer(capacity=4, observation_shape=(2,))
    _fill(buffer, 0, 3)
    assert len(buffer) == 3 and buffer.next == 3
    _fill(buffer, 3, 6)  # 4 and 5 overwrite slots 0 and 1
    assert len(buffer) == 4 and buffer.next == 2
    assert buffer.rewards.tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.states[:, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.next_states[:, 0].tolist() == [5.0, 6.0, 3.0, 4.0]
    assert buffer.actions.tolist() == [1, 2, 2, 0]
    assert buffer.dones.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_samples_are_stored_transitions_drawn_uniformly():
    buffer = ReplayBuffer(capacity=8, observation_shape=(2,), seed=3)
    _fill(buffer, 0, 13)  # holds transitions 5 to 12
    s, a, r, s2, d = buffer.sample(4000)
    assert s.shape == (4000, 2) and s2.shape == (4000, 2)
    assert a.dtype == np.int32 and r.dtype == np.float32
    # Every sampled row is one whole stored transition, none overwritten.
    np.testing.assert_array_equal(s[:, 0], r)
    np.testing.assert_array_equal(s2[:, 0], r + 1)
    np.testing.assert_array_equal(a, r.astype(int) % 3)
    counts = np.bincount(r.astype(int), minlength=13)
    assert counts[:5].sum() == 0
    # 8 slots, 500 expected each; 4 standard deviations is about 85.
    assert np.all(np.abs(counts[5:] - 500) < 90), counts[5:]


def test_the_same_seed_gives_the_same_batches():
    batches = []
    for seed in (0, 0, 1):
        buffer = ReplayBuffer(16, (2,), seed=seed)
        _fill(buffer, 0, 16)
        batches.append(buffer.sample(8, num_batches=3)[2])
    assert batches[0].shape == (3, 8)
    np.testing.assert_array_equal(batches[0], batches[1])
    assert not np.array_equal(batches[0], batches[2])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="capacity=0"):
        ReplayBuffer(0, (2,))
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(2, (2,)).sample(1)
    buffer = ReplayBuffer(2, (2,))
    _fill(buffer, 0, 1)
    with pytest.raises(ValueError, match="batch_size=0"):
        buffer.sample(0)
