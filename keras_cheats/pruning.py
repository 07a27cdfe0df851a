"""Magnitude pruning, cheat sheet 10.3 (compression: pruning).

    m_i = 0 if |w_i| is among the k = round(s n) smallest magnitudes, else 1
    w <- w * m   (after every optimizer step while fine-tuning)

for a sparsity s over n weights: the whole set of pruned weights at once
("global": one threshold, so large layers lose most) or each array on its
own ("layer": every array gets sparsity s). Exactly k weights are zeroed
also when magnitudes tie (a stable sort breaks ties by position). Only
kernels are pruned (`prunable_variables`): biases are few and matter.
"""

import numpy as np

SCOPES = ("global", "layer")


def magnitude_masks(weights, sparsity, scope="global"):
    """Binary masks that zero the smallest-magnitude fraction `sparsity`.

    Args:
        weights: a list of arrays (any shapes).
        sparsity: s in [0, 1]: the fraction of weights set to 0.
        scope: "global" (one ranking over all arrays) or "layer" (each
            array ranked on its own).

    Returns:
        a list of float32 arrays of 0/1, shaped like `weights`, with
        exactly round(s n) zeros (over all arrays for "global", per array
        of n weights for "layer").

    >>> [m.tolist() for m in magnitude_masks([np.array([3., -1., 2., 0.5])],
    ...                                      0.5)]
    [[1.0, 0.0, 1.0, 0.0]]
    """
    if not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"sparsity={sparsity!r}; expected a number in [0, 1]")
    if scope not in SCOPES:
        raise ValueError(f"scope={scope!r}; expected one of {SCOPES}")
    arrays = [np.abs(np.asarray(w, dtype=np.float64)) for w in weights]
    if scope == "layer":
        return [_masks_of([a], sparsity)[0] for a in arrays]
    return _masks_of(arrays, sparsity)


def _masks_of(arrays, sparsity):
    flat = np.concatenate([a.ravel() for a in arrays])
    k = int(round(float(sparsity) * flat.size))
    keep = np.ones(flat.size, np.float32)
    keep[np.argsort(flat, kind="stable")[:k]] = 0.0
    masks, start = [], 0
    for a in arrays:
        masks.append(keep[start : start + a.size].reshape(a.shape))
        start += a.size
    return masks


def prunable_variables(model):
    """The kernels of the model's layers that have one (Dense, Conv):
    biases and normalization parameters are left alone."""
    return [
        layer.kernel
        for layer in model.layers
        if getattr(layer, "kernel", None) is not None and layer.trainable
    ]


def apply_masks(variables, masks):
    """w <- w * m for each variable and its mask (in place)."""
    for v, m in zip(variables, masks, strict=True):
        v.assign(v * m)


def sparsity_of(arrays):
    """Fraction of exact zeros over a list of arrays."""
    total = sum(np.size(a) for a in arrays)
    zeros = sum(np.size(a) - np.count_nonzero(a) for a in arrays)
    return zeros / total if total else 0.0
