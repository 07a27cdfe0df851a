"""The judge's figures of generated images (experiments.sample_quality),
on hand-made probability arrays."""

import math
import types

import numpy as np
import pytest

from experiments import sample_quality as sq


def test_classifier_score_by_hand():
    # p(y) = [0.75, 0.25]; KL_1 = log(4/3), KL_2 = (log(2/3) + log 2) / 2.
    kl = (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2
    score = sq.classifier_score([[1.0, 0.0], [0.5, 0.5]])
    assert score == pytest.approx(math.exp(kl), rel=1e-9)
    assert sq.classifier_score(np.eye(10)) == pytest.approx(10.0)  # ideal
    same = np.tile([0.1, 0.9], (5, 1))
    assert sq.classifier_score(same) == pytest.approx(1.0)  # collapse
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        sq.classifier_score([0.2, 0.3, 0.5])


_P = [
    [0.95, 0.05, 0.0],  # confident 0
    [0.5, 0.4, 0.1],  # unsure, argmax 0
    [0.05, 0.05, 0.9],  # exactly 0.9: not above the threshold
    [0.0, 0.01, 0.99],  # confident 2
]


def test_confident_share_by_hand():
    assert sq.confident_share(_P) == 0.5
    assert sq.confident_share(_P, threshold=0.4) == 1.0
    assert sq.confident_share(np.full((3, 10), 0.1)) == 0.0


def test_histogram_and_its_entropy_by_hand():
    np.testing.assert_array_equal(sq.class_histogram(_P), [0.5, 0.0, 0.5])
    assert sq.histogram_entropy(_P) == pytest.approx(math.log(2))
    assert sq.histogram_entropy(np.eye(10)) == pytest.approx(math.log(10))
    assert sq.histogram_entropy(np.tile(np.eye(10)[3], (7, 1))) == 0.0
    with pytest.raises(ValueError, match=r"shape \(0, 3\)"):
        sq.class_histogram(np.zeros((0, 3)))


def test_judge_report_from_a_fixed_judge():
    logits = np.log(np.asarray(_P) + 1e-9)

    def judge(x, training=False):  # row i of _P for an image of value i
        return logits[np.asarray(x).reshape(len(x), -1)[:, 0].astype(int)]

    generated = np.arange(4, dtype="float32").reshape(4, 1, 1, 1)
    real = types.SimpleNamespace(x=generated[[0, 3]], y=np.array([0, 1]))
    report = sq.judge_report(judge, generated, real)
    assert report["confident_share"] == pytest.approx(0.5)
    assert report["class_histogram_entropy"] == pytest.approx(math.log(2))
    shares = [report[f"class_share_{k}"] for k in range(3)]
    assert shares == pytest.approx([0.5, 0.0, 0.5])
    assert report["classifier_score"] == pytest.approx(
        sq.classifier_score(_P), rel=1e-6
    )
    assert report["confident_share_real"] == 1.0
    assert report["judge_accuracy"] == 0.5  # 0 right, 2 read for a 1
    assert all(isinstance(v, float) for v in report.values())
