"""keras_cheats.faithfulness: deletion order, curve and its area."""

import numpy as np
import pytest

from keras_cheats import faithfulness


def _ink(batch):
    # Two classes: p(0) = mean pixel value, p(1) = 1 - p(0).
    mean = np.asarray(batch).reshape(len(batch), -1).mean(axis=1)
    return np.stack([mean, 1 - mean], axis=1)


def test_deletion_curve_hand_computed():
    # 2x2 image (1, 0.5; 0, 0), one pixel removed per step. Most
    # attributed first: means 1.5/4, 0.5/4, 0, 0, 0 -> area
    # 0.25 ((0.375 + 0.125) / 2 + 0.125 / 2) = 0.078125.
    x = np.array([[1.0, 0.5], [0.0, 0.0]]).reshape(1, 2, 2, 1)
    good = np.array([[4.0, 3.0], [2.0, 1.0]]).reshape(1, 2, 2)
    f, p = faithfulness.deletion_curve(_ink, x, good, [0], steps=4)
    np.testing.assert_allclose(f, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(p, [[0.375, 0.125, 0, 0, 0]])
    assert faithfulness.area_under_curve(f, p)[0] == pytest.approx(0.078125)
    # Least attributed first: 0.375, 0.375, 0.375, 0.25, 0 -> area
    # 0.25 (0.375 + 0.375 + (0.375 + 0.25) / 2 + 0.25 / 2) = 0.296875.
    f, p = faithfulness.deletion_curve(_ink, x, -good, [0], steps=4)
    assert faithfulness.area_under_curve(f, p)[0] == pytest.approx(0.296875)


def test_deletion_order_sums_channels_and_keeps_ties_in_order():
    a = np.zeros((1, 2, 2, 3))
    a[0, 1, 0] = (1.0, -2.0, 4.0)  # pixel 2: 3
    a[0, 0, 1, 0] = 5.0  # pixel 1: 5
    np.testing.assert_array_equal(
        faithfulness.deletion_order(a), [[1, 2, 0, 3]]
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_curve_matches_a_numpy_loop(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((3, 4, 5, 2)).astype("float32")
    a = rng.normal(size=(3, 4, 5))
    f, p = faithfulness.deletion_curve(_ink, x, a, [0, 1, 0], steps=5)
    for i in range(3):
        order = np.argsort(-a[i].ravel(), kind="stable")
        for j, frac in enumerate(f):
            img = x[i].reshape(20, 2).copy()
            img[order[: int(round(frac * 20))]] = 0.0
            expected = _ink(img[None])[0, [0, 1, 0][i]]
            assert p[i, j] == pytest.approx(expected, rel=1e-6)


def test_bad_shapes_are_refused():
    x = np.zeros((2, 3, 3, 1))
    with pytest.raises(ValueError, match="attributions of shape"):
        faithfulness.deletion_curve(_ink, x, np.zeros((2, 9)), [0, 0])
    with pytest.raises(ValueError, match="attributions for"):
        faithfulness.deletion_curve(_ink, x, np.zeros((2, 4, 4)), [0, 0])
    with pytest.raises(ValueError, match="steps=0"):
        faithfulness.deletion_curve(_ink, x, np.zeros((2, 3, 3)), [0, 0], 0)
