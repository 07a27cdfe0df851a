"""experiments.anomaly: the ROC AUC and the held-out-class experiment."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from experiments import anomaly


def test_roc_auc_hand_computed_with_a_tie():
    # Positives 0.9 and 0.4, negatives 0.1 and 0.4. Pairs (pos > neg):
    # 0.9>0.1, 0.9>0.4, 0.4>0.1 count 1; 0.4 = 0.4 counts 1/2: 3.5 / 4.
    auc = anomaly.roc_auc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4])
    assert auc == pytest.approx(0.875)
    assert anomaly.roc_auc([0, 0, 1], [1.0, 2.0, 3.0]) == 1.0
    assert anomaly.roc_auc([1, 0, 0], [1.0, 2.0, 3.0]) == 0.0
    assert anomaly.roc_auc([True, False], [5.0, 5.0]) == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_sklearn_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # rounding: ties
    assert anomaly.roc_auc(labels, scores) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12
    )


def test_roc_auc_errors():
    with pytest.raises(ValueError, match="at least one of each"):
        anomaly.roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length"):
        anomaly.roc_auc([1, 0], [0.1])
    with pytest.raises(ValueError, match="finite"):
        anomaly.roc_auc([1, 0], [np.nan, 0.1])
    with pytest.raises(ValueError, match="0/1"):
        anomaly.roc_auc([2, 0], [0.2, 0.1])
    with pytest.raises(ValueError, match="model="):
        anomaly.AnomalyConfig(model="vae")


@pytest.mark.slow
def test_held_out_digit_is_detected_on_digits(tmp_path):
    result = anomaly.run(
        anomaly.AnomalyConfig(held_out=0, epochs=3, learning_rate=3e-3),
        tmp_path,
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["auroc"] == result["auroc"]
    assert result["num_held_out"] == 36 and result["num_normal"] == 324
    # The held-out zeros reconstruct worse than the digits seen in training.
    assert result["mean_error_held_out"] > result["mean_error_normal"]
    assert result["auroc"] > 0.8  # 0.94 measured
    assert (tmp_path / "most_anomalous_held_out_0.png").exists()
    with pytest.raises(ValueError, match="held_out=10"):
        anomaly.run(anomaly.AnomalyConfig(held_out=10, epochs=1), tmp_path)
