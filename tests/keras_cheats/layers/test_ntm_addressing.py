"""keras_cheats.layers.ntm_addressing against NumPy versions of Graves et
al.'s formulas, on random inputs, and small hand-computed cases."""

import numpy as np
import pytest

from keras_cheats.layers import ntm_addressing as addressing


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_content(memory, key, beta):
    cos = np.einsum("bnm,bm->bn", memory, key) / (
        np.linalg.norm(memory, axis=-1) * np.linalg.norm(key, axis=-1)[:, None]
        + addressing.EPS
    )
    return np_softmax(beta * cos)


def np_shift(w, s):
    """w~_i = sum_j w_j s_{(i - j) mod N}, s spread over all N offsets."""
    b, n = w.shape
    half = s.shape[1] // 2
    full = np.zeros((b, n))
    for k in range(-half, half + 1):
        full[:, k % n] += s[:, k + half]
    out = np.zeros_like(w)
    for i in range(n):
        for j in range(n):
            out[:, i] += w[:, j] * full[:, (i - j) % n]
    return out


def np_sharpen(w, gamma):
    p = (w + addressing.EPS) ** gamma
    return p / p.sum(-1, keepdims=True)


def random_weighting(rng, b, n):
    return np_softmax(rng.normal(size=(b, n)) * 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_content_weights_match_numpy(seed):
    rng = np.random.default_rng(seed)
    b, n, m = rng.integers(1, 5), rng.integers(2, 12), rng.integers(1, 7)
    memory = rng.normal(size=(b, n, m)).astype(np.float32)
    key = rng.normal(size=(b, m)).astype(np.float32)
    beta = rng.uniform(0, 10, size=(b, 1)).astype(np.float32)
    got = np.asarray(addressing.content_weights(memory, key, beta))
    np.testing.assert_allclose(got, np_content(memory, key, beta), atol=1e-5)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)


def test_content_weights_pick_the_matching_row():
    memory = np.array([[[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]], np.float32)
    key = np.array([[0.0, 1.0]], np.float32)  # parallel to row 1
    # cosines 0, 1, 0; beta = log 2: weights 1, 2, 1 -> 1/4, 1/2, 1/4.
    w = addressing.content_weights(memory, key, np.array([[np.log(2.0)]]))
    np.testing.assert_allclose(np.asarray(w), [[0.25, 0.5, 0.25]], atol=1e-6)


@pytest.mark.parametrize("seed,width", [(0, 3), (1, 5), (2, 1)])
def test_circular_shift_matches_numpy_convolution(seed, width):
    rng = np.random.default_rng(seed)
    b, n = rng.integers(1, 5), rng.integers(width, 10)
    w = random_weighting(rng, b, n).astype(np.float32)
    s = np_softmax(rng.normal(size=(b, width))).astype(np.float32)
    got = np.asarray(addressing.circular_shift(w, s))
    np.testing.assert_allclose(got, np_shift(w, s), atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)


def test_circular_shift_moves_a_one_hot_and_wraps():
    w = np.array([[0.0, 0.0, 0.0, 1.0]], np.float32)
    forward = addressing.circular_shift(w, np.array([[0.0, 0.0, 1.0]]))
    back = addressing.circular_shift(w, np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(np.asarray(forward), [[1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(back), [[0.0, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="odd last size"):
        addressing.circular_shift(w, np.array([[0.5, 0.5]]))


def test_sharpen_matches_numpy_and_hand_value():
    rng = np.random.default_rng(3)
    w = random_weighting(rng, 4, 9).astype(np.float32)
    gamma = rng.uniform(1, 5, size=(4, 1)).astype(np.float32)
    got = np.asarray(addressing.sharpen(w, gamma))
    np.testing.assert_allclose(got, np_sharpen(w, gamma), atol=1e-6)
    # (0.25, 0.75) squared: 1/16, 9/16 -> 0.1, 0.9.
    two = addressing.sharpen(np.array([[0.25, 0.75]]), np.array([[2.0]]))
    np.testing.assert_allclose(np.asarray(two), [[0.1, 0.9]], atol=1e-6)


def test_address_composes_the_four_steps():
    rng = np.random.default_rng(4)
    b, n, m = 3, 7, 5
    memory = rng.normal(size=(b, n, m)).astype(np.float32)
    prev = random_weighting(rng, b, n).astype(np.float32)
    key = rng.normal(size=(b, m)).astype(np.float32)
    beta = rng.uniform(0, 5, (b, 1)).astype(np.float32)
    gate = rng.uniform(0, 1, (b, 1)).astype(np.float32)
    s = np_softmax(rng.normal(size=(b, 3))).astype(np.float32)
    gamma = rng.uniform(1, 3, (b, 1)).astype(np.float32)
    got = addressing.address(memory, prev, key, beta, gate, s, gamma)
    wg = gate * np_content(memory, key, beta) + (1 - gate) * prev
    want = np_sharpen(np_shift(wg, s), gamma)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


def test_write_and_read_match_numpy():
    rng = np.random.default_rng(5)
    b, n, m = 2, 6, 4
    memory = rng.normal(size=(b, n, m)).astype(np.float32)
    w = random_weighting(rng, b, n).astype(np.float32)
    e = rng.uniform(size=(b, m)).astype(np.float32)
    a = rng.normal(size=(b, m)).astype(np.float32)
    want = memory.copy()
    for i in range(n):  # Graves et al. eq. 3 and 4, row by row
        want[:, i] = memory[:, i] * (1 - w[:, i, None] * e) + w[:, i, None] * a
    got = np.asarray(addressing.write(memory, w, e, a))
    np.testing.assert_allclose(got, want, atol=1e-6)
    read = np.asarray(addressing.read(memory, w))
    np.testing.assert_allclose(read, np.einsum("bn,bnm->bm", w, memory), 1e-5)


def test_rows_with_zero_write_weight_are_unchanged():
    rng = np.random.default_rng(6)
    memory = rng.normal(size=(1, 5, 3)).astype(np.float32)
    w = np.array([[0.0, 0.7, 0.0, 0.3, 0.0]], np.float32)
    e = np.ones((1, 3), np.float32)  # erase everything it touches
    a = rng.normal(size=(1, 3)).astype(np.float32)
    got = np.asarray(addressing.write(memory, w, e, a))
    np.testing.assert_array_equal(got[0, [0, 2, 4]], memory[0, [0, 2, 4]])
    # Full erase, then add: a written row holds w_i e... + w_i a.
    np.testing.assert_allclose(
        got[0, 1], memory[0, 1] * 0.3 + 0.7 * a[0], atol=1e-6
    )
