"""Graphs built from digit images, for `experiments.graphs` (Cheat sheet 7.6).

Two kinds (both NumPy, built offline from the image arrays):

- `patch_graphs`: one small graph per image, after the MNIST task of
  "Benchmarking GNNs" (Dwivedi et al. 2020) with P x P patches in place
  of SLIC superpixels. Nodes are the non-empty patches (mean intensity >
  `min_intensity`), with features [mean intensity, x, y] (x, y the patch
  centre in [0, 1]); each node receives edges from its k nearest nodes in
  (x, y), made undirected (both ways). `PatchGraphs.dataset` batches them
  as disjoint unions with `tf.data.Dataset.ragged_batch`.
- `knn_graph`: one graph over many images (Kipf and Welling's
  semi-supervised node classification): nodes are images with the PCA of
  their pixels as features, edges join each image to its k nearest
  neighbours in that space, both ways.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_cheats.layers import graphs


def knn_edges(points, k):
    """Undirected k-nearest-neighbour edges (2, E) over `points` (n, d):
    j -> i and i -> j for each j among the k nearest of i (no self loops,
    no repeats; k is capped at n - 1)."""
    n = len(points)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((2, 0), np.int32)
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    near = np.argsort(d2, axis=1, kind="stable")[:, :k]  # (n, k)
    return _undirected(np.repeat(np.arange(n), k), near.reshape(-1), n)


def _undirected(a, b, n):
    """The edges a -> b and b -> a, each once, as (2, E) int32."""
    pairs = np.concatenate([a * n + b, b * n + a])
    pairs = np.unique(pairs)
    return np.stack([pairs // n, pairs % n]).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class PatchGraphs:
    """Many small graphs, stored flat.

    nodes (sum n_g, 3) [intensity, x, y]; node_splits (G + 1,): graph g
    has nodes node_splits[g]:node_splits[g + 1]; edges (sum e_g, 2) local
    (sender, receiver) pairs; edge_splits (G + 1,); labels (G,).
    """

    nodes: np.ndarray
    node_splits: np.ndarray
    edges: np.ndarray
    edge_splits: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)

    def graph(self, g):
        """(nodes (n, 3), edges (2, e)) of graph g, local indices."""
        n0, n1 = self.node_splits[g : g + 2]
        e0, e1 = self.edge_splits[g : g + 2]
        return self.nodes[n0:n1], self.edges[e0:e1].T

    def ragged(self):
        """(labels, nodes (G, None, 3), edges (G, None, 2)) tensors."""
        nodes = tf.RaggedTensor.from_row_splits(
            self.nodes, self.node_splits.astype(np.int64)
        )
        edges = tf.RaggedTensor.from_row_splits(
            self.edges, self.edge_splits.astype(np.int64)
        )
        return self.labels, nodes, edges

    def dataset(self, batch_size, shuffle_seed=None):
        """Batches (`graphs.GraphBatch`, labels (B,)), disjoint unions of
        B graphs, shuffled by `shuffle_seed` (None: in order)."""
        ds = tf.data.Dataset.from_tensor_slices(self.ragged())
        if shuffle_seed is not None:
            ds = ds.shuffle(
                len(self), seed=shuffle_seed, reshuffle_each_iteration=False
            )
        ds = ds.ragged_batch(batch_size)
        return ds.map(
            lambda y, nodes, edges: (graphs.ragged_union(nodes, edges), y)
        )


def patch_graphs(images, labels, patch_size, k, min_intensity=0.0):
    """The patch graphs of `images` (B, H, W, 1) in [0, 1] (see the module
    docstring). An image with no patch above `min_intensity` keeps its
    brightest patch, so every graph has a node."""
    images = np.asarray(images, np.float32)
    b, h, w = images.shape[:3]
    p = patch_size
    if h % p or w % p:
        raise ValueError(
            f"patch_size={p}; expected a divisor of the image height {h} "
            f"and width {w}"
        )
    rows, cols = h // p, w // p
    means = images[..., 0].reshape(b, rows, p, cols, p).mean(axis=(2, 4))
    ys, xs = np.meshgrid(
        (np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols,
        indexing="ij",
    )  # fmt: skip
    position = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)
    flat = means.reshape(b, -1)
    nodes, edges, n_counts, e_counts = [], [], [], []
    for g in range(b):
        keep = np.flatnonzero(flat[g] > min_intensity)
        if keep.size == 0:
            keep = np.array([int(np.argmax(flat[g]))])
        xy = position[keep]
        e = knn_edges(xy, k)
        nodes.append(np.concatenate([flat[g, keep, None], xy], axis=1))
        edges.append(e.T)
        n_counts.append(len(keep))
        e_counts.append(e.shape[1])
    return PatchGraphs(
        nodes=np.concatenate(nodes).astype(np.float32),
        node_splits=np.concatenate([[0], np.cumsum(n_counts)]),
        edges=np.concatenate(edges).astype(np.int32),
        edge_splits=np.concatenate([[0], np.cumsum(e_counts)]),
        labels=np.asarray(labels, np.int32),
    )


def knn_graph(features, k):
    """Undirected k-NN edges (2, E) over many points (rows of `features`),
    by scikit-learn's exact neighbour search (Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    k = min(k, n - 1)
    search = NearestNeighbors(n_neighbors=k + 1).fit(features)
    _, near = search.kneighbors(features)  # (n, k + 1), usually self first
    senders = near.reshape(-1)
    receivers = np.repeat(np.arange(n), k + 1)
    other = senders != receivers
    return _undirected(receivers[other], senders[other], n)


def pca_features(x, dim, fit_rows=None):
    """PCA of flattened images to `dim` values, fitted on `fit_rows` (all
    rows by default), each component scaled to unit variance."""
    from sklearn.decomposition import PCA

    flat = np.asarray(x, np.float32).reshape(len(x), -1)
    fit = flat if fit_rows is None else flat[fit_rows]
    dim = min(dim, *fit.shape)
    z = PCA(dim, random_state=0).fit(fit).transform(flat)
    return (z / z.std(axis=0).clip(1e-6)).astype(np.float32)


def labelled_subset(labels, per_class, seed):
    """Indices of `per_class` examples of each class, drawn by `seed`."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
        for c in np.unique(labels)
    ]
    return np.sort(np.concatenate(picks))
