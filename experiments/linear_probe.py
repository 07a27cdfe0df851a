"""The linear evaluation of a frozen representation (cheat sheet 7.10),
and the pictures that show one.

SimCLR (Chen et al. 2020) judges a self-supervised encoder by a linear
classifier trained on its frozen features with few labels. Here the
classifier is scikit-learn's multinomial `LogisticRegression` (L2 penalty,
C = 1, L-BFGS), on features standardized with the mean and standard
deviation of the *unlabelled* training set (no label is used for that):

    p(y = k | h) = softmax_k(W h' + b),  h' = (h - mu) / sigma

scikit-learn runs with one BLAS/OpenMP thread (`threadpool_limits(1)`):
on a 2-core machine shared with TensorFlow, its default thread pools spin
against each other (a t-SNE of 360 points took 390 s instead of 26 s).

The labelled subsets are class-balanced and fixed by a seed
(`balanced_subset`), so every representation is probed on the same images.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from experiments import images

# Ten distinguishable colours (matplotlib's tab10), RGB in [0, 1].
PALETTE = np.array(
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
        (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
        (188, 189, 34), (23, 190, 207),
    ],
    np.float32,
) / 255  # fmt: skip


def per_class_count(fraction, num_train, num_classes):
    """Labelled images per class for a fraction of the training set
    (at least 1): 1% of 8,000 MNIST images over 10 classes is 8."""
    return max(1, int(round(fraction * num_train / num_classes)))


def balanced_subset(labels, per_class, seed):
    """Indices of `per_class` random images of each class, sorted.

    Args:
        labels: (N,) integer class labels.
        per_class: images drawn from each class (without replacement).
        seed: fixes the draw.

    Returns:
        (num_classes * per_class,) int64 indices into `labels`.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(
                f"class {c} has {len(members)} training images; "
                f"{per_class} per class were asked for"
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def flat(x):
    """(N, ...) -> (N, D) float64 features (raw pixels for images)."""
    x = np.asarray(x, np.float64)
    return x.reshape(len(x), -1)


def probe_accuracy(train_features, train_labels, test_features, test_labels,
                   *, unlabelled=None):  # fmt: skip
    """Test accuracy of a logistic regression on frozen features.

    Args:
        train_features: (n, D) features of the labelled images.
        train_labels: (n,) their labels.
        test_features: (m, D) features of the test images.
        test_labels: (m,) their labels.
        unlabelled: (N, D) features whose mean and standard deviation
            standardize every feature (default: `train_features`).

    Returns:
        float, the fraction of test images classified correctly.
    """
    ref = flat(train_features if unlabelled is None else unlabelled)
    mu, sigma = ref.mean(0), ref.std(0) + 1e-6

    def standard(f):
        return (flat(f) - mu) / sigma

    classifier = LogisticRegression(C=1.0, max_iter=2000)
    with threadpool_limits(1):
        classifier.fit(standard(train_features), np.asarray(train_labels))
    predicted = classifier.predict(standard(test_features))
    return float(np.mean(predicted == np.asarray(test_labels)))


def tsne_canvas(features, thumbnails, labels, size=720, seed=0):
    """The 2-D t-SNE of `features`, each point drawn as its own image in
    the colour of its class, on a white (size, size, 3) canvas.

    Args:
        features: (N, D) features.
        thumbnails: (N, H, W, 1) images in [0, 1] (ink = 1).
        labels: (N,) classes 0..9 (the colours of `PALETTE`).
        size: the canvas side in pixels.
        seed: t-SNE's random state.
    """
    tsne = TSNE(2, init="pca", random_state=seed, perplexity=30, n_jobs=1)
    with threadpool_limits(1):
        xy = tsne.fit_transform(flat(features))
    h, w = thumbnails.shape[1:3]
    xy = (xy - xy.min(0)) / (xy.max(0) - xy.min(0) + 1e-12)
    corners = np.round(xy * [size - w, size - h]).astype(int)
    canvas = np.ones((size, size, 3), np.float32)
    for (left, top), image, label in zip(corners, thumbnails, labels):
        ink = image[..., :1]  # (H, W, 1)
        colour = PALETTE[int(label) % len(PALETTE)]
        patch = canvas[top : top + h, left : left + w]
        # Ink in the class colour over what is already there; paper stays.
        canvas[top : top + h, left : left + w] = patch * (1 - ink) + (
            colour * ink
        )
    return canvas


def neighbours(queries, database, features_q, features_db, k=7):
    """Rows of [query, its k nearest database images] by cosine
    similarity of the features: (num_queries * (k + 1), H, W, C)."""
    fq = flat(features_q)
    fd = flat(features_db)
    fq /= np.linalg.norm(fq, axis=1, keepdims=True) + 1e-12
    fd /= np.linalg.norm(fd, axis=1, keepdims=True) + 1e-12
    nearest = np.argsort(-(fq @ fd.T), axis=1)[:, :k]  # (Q, k)
    rows = [np.concatenate([q[None], database[i]]) for q, i in
            zip(queries, nearest)]  # fmt: skip
    return np.concatenate(rows)


def save_side_by_side(path, left, right, gap=12):
    """Two (H, W, 3) canvases of one height in one PNG, a gap between."""
    spacer = np.ones((left.shape[0], gap, 3), np.float32)
    return images.save_png(path, np.concatenate([left, spacer, right], 1))
