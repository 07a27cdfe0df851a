"""NumPy versions of the cheat-sheet formulas, written from the cheat sheet
(section 4) and the papers, not from Keras. Each returns one value per
sample, like the functions under test."""

import itertools

import numpy as np


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy(y, p):
    # 4.1 / 4.3: - sum_i y_i log(yhat_i) over the classes.
    return -(y * np.log(p)).sum(-1)


def binary_cross_entropy(y, p):
    # 4.2: - 1/N sum_i [y log p + (1 - y) log(1 - p)].
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)


def softmax_cross_entropy(y, z):
    # 4.4: - sum_i log(exp(z_i) / sum_j exp(z_j)) over the true classes.
    return -(y * np.log(softmax(z))).sum(-1)


def mean_squared_error(y, yhat):
    return ((yhat - y) ** 2).mean(-1)  # 4.5


def mean_absolute_error(y, yhat):
    return np.abs(yhat - y).mean(-1)  # 4.6


def huber(y, yhat, delta):
    # 4.7, per element, then the mean over the last axis.
    e = np.abs(y - yhat)
    quadratic = 0.5 * e**2
    linear = delta * (e - 0.5 * delta)
    return np.where(e <= delta, quadratic, linear).mean(-1)


def kl_divergence(p, q):
    return (p * np.log(p / q)).sum(-1)  # 4.8


def gaussian_kl(mu, log_var):
    # 4.8.1: -1/2 sum_j (1 + log s^2 - mu^2 - s^2).
    return -0.5 * (1 + log_var - mu**2 - np.exp(log_var)).sum(-1)


def focal(y, p, alpha, gamma):
    # 4.11 with alpha_t (Lin et al.), mean over the last axis.
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, alpha, 1 - alpha)
    return (-alpha_t * (1 - p_t) ** gamma * np.log(p_t)).mean(-1)


def categorical_focal(y, p, alpha, gamma):
    # 4.11, i over the classes.
    return -(alpha * (1 - p) ** gamma * y * np.log(p)).sum(-1)


def hinge(y, score):
    # 4.12, averaged over the last axis as Keras does.
    return np.maximum(0.0, 1 - y * score).mean(-1)


def contrastive(y, d, margin):
    # 4.10: 1/2 [y d^2 + (1 - y) max(0, m - d)^2] per pair.
    return 0.5 * (y * d**2 + (1 - y) * np.maximum(0.0, margin - d) ** 2)


def margin(t, lengths, m_plus=0.9, m_minus=0.1, lam=0.5):
    # Sabour et al. 2017, eq. (4), summed over the classes.
    present = t * np.maximum(0.0, m_plus - lengths) ** 2
    absent = lam * (1 - t) * np.maximum(0.0, lengths - m_minus) ** 2
    return (present + absent).sum(-1)


# --- Triplet loss: brute force over all triplets, float64 -------------------


def distances(x, kind):
    x = np.asarray(x, np.float64)
    n = len(x)
    d = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        if i == j:
            continue
        if kind == "cosine":
            ni, nj = np.linalg.norm(x[i]), np.linalg.norm(x[j])
            cos = x[i] @ x[j] / (max(ni, 1e-6) * max(nj, 1e-6))
            d[i, j] = max(1 - cos, 0.0)
        else:
            d[i, j] = ((x[i] - x[j]) ** 2).sum()
            if kind == "euclidean":
                d[i, j] = np.sqrt(d[i, j])
    return d


def mined_triplet(labels, x, margin, mining, kind):
    """The batch loss of TFA / Hermans et al., by loops over all triplets."""
    labels = np.asarray(labels).reshape(-1)
    d = distances(x, kind)
    n = len(labels)
    pos = [
        [p for p in range(n) if p != a and labels[p] == labels[a]]
        for a in range(n)
    ]
    neg = [[k for k in range(n) if labels[k] != labels[a]] for a in range(n)]
    if mining == "batch_hard":
        total = 0.0
        for a in range(n):
            if pos[a] and neg[a]:
                hp = max(d[a, p] for p in pos[a])
                hn = min(d[a, k] for k in neg[a])
                total += max(hp - hn + margin, 0.0)
        return total / n
    if mining == "semi_hard":
        total, pairs = 0.0, 0
        for a in range(n):
            for p in pos[a]:
                pairs += 1
                if not neg[a]:
                    continue
                farther = [d[a, k] for k in neg[a] if d[a, k] > d[a, p]]
                dn = min(farther) if farther else max(d[a, k] for k in neg[a])
                total += max(d[a, p] - dn + margin, 0.0)
        return total / pairs if pairs else 0.0
    if mining == "batch_all":
        losses = [
            max(d[a, p] - d[a, k] + margin, 0.0)
            for a in range(n)
            for p in pos[a]
            for k in neg[a]
        ]
        active = sum(v > 0 for v in losses)
        return sum(losses) / active if active else 0.0
    raise ValueError(mining)
