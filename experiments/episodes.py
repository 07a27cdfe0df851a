"""N-way K-shot episodes for few-shot learning (cheat sheet 8.1).

An episode draws N classes, then K support and Q query examples of each,
all distinct. Its rows are laid out support first, class-major, then the
queries, class-major:

    support: rows k K + s       (class k, shot s),   k < N, s < K
    query:   rows N K + k Q + q (class k, query q),  q < Q

so its episode labels (0 to N - 1, the class's place in the draw) are
`episode_labels(N, K, Q)` for every episode. The draw is a pure function
of its seed: training episodes of epoch e come from `epoch_seed(seed, e)`,
so a resumed run sees the same episodes as a run never interrupted.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from loops.in_memory import epoch_seed


@dataclasses.dataclass(frozen=True)
class Episodes:
    """A batch of episodes: `index` (E, N (K + Q)) rows of the split, in
    the layout above; `classes` (E, N) the split's label of each episode
    label."""

    index: np.ndarray
    classes: np.ndarray
    n_way: int
    n_shot: int
    n_query: int

    def support(self):
        """(E, N, K) indices of the support examples."""
        s = self.n_way * self.n_shot
        return self.index[:, :s].reshape(-1, self.n_way, self.n_shot)

    def query(self):
        """(E, N Q) indices of the queries; their labels: `query_labels`."""
        return self.index[:, self.n_way * self.n_shot :]

    def query_labels(self):
        """(N Q,) the episode label of each query row."""
        return np.repeat(np.arange(self.n_way), self.n_query)


def episode_labels(n_way, n_shot, n_query):
    """(N (K + Q),) episode labels of every row of an episode."""
    return np.concatenate(
        [
            np.repeat(np.arange(n_way), n_shot),
            np.repeat(np.arange(n_way), n_query),
        ]
    ).astype(np.int32)


def sample_episodes(labels, classes, n_way, n_shot, n_query, n_episodes, seed):
    """Draws `n_episodes` episodes from the examples of `classes`.

    Args:
        labels: (n,) integer labels of a split.
        classes: the labels episodes may use (at least `n_way` of them,
            each with at least `n_shot + n_query` examples).
        n_way, n_shot, n_query: N, K, Q.
        n_episodes: E.
        seed: an integer; the same seed gives the same episodes.

    Returns:
        `Episodes`.
    """
    labels = np.asarray(labels)
    classes = np.asarray(sorted(set(int(c) for c in classes)))
    if len(classes) < n_way:
        raise ValueError(
            f"n_way={n_way} but only {len(classes)} classes "
            f"({classes.tolist()}) to draw from"
        )
    by_class = {int(c): np.flatnonzero(labels == c) for c in classes}
    need = n_shot + n_query
    short = {c: len(i) for c, i in by_class.items() if len(i) < need}
    if short:
        raise ValueError(
            f"n_shot + n_query = {need} examples per class, but the split "
            f"has fewer of class(es) {short}"
        )
    rng = np.random.default_rng(seed)
    index = np.empty((n_episodes, n_way * need), np.int64)
    drawn = np.empty((n_episodes, n_way), np.int64)
    s = n_way * n_shot
    for e in range(n_episodes):
        drawn[e] = rng.choice(classes, n_way, replace=False)
        for k, c in enumerate(drawn[e]):
            pick = rng.choice(by_class[int(c)], need, replace=False)
            index[e, k * n_shot : (k + 1) * n_shot] = pick[:n_shot]
            index[e, s + k * n_query : s + (k + 1) * n_query] = pick[n_shot:]
    return Episodes(index, drawn, n_way, n_shot, n_query)


@dataclasses.dataclass(frozen=True, eq=False)
class EpisodePipeline:
    """Training episodes, one per batch: a callable `(epoch, skip) ->
    tf.data.Dataset` (as `loops.fit` takes for exact resume) of
    (images (N (K + Q), H, W, C), episode labels (N (K + Q),))."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple
    n_way: int
    n_shot: int
    n_query: int
    episodes_per_epoch: int
    seed: int = 0

    def episodes(self, epoch):
        return sample_episodes(
            self.y, self.classes, self.n_way, self.n_shot, self.n_query,
            self.episodes_per_epoch, epoch_seed(self.seed, epoch),
        )  # fmt: skip

    def __call__(self, epoch, skip=0):
        index = self.episodes(epoch).index[skip:]
        with tf.device("/CPU:0"):
            images = tf.constant(self.x)
        labels = tf.constant(
            episode_labels(self.n_way, self.n_shot, self.n_query)
        )
        ds = tf.data.Dataset.from_tensor_slices(index)
        return ds.map(lambda i: (tf.gather(images, i), labels)).prefetch(2)


def nearest_prototype(features, episodes: Episodes):
    """The episode label each query gets from the nearest prototype: the
    smallest squared Euclidean distance to a class's mean support feature,
    as `keras_cheats.losses.prototypical_logits` scores them.

    Args:
        features: (n, ...) features of the split's examples (flattened).
        episodes: `Episodes` drawn from that split.

    Returns:
        (E, N Q) int predictions, in the layout of `Episodes.query`.
    """
    f = np.asarray(features, np.float64).reshape(len(features), -1)
    predicted = np.empty(episodes.query().shape, np.int64)
    for e, (support, query) in enumerate(
        zip(episodes.support(), episodes.query(), strict=True)
    ):
        c = f[support].mean(axis=1)  # (N, D)
        d = ((f[query][:, None, :] - c[None]) ** 2).sum(-1)  # (N Q, N)
        predicted[e] = d.argmin(axis=1)
    return predicted


def nearest_prototype_accuracy(features, episodes: Episodes):
    """(E,) accuracy of each episode under `nearest_prototype`."""
    predicted = nearest_prototype(features, episodes)
    return (predicted == episodes.query_labels()).mean(axis=1)


def mean_ci95(values):
    """(mean, half-width of its 95% confidence interval): 1.96 std /
    sqrt(n), std with n - 1 degrees of freedom, as few-shot papers report
    accuracy over test episodes."""
    v = np.asarray(values, np.float64)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(
            f"values of shape {v.shape}; expected a 1-D array of >= 2"
        )
    return float(v.mean()), float(1.96 * v.std(ddof=1) / np.sqrt(len(v)))


SUPPORT_FRAME, RIGHT, WRONG = (0.6, 0.6, 0.6), (0.0, 0.7, 0.0), (0.9, 0.0, 0.0)


def _framed(image, color):
    """(H, W, 1 or 3) image in a 1-pixel frame of `color`: (H+2, W+2, 3)."""
    image = np.asarray(image, np.float32)
    h, w = image.shape[:2]
    out = np.empty((h + 2, w + 2, 3), np.float32)
    out[:] = color
    out[1:-1, 1:-1] = image if image.shape[-1] == 3 else image[..., :1]
    return out


def episode_cells(x, episodes: Episodes, predicted, episode, queries=3):
    """The cells of one episode's picture, N to a row: the support set
    (one row per shot, gray frames), then the first `queries` queries of
    each class, each in the column of its predicted class, framed green
    when right and red when wrong; blank cells fill the columns.

    Args:
        x: (n, H, W, C) images of the split.
        episodes, predicted: the episodes and `nearest_prototype`'s
            (E, N Q) predictions.
        episode: which episode.
        queries: queries shown per class.

    Returns:
        a list of (H+2, W+2, 3) cells, a multiple of N long.
    """
    n, q = episodes.n_way, episodes.n_query
    cells = [
        _framed(x[i], SUPPORT_FRAME)
        for i in episodes.support()[episode].T.reshape(-1)  # shot-major
    ]
    truth = episodes.query_labels()
    shown = [j for j in range(n * q) if j % q < queries]
    columns = [[] for _ in range(n)]
    for j in shown:
        p = int(predicted[episode, j])
        color = RIGHT if p == truth[j] else WRONG
        columns[p].append(_framed(x[episodes.query()[episode, j]], color))
    blank = np.ones_like(cells[0])
    height = max(len(c) for c in columns)
    for r in range(height):
        cells += [c[r] if r < len(c) else blank for c in columns]
    return cells
