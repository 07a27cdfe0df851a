"""keras_cheats.calibration: reliability bins and the ECE, by hand and
against a plain loop over the bins."""

import numpy as np
import pytest

from keras_cheats import calibration


def test_docstring_example_by_hand():
    conf, correct = [0.05, 0.5, 0.55, 0.95], [0, 1, 0, 1]
    bins = calibration.reliability_bins(conf, correct, num_bins=2)
    np.testing.assert_array_equal(bins["counts"], [2, 2])
    np.testing.assert_allclose(bins["accuracy"], [0.5, 0.5])
    np.testing.assert_allclose(bins["confidence"], [0.275, 0.75])
    np.testing.assert_allclose(bins["edges"], [0, 0.5, 1])
    # (2/4)|0.5 - 0.275| + (2/4)|0.5 - 0.75|
    ece = calibration.expected_calibration_error(conf, correct, num_bins=2)
    assert ece == pytest.approx(0.2375)


def test_bin_edges_are_right_closed_and_zero_goes_first():
    # (0, 1/3], (1/3, 2/3], (2/3, 1]: 1/3 is in bin 0, 0.34 in bin 1.
    bins = calibration.reliability_bins(
        [0.0, 1 / 3, 0.34, 2 / 3, 1.0], [1, 1, 1, 1, 1], num_bins=3
    )
    np.testing.assert_array_equal(bins["counts"], [2, 2, 1])
    # 0.2 = 3/15 is the right edge of bin 2 (0.2 * 15 rounds above 3).
    fifteen = calibration.reliability_bins([0.2, 0.2001], [1, 1])
    assert fifteen["counts"][2] == 1 and fifteen["counts"][3] == 1
    # 0.95 and 0.97 are both in (14/15, 1].
    empty = calibration.reliability_bins([0.95, 0.97], [1, 0], num_bins=15)
    assert np.isnan(empty["accuracy"][0]) and empty["counts"][0] == 0
    assert empty["accuracy"][-1] == 0.5


def test_perfectly_confident_and_right_is_calibrated():
    assert calibration.expected_calibration_error([1.0] * 5, [1] * 5) == 0
    assert calibration.expected_calibration_error([1.0, 1.0], [0, 0]) == 1


def _loop_ece(conf, correct, m):
    n, total = len(conf), 0.0
    for b in range(m):
        lo, hi = b / m, (b + 1) / m
        inside = [
            i
            for i in range(n)
            if lo < conf[i] <= hi or (b == 0 and conf[i] == 0)
        ]
        if inside:
            acc = np.mean([correct[i] for i in inside])
            mean_conf = np.mean([conf[i] for i in inside])
            total += len(inside) / n * abs(acc - mean_conf)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("num_bins", [1, 15, 40])
def test_ece_equals_a_loop_over_the_bins(seed, num_bins):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    conf = rng.uniform(0.1, 1.0, n) ** rng.uniform(0.2, 3)
    correct = rng.uniform(size=n) < conf  # roughly calibrated
    got = calibration.expected_calibration_error(conf, correct, num_bins)
    assert got == pytest.approx(_loop_ece(conf, correct, num_bins), abs=1e-12)
    bins = calibration.reliability_bins(conf, correct, num_bins)
    assert bins["counts"].sum() == n


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="3 confidences but 2 correct"):
        calibration.reliability_bins([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\]"):
        calibration.reliability_bins([1.5], [1])
    with pytest.raises(ValueError, match="num_bins=0; expected an integer"):
        calibration.expected_calibration_error([0.5], [1], num_bins=0)
    with pytest.raises(ValueError, match="no predictions"):
        calibration.expected_calibration_error([], [])
