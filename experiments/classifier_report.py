"""Evaluation report of a classifier run of `experiments.train`: per-class
precision, recall and F1, the confusion matrix, one-vs-rest ROC AUC and
calibration (ECE, reliability diagram), over the whole test split.

    test.update(after_training(model, data, run_dir, config))

Flat keys of the test metrics: macro_f1, weighted_f1, macro_auc, ece.
The per-class lists, the confusion matrix and the reliability bins are
under "per_class". The run folder gets confusion_matrix.png (cells
shaded by the root of the row share, counts written in them, true class
down, predicted class across) and reliability.png (accuracy per
confidence bin as bars against the diagonal, each bin's count under it).

Precision, recall and F1 are Keras metrics on one-hot targets and
one-hot argmax predictions (keras.metrics.Precision/Recall with class_id,
F1Score); a class never predicted has precision 0 and F1 0, as
scikit-learn's zero_division=0. ROC AUC is computed exactly from ranks
(Mann-Whitney U, ties counted half): keras.metrics.AUC integrates over a
fixed grid of thresholds and on softmax outputs piled up near 0 and 1 it
misses scikit-learn's value by about 1e-3 with its default 200
thresholds.
"""

import functools
import pathlib

import numpy as np

from experiments import images, raster
from keras_cheats import calibration

BATCH = 256
CELL = 28  # pixels per confusion-matrix cell
ZOOM = 2  # each drawn pixel is ZOOM x ZOOM in the PNGs
BLUE = np.array([0.12, 0.35, 0.75])
RED = np.array([0.9, 0.2, 0.2])


def softmax(logits):
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def logit_scores(model, x):
    """(N, K) class probabilities: softmax of the model's logits."""
    return softmax(model.predict(x, batch_size=BATCH, verbose=0))


def capsule_scores(model, x):
    """(N, K) capsule lengths ||v_k|| in [0, 1] (the capsule network,
    section 7.3.2): each the probability that digit k is present; they do
    not sum to 1, but they rank the classes (argmax = the prediction)."""
    parts = [
        np.asarray(model((x[i : i + BATCH], None), training=False)["lengths"])
        for i in range(0, len(x), BATCH)
    ]
    return np.concatenate(parts).astype(np.float64)


def confusion_matrix(labels, predicted, num_classes):
    """(K, K) counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def roc_auc(positive, scores):
    """Area under the ROC curve of `scores` for the boolean `positive`:
    P(score of a positive > score of a negative), ties counting 1/2; NaN
    when either side is empty."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores))
    # Average rank (1-based) over each run of tied scores.
    _, first, counts = np.unique(
        sorted_scores, return_index=True, return_counts=True
    )
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _keras_scores(one_hot, predicted_one_hot, num_classes):
    import keras

    def run(metric):
        metric.update_state(one_hot, predicted_one_hot)
        return np.asarray(metric.result(), np.float64)

    return {
        "precision": [
            float(run(keras.metrics.Precision(class_id=k)))
            for k in range(num_classes)
        ],
        "recall": [
            float(run(keras.metrics.Recall(class_id=k)))
            for k in range(num_classes)
        ],
        "f1": run(keras.metrics.F1Score(average=None)).tolist(),
        "macro_f1": float(run(keras.metrics.F1Score(average="macro"))),
        "weighted_f1": float(run(keras.metrics.F1Score(average="weighted"))),
    }


def _mean(values):
    values = np.asarray(values, np.float64)
    return (
        float(values[np.isfinite(values)].mean())
        if any(np.isfinite(values))
        else float("nan")
    )


def report(labels, scores, num_bins=calibration.NUM_BINS):
    """The report of (N,) integer labels against (N, K) class scores
    (probabilities, or any scores in [0, 1] whose argmax is the
    prediction).

    Returns:
      ({"macro_f1", "weighted_f1", "macro_auc", "ece"}: floats,
      {"precision", "recall", "f1", "support", "auc"}: K values each,
      "confusion_matrix": K x K counts, "reliability": the bins}).
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    scores = np.asarray(scores, np.float64)
    k = scores.shape[-1]
    predicted = scores.argmax(axis=-1)
    eye = np.eye(k, dtype=np.float32)
    scored = _keras_scores(eye[labels], eye[predicted], k)
    auc = [roc_auc(labels == c, scores[:, c]) for c in range(k)]
    confidences = scores.max(axis=-1)
    correct = predicted == labels
    bins = calibration.reliability_bins(confidences, correct, num_bins)
    flat = {
        "macro_f1": scored.pop("macro_f1"),
        "weighted_f1": scored.pop("weighted_f1"),
        "macro_auc": _mean(auc),
        "ece": calibration.expected_calibration_error(
            confidences, correct, num_bins
        ),
    }
    details = {
        **scored,
        "support": np.bincount(labels, minlength=k).tolist(),
        "auc": [None if np.isnan(a) else a for a in auc],
        "confusion_matrix": confusion_matrix(labels, predicted, k).tolist(),
        "reliability": {
            "edges": bins["edges"].tolist(),
            "counts": bins["counts"].tolist(),
            "accuracy": [None if np.isnan(a) else a for a in bins["accuracy"]],
            "confidence": [
                None if np.isnan(c) else c for c in bins["confidence"]
            ],
        },
    }
    return flat, details


def confusion_figure(matrix):
    """(H, W, 3): cell (i, j) shaded by the square root of the share of
    true class i predicted as j (white 0 to blue 1; the root makes a few
    errors in a row visible), its count written in it; class
    digits along the top (predicted) and the left (true)."""
    matrix = np.asarray(matrix)
    k = len(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    share = matrix / np.maximum(rows, 1)
    margin = 16
    size = margin + k * CELL + 2
    image = np.ones((size, size, 3))
    for i in range(k):
        middle = margin + i * CELL + CELL // 2
        raster.text(image, middle - 4, 3, str(i))  # true
        raster.text(image, 3, middle - 2, str(i))  # predicted
        for j in range(k):
            top, left = margin + i * CELL, margin + j * CELL
            cell = 1 - np.sqrt(share[i, j]) * (1 - BLUE)  # errors show
            image[top + 1 : top + CELL, left + 1 : left + CELL] = cell
            count = str(int(matrix[i, j]))
            color = raster.WHITE if share[i, j] > 0.5 else raster.BLACK
            scale = 1 if len(count) > 3 else 2
            width = 4 * scale * len(count) - scale
            raster.text(
                image,
                top + (CELL - 5 * scale) // 2 + 1,
                left + (CELL - width) // 2 + 1,
                count,
                color,
                scale,
            )
    return image


def reliability_figure(bins, size=240):
    """(H, W, 3): per confidence bin a bar up to its accuracy (blue), a
    black tick at its mean confidence and the gap between the two shaded
    red (pink above the bar: over-confident bins; purple inside it:
    under-confident ones), the diagonal acc = conf in gray, each bin's
    count written below its bar, the axes' ends labelled 0 and 1."""
    counts = np.asarray(bins["counts"])
    m = len(counts)
    pad, below = 14, 10 * 3
    image = np.ones((size + pad + below, size + 2 * pad, 3))
    x0, y0 = pad, pad + size  # origin, in pixels (y grows downwards)

    def y_of(value):
        return y0 - int(round(value * size))

    width = size / m
    for b in range(m):
        if counts[b] == 0:
            continue
        left, right = x0 + int(b * width) + 1, x0 + int((b + 1) * width) - 1
        acc, conf = bins["accuracy"][b], bins["confidence"][b]
        image[y_of(acc) : y0, left:right] = BLUE
        lo, hi = sorted((y_of(acc), y_of(conf)))
        gap = image[lo:hi, left:right]
        image[lo:hi, left:right] = 0.5 * gap + 0.5 * RED
        image[y_of(conf), left:right] = raster.BLACK
        count = str(int(counts[b]))
        raster.text(image, y0 + 4 + 7 * (b % 3), left, count, scale=1)
    raster.line(image, (x0, y0), (x0 + size, y0 - size), raster.GRAY, 2)
    raster.line(image, (x0, y0), (x0 + size, y0), raster.BLACK)
    raster.line(image, (x0, y0), (x0, y0 - size), raster.BLACK)
    raster.text(image, y0 + 4 + 7 * 3, x0 - 2, "0", scale=1)
    raster.text(image, y0 + 4 + 7 * 3, x0 + size - 2, "1", scale=1)
    raster.text(image, y0 - size, 2, "1", scale=1)
    return image


def write(run_dir, labels, scores) -> dict:
    """Writes the two PNGs of `report(labels, scores)` into `run_dir`;
    returns the flat metrics and "per_class"."""
    flat, details = report(labels, scores)
    run_dir = pathlib.Path(run_dir)
    bins = {
        key: np.array([np.nan if v is None else v for v in values])
        for key, values in details["reliability"].items()
    }
    for name, image in (
        ("confusion_matrix", confusion_figure(details["confusion_matrix"])),
        ("reliability", reliability_figure(bins)),
    ):
        image = image.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1)
        images.save_png(run_dir / f"{name}.png", image)
        images.summary_image(run_dir, name, image)
    return {**flat, "per_class": details}


def after_training(model, data, run_dir, config, scores=logit_scores):
    """The report of `model` on the whole test split of `data` (a
    `ModelSpec.after_training`); `scores(model, x) -> (N, K)`."""
    del config
    split = data.test.split
    return write(run_dir, split.y, scores(model, split.x))


def composed(*afters):
    """One `after_training` calling each of `afters`, metrics merged."""

    def after(model, data, run_dir, config):
        out = {}
        for each in afters:
            out.update(each(model, data, run_dir, config))
        return out

    return after


capsule_after_training = functools.partial(
    after_training, scores=capsule_scores
)
