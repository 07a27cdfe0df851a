"""experiments.paired: the paired difference and its t interval."""

import math
import re

import numpy as np
import pytest

from experiments.paired import paired_difference


def test_hand_computed_interval():
    # d = (0.06, 0.01, 0.05): mean 0.04, s_d = sqrt(0.0014 / 2) = 0.026458,
    # t_{0.975, 2} = 4.302653, half width 4.302653 * 0.026458 / sqrt(3).
    d = paired_difference([0.81, 0.78, 0.85], [0.75, 0.77, 0.80])
    assert d["mean"] == pytest.approx(0.04)
    assert d["low"] == pytest.approx(0.04 - 0.065724, abs=1e-6)
    assert d["high"] == pytest.approx(0.04 + 0.065724, abs=1e-6)
    assert d["n"] == 3
    np.testing.assert_allclose(d["differences"], [0.06, 0.01, 0.05])


def test_one_seed_has_no_interval():
    d = paired_difference([0.9], [0.8])
    assert d["mean"] == pytest.approx(0.1)
    assert math.isnan(d["low"]) and math.isnan(d["high"])


def test_intervals_cover_the_true_difference_at_their_rate():
    # 4,000 experiments of 5 seeds, true difference 0.3 (a and b share a
    # seed effect that the pairing cancels): about 95% of the intervals
    # hold 0.3; the binomial standard error of the rate is 0.0034.
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(4000):
        seed_effect = rng.normal(0, 5, size=5)
        a = seed_effect + 0.3 + rng.normal(0, 1, size=5)
        b = seed_effect + rng.normal(0, 1, size=5)
        d = paired_difference(a, b)
        covered += d["low"] <= 0.3 <= d["high"]
    assert 0.935 < covered / 4000 < 0.965


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=re.escape("shapes (2,) and (3,)")):
        paired_difference([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="shapes"):
        paired_difference([], [])
    with pytest.raises(ValueError, match="confidence=1.5; expected"):
        paired_difference([1, 2], [0, 1], confidence=1.5)
