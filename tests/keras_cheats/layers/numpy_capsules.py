"""NumPy reference versions of the capsule maths, used as test oracles."""

import numpy as np


def squash(s, axis=-1):
    """v = |s|^2 / (1 + |s|^2) * s / |s|, and 0 at s = 0 (float64)."""
    s = np.asarray(s, dtype="float64")
    norm = np.linalg.norm(s, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = norm**2 / (1 + norm**2) * s / norm
    return np.where(norm > 0, v, 0.0)


def softmax(b, axis):
    e = np.exp(b - b.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def routing(u_hat, iterations):
    """Procedure 1 of Sabour et al. 2017, loop by loop.

    u_hat: (B, N_in, N_out, D). Returns v (B, N_out, D) and the last c.
    """
    u_hat = np.asarray(u_hat, dtype="float64")
    batch, n_in, n_out, _ = u_hat.shape
    b = np.zeros((batch, n_in, n_out))
    for r in range(iterations):
        c = softmax(b, axis=2)
        s = np.zeros((batch, n_out, u_hat.shape[3]))
        for i in range(n_in):
            for j in range(n_out):
                s[:, j] += c[:, i, j, None] * u_hat[:, i, j]
        v = squash(s)
        if r < iterations - 1:
            for i in range(n_in):
                for j in range(n_out):
                    b[:, i, j] += np.sum(u_hat[:, i, j] * v[:, j], axis=-1)
    return v, c
