"""Faithfulness of an attribution map: the deletion curve (Cheat sheet 9).

Remove the features an attribution ranks highest, a fraction at a time
(set them to a baseline value, e.g. 0 = black), and follow the model's
probability of the class it first predicted. A faithful map points at the
features the model uses, so the probability falls fast: the area under
the curve

    AUC = int_0^1 p_c(x with the top-t fraction removed) dt

is lower for a more faithful map (Petsiuk et al. 2018, "RISE"). A random
ranking is the reference.
"""

import numpy as np

from keras_cheats import checks


def deletion_order(attributions):
    """Pixel indices from most to least attributed, (B, P) for (B, H, W)
    or (B, H, W, C) attributions (channels summed: one score a pixel);
    ties keep the pixel order."""
    a = np.asarray(attributions, dtype=np.float64)
    if a.ndim == 4:
        a = a.sum(axis=-1)
    if a.ndim != 3:
        raise ValueError(
            f"attributions of shape {a.shape}; expected (B, H, W) or "
            "(B, H, W, C)"
        )
    return np.argsort(-a.reshape(len(a), -1), axis=1, kind="stable")


def deletion_curve(predict, x, attributions, target, steps=20, baseline=0.0):
    """Probabilities of the target class as the top-attributed pixels go.

    Args:
        predict: callable (N, H, W, C) -> (N, K) class probabilities.
        x: (B, H, W, C) images.
        attributions: (B, H, W) or (B, H, W, C) scores (higher = removed
            first).
        target: (B,) class of each image (e.g. the one first predicted).
        steps: the pixels are removed in `steps` equal parts.
        baseline: value a removed pixel takes (every channel).

    Returns:
        (fractions (steps + 1,), probabilities (B, steps + 1)): the
        fraction of pixels removed (0 .. 1) and p_target after it.
    """
    checks.positive_int("steps", steps)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"x of shape {x.shape}; expected (B, H, W, C)")
    order = deletion_order(attributions)
    if order.shape != (len(x), x.shape[1] * x.shape[2]):
        raise ValueError(
            f"attributions for {order.shape} pixels but x of shape {x.shape}"
        )
    target = np.asarray(target, dtype=np.int64).reshape(len(x))
    b, h, w, c = x.shape
    p = h * w
    counts = np.rint(np.linspace(0, p, steps + 1)).astype(int)
    fractions = counts / p
    probabilities = np.empty((b, steps + 1))
    for i in range(b):
        rank = np.empty(p, dtype=np.int64)
        rank[order[i]] = np.arange(p)  # rank[j]: when pixel j is removed
        removed = rank[None, :] < counts[:, None]  # (steps + 1, P)
        batch = np.repeat(x[i].reshape(1, p, c), steps + 1, axis=0)
        batch[removed] = baseline
        out = np.asarray(predict(batch.reshape(steps + 1, h, w, c)))
        probabilities[i] = out[:, target[i]]
    return fractions, probabilities


def area_under_curve(fractions, probabilities):
    """Trapezoid area under each curve: (B,) for (B, T) probabilities."""
    f = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(probabilities, dtype=np.float64)
    return ((y[..., 1:] + y[..., :-1]) / 2 * np.diff(f)).sum(axis=-1)
