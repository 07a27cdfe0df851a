"""experiments.classifier_report: scikit-learn as the oracle of the
per-class scores, the confusion matrix and the ROC AUC; the PNGs; the
report of a classifier run as users run it."""

import json

import numpy as np
import pytest
from sklearn import metrics as sk

from experiments import classifier_report as cr
from experiments.images import save_png
from tests.experiments.helpers import start_train


def _softmax(rng, n, k, skew):
    labels = rng.choice(k, size=n, p=skew)
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 4)
    logits[np.arange(n), labels] += rng.uniform(0, 4)
    return labels, cr.softmax(logits)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scores_match_scikit_learn_on_imbalanced_classes(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    skew = rng.dirichlet(np.ones(k) * 0.7)
    skew = (skew + 0.02) / (skew + 0.02).sum()  # every class can occur
    labels, probs = _softmax(rng, int(rng.integers(150, 400)), k, skew)
    flat, per = cr.report(labels, probs)
    predicted = probs.argmax(-1)
    classes = np.arange(k)
    p, r, f, s = sk.precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    tol = dict(atol=2e-6)  # Keras adds epsilon = 1e-7 to denominators
    np.testing.assert_allclose(per["precision"], p, **tol)
    np.testing.assert_allclose(per["recall"], r, **tol)
    np.testing.assert_allclose(per["f1"], f, **tol)
    np.testing.assert_array_equal(per["support"], s)
    for average, key in (("macro", "macro_f1"), ("weighted", "weighted_f1")):
        expected = sk.f1_score(
            labels, predicted, labels=classes, average=average,
            zero_division=0,
        )  # fmt: skip
        assert flat[key] == pytest.approx(expected, abs=2e-6), key
    np.testing.assert_array_equal(
        per["confusion_matrix"],
        sk.confusion_matrix(labels, predicted, labels=classes),
    )
    present = [c for c in classes if 0 < s[c] < len(labels)]
    expected_auc = [sk.roc_auc_score(labels == c, probs[:, c]) for c in present]
    np.testing.assert_allclose(
        [per["auc"][c] for c in present], expected_auc, atol=1e-12
    )
    assert len(present) == k > 2  # these seeds draw every class
    ovr = sk.roc_auc_score(labels, probs, multi_class="ovr")
    assert flat["macro_auc"] == pytest.approx(ovr, abs=1e-12)
    assert flat["ece"] == pytest.approx(
        sum(
            c / len(labels) * abs(a - m)
            for c, a, m in zip(
                per["reliability"]["counts"],
                per["reliability"]["accuracy"],
                per["reliability"]["confidence"],
            )
            if c
        )
    )


def test_a_class_never_predicted_scores_zero_without_nan():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[0.8, 0.1, 0.1]] * 3 + [[0.1, 0.8, 0.1]] * 3)
    flat, per = cr.report(labels, probs)
    assert per["precision"][2] == 0 and per["f1"][2] == 0
    assert per["recall"][2] == 0
    assert all(np.isfinite(v) for v in [*per["f1"], *flat.values()])
    assert flat["macro_f1"] == pytest.approx(
        sk.f1_score(labels, probs.argmax(-1), average="macro"), abs=1e-6
    )
    # Class 2's scores are all 0.1: the ROC of a constant is 1/2.
    assert per["auc"][2] == pytest.approx(0.5)


def test_roc_auc_by_hand_with_ties():
    # Positives 0.9, 0.4 against negatives 0.1, 0.4: 3 wins + 1 tie / 4.
    tied = cr.roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4])
    assert tied == pytest.approx(0.875)
    assert np.isnan(cr.roc_auc([1, 1], [0.2, 0.3]))


def test_confusion_png_shades_rows_and_reliability_png_has_bars(tmp_path):
    matrix = np.array([[9, 1], [0, 10]])
    image = cr.confusion_figure(matrix)
    top, left = 16 + 1, 16 + 1  # margin + 1: inside cell (0, 0)
    corner = image[top, left]
    off = image[top, left + cr.CELL]  # cell (0, 1): 10% of row 0
    assert corner[0] < off[0] < 1  # more blue is less red
    np.testing.assert_allclose(image[top + cr.CELL, left + cr.CELL], cr.BLUE)
    bins = {
        "counts": np.array([0, 4]),
        "accuracy": np.array([np.nan, 1.0]),
        "confidence": np.array([np.nan, 0.75]),
    }
    chart = cr.reliability_figure(bins, size=100)
    blue = np.all(np.isclose(chart, cr.BLUE), axis=-1)
    assert blue[:, 14 + 50 :].any() and not blue[:, 14 : 14 + 49].any()
    path = save_png(tmp_path / "r.png", chart)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_puts_both_pngs_and_a_json_ready_report(tmp_path):
    rng = np.random.default_rng(5)
    labels, probs = _softmax(rng, 120, 10, np.ones(10) / 10)
    out = cr.write(tmp_path, labels, probs)
    for name in ("confusion_matrix.png", "reliability.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    again = json.loads(json.dumps(out, allow_nan=False))
    assert (
        again["per_class"]["support"] == np.bincount(labels, None, 10).tolist()
    )
    assert set(again) == {
        "macro_f1", "weighted_f1", "macro_auc", "ece", "per_class"
    }  # fmt: skip


def test_composed_merges_each_after_training():
    first = lambda *a: {"x": 1}  # noqa: E731
    second = lambda *a: {"y": 2}  # noqa: E731
    assert cr.composed(first, second)(None, None, None, None) == {
        "x": 1, "y": 2
    }  # fmt: skip


def test_model_fit_trainer_gets_the_same_report(tmp_path):
    from experiments import train

    config = train.Config(model="mlp", trainer="fit", epochs=1, verbose=0)
    test = train.train_and_evaluate(config, tmp_path)["test"]
    matrix = np.array(test["per_class"]["confusion_matrix"])
    assert np.trace(matrix) / 360 == pytest.approx(test["accuracy"], 1e-6)
    assert (tmp_path / "reliability.png").exists()


@pytest.mark.slow
def test_cli_run_reports_and_draws_and_evaluate_still_reads_it(tmp_path):
    proc = start_train(
        "--model=mlp", "--dataset=digits", "--epochs=1", "--verbose=0",
        f"--model_dir={tmp_path}",
    )  # fmt: skip
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "macro_f1" in out and "ece" in out and "per_class" not in out
    for name in ("confusion_matrix.png", "reliability.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    test = json.loads((tmp_path / "metrics.json").read_text())["test"]
    per = test["per_class"]
    matrix = np.array(per["confusion_matrix"])
    assert matrix.sum() == 360  # the digits test split
    assert np.trace(matrix) / 360 == pytest.approx(test["accuracy"], 1e-6)
    assert sum(per["reliability"]["counts"]) == 360
    assert len(per["f1"]) == len(per["auc"]) == 10
    assert 0 <= test["ece"] <= 1 and 0.5 < test["macro_auc"] <= 1
    assert test["macro_f1"] == pytest.approx(np.mean(per["f1"]), abs=1e-6)
    from experiments import evaluate

    again = evaluate.evaluate(tmp_path)
    assert again["accuracy"] == pytest.approx(test["accuracy"], abs=1e-6)


def test_capsule_scores_are_the_lengths_in_batches():
    class Capsules:  # stands in for the capsule network's call
        def __call__(self, inputs, training):
            x, mask = inputs
            assert mask is None and not training and len(x) <= cr.BATCH
            return {"lengths": x.reshape(len(x), -1)[:, :3] * 0.5}

    x = np.random.default_rng(0).uniform(size=(cr.BATCH + 7, 2, 2, 1))
    scores = cr.capsule_scores(Capsules(), x)
    np.testing.assert_allclose(scores, x.reshape(len(x), -1)[:, :3] * 0.5)
