"""Dense NumPy versions of the graph layers' formulas (Cheat sheet 7.6),
the oracles of the graph layer tests."""

import numpy as np


def random_graph(rng, n, p=0.3, symmetric=True):
    """Edges (2, E) of a random graph on n nodes: no self loops, no
    repeats; each pair (both ways if symmetric) with probability p."""
    a = rng.random((n, n)) < p
    if symmetric:
        a = np.triu(a, 1)
        a = a | a.T
    np.fill_diagonal(a, False)
    receivers, senders = np.nonzero(a)  # A[i, j] = 1: edge j -> i
    return np.stack([senders, receivers]).astype(np.int32)


def adjacency(edges, n):
    """Dense A (n, n) with A[i, j] = 1 for each edge j -> i."""
    a = np.zeros((n, n))
    a[edges[1], edges[0]] = 1.0
    return a


def gcn_matrix(edges, n):
    """Â = D^-1/2 (A + I) D^-1/2, D the row sums of A + I."""
    a = adjacency(edges, n) + np.eye(n)
    d = a.sum(axis=1)
    return a / np.sqrt(np.outer(d, d))


def gat_attention(h, edges, kernel, a_1, a_2, slope=0.2):
    """Dense alpha (K, n, n): alpha[k, i, j] = softmax_j of
    LeakyReLU(a_1^k . W^k h_i + a_2^k . W^k h_j) over j in N(i) + {i}."""
    n = len(h)
    heads, units = a_1.shape
    wh = (h @ kernel).reshape(n, heads, units)
    mask = adjacency(edges, n) + np.eye(n) > 0
    alpha = np.zeros((heads, n, n))
    for k in range(heads):
        e = (wh[:, k] @ a_1[k])[:, None] + (wh[:, k] @ a_2[k])[None, :]
        e = np.where(e > 0, e, slope * e)
        e = np.where(mask, e, -np.inf)
        e = np.exp(e - e.max(axis=1, keepdims=True))
        alpha[k] = e / e.sum(axis=1, keepdims=True)
    return alpha, wh
