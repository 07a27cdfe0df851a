"""Recall@k: how well an embedding retrieves examples of the same class.

Not a cheat-sheet formula; the usual score of the metric-learning losses
of sections 4.9 (triplet) and 4.10 (contrastive), as in Song et al. 2016
("Deep Metric Learning via Lifted Structured Feature Embedding"). Every
example of a set is a query against all the OTHER examples of the same set:

    recall@k = 1/N sum_i 1[ some j in kNN_k(i) has y_j = y_i ],

kNN_k(i) being the k examples j != i nearest to i in Euclidean distance
(ties go to the lower index). recall@1 is leave-one-out 1-nearest-neighbour
accuracy. Unlike the information-retrieval "recall", it asks for ONE
match among the k, not for all of them.
"""

import numpy as np

DEFAULT_KS = (1, 5)


def _check(embeddings, labels, ks, chunk_size):
    x = np.asarray(embeddings)
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(
            f"embeddings has shape {x.shape}; expected (N, D) or (N, ...) "
            "with N >= 2"
        )
    x = x.reshape(len(x), -1).astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("embeddings holds NaN or inf; expected finite values")
    y = np.asarray(labels)
    if y.shape != (len(x),):
        raise ValueError(
            f"labels has shape {y.shape}; expected ({len(x)},), one label "
            "per embedding"
        )
    ks = tuple(ks)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise ValueError(f"ks holds k={k!r}; expected integers")
        if not 1 <= k <= len(x) - 1:
            raise ValueError(
                f"ks holds k={k}; expected 1 <= k <= N - 1 = {len(x) - 1}"
            )
    if not ks:
        raise ValueError("ks=(); expected at least one k")
    if isinstance(chunk_size, bool) or not (
        isinstance(chunk_size, int) and chunk_size >= 1
    ):
        raise ValueError(f"chunk_size={chunk_size!r}; expected an integer >= 1")
    return x, y, ks


def recall_at_k(embeddings, labels, ks=DEFAULT_KS, chunk_size=1024):
    """Leave-one-out recall@k of a set of embeddings (see the module doc).

    Args:
        embeddings: (N, D) array, or (N, ...) flattened to (N, D) (e.g. raw
            images, for a pixel-space baseline).
        labels: (N,) class labels.
        ks: the k values, each in [1, N - 1].
        chunk_size: queries per block; memory is O(chunk_size * N).

    Returns:
        {"recall@k": float in [0, 1] for each k in ks}.

    Example (points 0, 1, 4, 6 on a line, labels 0, 0, 1, 0: 0 and 1 find
    each other first, hits; 4's neighbours 6, 1, 0 are all of another
    class, a miss at every k; 6 finds 4 first (miss), then 1 (hit at k=2)):

    >>> recall_at_k([[0.0], [1.0], [4.0], [6.0]], [0, 0, 1, 0], ks=(1, 2))
    {'recall@1': 0.5, 'recall@2': 0.75}
    """
    x, y, ks = _check(embeddings, labels, ks, chunk_size)
    n, k_max = len(x), max(ks)
    norms = np.sum(x * x, axis=1)
    hits = {k: 0 for k in ks}
    for start in range(0, n, chunk_size):
        rows = np.arange(start, min(start + chunk_size, n))
        # Squared distances ||x_i||^2 - 2 x_i.x_j + ||x_j||^2: (chunk, N).
        d = norms[rows, None] - 2.0 * x[rows] @ x.T + norms[None, :]
        d[np.arange(len(rows)), rows] = np.inf  # a query never finds itself
        nearest = np.argsort(d, axis=1, kind="stable")[:, :k_max]
        match = y[nearest] == y[rows, None]  # (chunk, k_max)
        for k in ks:
            hits[k] += int(np.sum(np.any(match[:, :k], axis=1)))
    return {f"recall@{k}": hits[k] / n for k in ks}
