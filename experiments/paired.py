"""Paired comparisons over seeds: the mean difference between two arms
that share a seed's data, initial weights and batch order, with a
t confidence interval.

    paired_difference([0.81, 0.78, 0.85], [0.75, 0.77, 0.80])
    # {"mean": 0.04, "low": -0.0257, "high": 0.1057, "n": 3, ...}

With d_s = a_s - b_s over n seeds, mean d and sample standard deviation
s_d, the interval is mean +- t_{(1 + confidence) / 2, n - 1} s_d / sqrt(n).
An interval that excludes 0 says the arms differ beyond seed noise; one
that includes 0 says these seeds cannot tell them apart.
"""

import math

import numpy as np
from scipy import stats


def paired_difference(a, b, confidence=0.95):
    """Mean of a_s - b_s over seeds, with its confidence interval.

    Args:
        a, b: (n,) the two arms' values, seed by seed.
        confidence: of the interval, in (0, 1).

    Returns:
        {"mean", "low", "high", "n", "differences"}; "low" and "high" are
        NaN for fewer than two seeds (no spread to estimate).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(
            f"a and b must be two lists of the same length >= 1; received "
            f"shapes {a.shape} and {b.shape}"
        )
    if not 0 < confidence < 1:
        raise ValueError(
            f"confidence={confidence!r}; expected a number in (0, 1)"
        )
    d = a - b
    n, mean = len(d), float(d.mean())
    if n < 2:
        low = high = math.nan
    else:
        half = stats.t.ppf((1 + confidence) / 2, n - 1) * d.std(ddof=1)
        half /= math.sqrt(n)
        low, high = mean - half, mean + half
    return {
        "mean": mean,
        "low": float(low),
        "high": float(high),
        "n": n,
        "differences": d.tolist(),
    }
