"""Calibration of a classifier: reliability bins and the expected
calibration error (Guo et al. 2017, "On Calibration of Modern Neural
Networks", section 2).

The cheat sheet has no section on evaluation; these measure the
probabilities of its classifiers (section 7, softmax of section 4.2).

A prediction's confidence is the probability it gives its predicted
class, p_hat = max_k p_k. With M equal-width bins
B_m = {i : p_hat_i in ((m - 1)/M, m/M]} (a confidence of exactly 0 goes
to the first bin):

    acc(B_m)  = (1/|B_m|) sum_{i in B_m} 1[y_hat_i = y_i]
    conf(B_m) = (1/|B_m|) sum_{i in B_m} p_hat_i
    ECE       = sum_m (|B_m| / n) |acc(B_m) - conf(B_m)|

A perfectly calibrated model has acc(B_m) = conf(B_m) in every bin (its
reliability diagram lies on the diagonal) and ECE = 0.
"""

import numpy as np

NUM_BINS = 15  # Guo et al.'s M


def _checked(confidences, correct, num_bins):
    confidences = np.asarray(confidences, np.float64).reshape(-1)
    correct = np.asarray(correct).reshape(-1)
    if len(confidences) != len(correct):
        raise ValueError(
            f"{len(confidences)} confidences but {len(correct)} correct "
            "flags; expected one flag per confidence"
        )
    if len(confidences) == 0:
        raise ValueError("no predictions; expected at least one")
    if np.any(confidences < 0) or np.any(confidences > 1):
        raise ValueError(
            f"confidences in [{confidences.min()}, {confidences.max()}]; "
            "expected values in [0, 1]"
        )
    if not isinstance(num_bins, int) or num_bins < 1:
        raise ValueError(f"num_bins={num_bins!r}; expected an integer >= 1")
    return confidences, correct.astype(np.float64)


def reliability_bins(confidences, correct, num_bins: int = NUM_BINS):
    """The reliability diagram's bins.

    Args:
      confidences: (n,) p_hat_i in [0, 1], the predicted class's
        probability.
      correct: (n,) 1 (or True) where the prediction is right.
      num_bins: M, equal-width bins over [0, 1].

    Returns:
      {"edges": (M + 1,) bin edges m/M, "counts": (M,) |B_m|,
      "accuracy": (M,) acc(B_m), "confidence": (M,) conf(B_m)}, NumPy
      arrays; accuracy and confidence are NaN in an empty bin.

    Example: confidences (0.05, 0.5, 0.55, 0.95), correct (0, 1, 0, 1),
    M = 2: counts (2, 2), accuracy (0.5, 0.5), confidence (0.275, 0.75).
    """
    confidences, correct = _checked(confidences, correct, num_bins)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # Bin m holds (edges[m], edges[m + 1]]; p = 0 goes to bin 0.
    index = np.searchsorted(edges, confidences, side="left") - 1
    index = np.clip(index, 0, num_bins - 1)
    counts = np.bincount(index, minlength=num_bins)
    hits = np.bincount(index, weights=correct, minlength=num_bins)
    sums = np.bincount(index, weights=confidences, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(counts > 0, hits / counts, np.nan)
        confidence = np.where(counts > 0, sums / counts, np.nan)
    return {
        "edges": edges,
        "counts": counts,
        "accuracy": accuracy,
        "confidence": confidence,
    }


def expected_calibration_error(
    confidences, correct, num_bins: int = NUM_BINS
) -> float:
    """ECE = sum_m (|B_m| / n) |acc(B_m) - conf(B_m)|.

    Args:
      confidences: (n,) p_hat_i in [0, 1].
      correct: (n,) 1 (or True) where the prediction is right.
      num_bins: M (15, as Guo et al.).

    Returns:
      A float in [0, 1].

    Example: the four predictions of `reliability_bins`' example with
    M = 2 give (2/4)|0.5 - 0.275| + (2/4)|0.5 - 0.75| = 0.2375.
    """
    bins = reliability_bins(confidences, correct, num_bins)
    full = bins["counts"] > 0
    gaps = np.abs(bins["accuracy"][full] - bins["confidence"][full])
    weights = bins["counts"][full] / bins["counts"].sum()
    return float(np.sum(weights * gaps))
