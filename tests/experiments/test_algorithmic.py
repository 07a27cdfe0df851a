"""experiments.algorithmic: the copy task's layout, its masked loss
against NumPy, and the bit scores on hand-made cases."""

import numpy as np
import pytest

from experiments import algorithmic


def test_copy_task_layout():
    x, y, lengths = algorithmic.copy_task(20, 1, 4, bits=3, seed=7)
    assert x.shape == y.shape == (20, 9, 4)
    assert lengths.min() >= 1 and lengths.max() <= 4
    for xi, yi, n in zip(x, y, lengths):
        np.testing.assert_array_equal(xi[:n, 3], 0)
        assert xi[n, 3] == 1 and xi[n, :3].sum() == 0  # the delimiter
        np.testing.assert_array_equal(xi[n + 1 :], 0)  # blank to the end
        np.testing.assert_array_equal(yi[n + 1 : 2 * n + 1, :3], xi[:n, :3])
        np.testing.assert_array_equal(yi[:, 3], (np.arange(9) > n) & (
            np.arange(9) <= 2 * n))  # fmt: skip
    again = algorithmic.copy_task(20, 1, 4, bits=3, seed=7)
    np.testing.assert_array_equal(again[0], x)
    with pytest.raises(ValueError, match="min_length=3, max_length=2"):
        algorithmic.copy_task(1, 3, 2)
    with pytest.raises(ValueError, match="steps=4; expected >= 2 \\* max"):
        algorithmic.copy_task(1, 1, 2, steps=4)


@pytest.mark.parametrize("seed", [0, 1])
def test_masked_bit_loss_matches_numpy(seed):
    x, y, _ = algorithmic.copy_task(6, 1, 5, bits=4, seed=seed)
    logits = np.random.default_rng(seed).normal(size=y[..., :4].shape) * 3
    t, m = y[..., :4], y[..., 4]
    p = 1 / (1 + np.exp(-logits))
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    want = (bce.sum(-1) * m).sum(-1) / (4 * m.sum(-1))
    got = np.asarray(algorithmic.masked_bit_loss(y, logits.astype("f4")))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_masked_bit_loss_ignores_unmasked_steps():
    y = np.zeros((1, 3, 2), np.float32)
    y[0, 1] = [1.0, 1.0]  # one output step, target bit 1, masked in
    logits = np.array([[[50.0], [0.0], [-50.0]]], np.float32)
    # Only the middle step counts: -log sigmoid(0) = log 2.
    loss = algorithmic.masked_bit_loss(y, logits)
    np.testing.assert_allclose(np.asarray(loss), [np.log(2.0)], rtol=1e-6)


def test_bit_scores_hand_computed():
    y = np.zeros((2, 2, 3), np.float32)
    y[:, 1, 2] = 1.0  # step 1 is the output step, targets 0 0
    y[1, 1, 0] = 1.0  # sequence 1 expects 1 0
    logits = np.full((2, 2, 2), -1.0, np.float32)
    logits[0, 0] = 5.0  # a wrong bit on an unmasked step: not counted
    logits[1, 1, 1] = 2.0  # sequence 1: bit 0 wrong (0 for 1), bit 1 wrong
    scores = algorithmic.bit_scores(y, logits)
    assert scores == {
        "bit_accuracy": 0.5, "exact_match": 0.5,
        "bit_errors_per_sequence": 1.0,
    }  # fmt: skip
