import numpy as np
import pytest

import keras_cheats.losses.triplet_mining as module
from keras_cheats.losses import (
    TripletLoss,
    pairwise_distances,
    triplet,
    triplet_loss,
)
from tests.keras_cheats.losses import helpers, oracles

MININGS = ["batch_all", "batch_hard", "semi_hard"]
DISTANCES = ["squared_euclidean", "euclidean", "cosine"]


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    # Explicit triplet, the cheat sheet's formula: 2 - 1 + 0.5.
    assert (
        float(triplet([[0.0, 0.0]], [[1.0, 1.0]], [[1.0, 0.0]], 0.5)[0]) == 1.5
    )
    # Satisfied with room to spare: [1 - 4 + 1]_+ = 0.
    assert float(triplet([[0.0]], [[1.0]], [[2.0]], 1.0)[0]) == 0.0
    # Mined, 1-D embeddings 0, 2, 3, labels 0, 0, 1 (squared: d01 = 4,
    # d02 = 9, d12 = 1); only anchor 1 (positive 0, negative 2) is violated,
    # by 4 - 1 + 1 = 4: 1 of 3 anchors, 1 of 2 pairs, 1 active triplet.
    labels, x = [0, 0, 1], [[0.0], [2.0], [3.0]]
    for mining, value in [
        ("batch_hard", 4 / 3),
        ("semi_hard", 2.0),
        ("batch_all", 4.0),
    ]:
        loss = TripletLoss(margin=1.0, mining=mining)
        np.testing.assert_allclose(loss(labels, x), value, rtol=1e-6)
    # Euclidean distances 2, 3, 1: anchor 1 gives 2 - 1 + 1 = 2.
    loss = TripletLoss(1.0, "batch_hard", "euclidean")
    np.testing.assert_allclose(loss(labels, x), 2 / 3, rtol=1e-6)


def test_pairwise_distances_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5)).astype(np.float32)
    for kind in DISTANCES:
        d = np.asarray(pairwise_distances(x, kind))
        np.testing.assert_allclose(
            d, oracles.distances(x, kind), rtol=1e-4, atol=1e-5
        )
        assert np.all(np.diag(d) == 0.0)


def test_explicit_triplet_matches_numpy():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        a, p, n = rng.normal(size=(3, 8, 4)).astype(np.float32)
        want = np.maximum(
            ((a - p) ** 2).sum(-1) - ((a - n) ** 2).sum(-1) + 0.7, 0.0
        )
        np.testing.assert_allclose(triplet(a, p, n, 0.7), want, rtol=1e-5)


@pytest.mark.parametrize("mining", MININGS)
def test_mining_matches_brute_force(mining):
    """Per-anchor values average to the brute-force batch loss."""
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for batch, classes, dim in [(6, 3, 2), (9, 2, 5), (8, 4, 3)]:
            labels = rng.integers(0, classes, batch)
            x = rng.normal(size=(batch, dim)).astype(np.float32)
            margin = float(rng.uniform(0.1, 2.0))
            for kind in DISTANCES:
                want = oracles.mined_triplet(labels, x, margin, mining, kind)
                values = triplet_loss(labels, x, margin, mining, kind)
                assert values.shape == (batch,)
                np.testing.assert_allclose(
                    np.mean(values),
                    want,
                    rtol=1e-4,
                    atol=1e-5,
                    err_msg=f"{mining} {kind} seed {seed}",
                )
                # Labels as (B, 1) columns give the same.
                np.testing.assert_allclose(
                    triplet_loss(labels[:, None], x, margin, mining, kind),
                    values,
                    rtol=1e-6,
                )


@pytest.mark.parametrize("mining", MININGS)
def test_gradients_match_finite_differences(mining):
    rng = np.random.default_rng(4)
    labels = np.array([0, 0, 1, 1, 2, 2])
    x = rng.normal(size=(6, 3))
    for kind in DISTANCES:
        helpers.check_gradient(
            lambda v, k=kind: triplet_loss(labels, v, 1.0, mining, k), x
        )
    a, p, n = rng.normal(size=(3, 4, 2))
    helpers.check_gradient(lambda v: triplet(v, p, n, 1.0), a)


def test_degenerate_batches_are_finite():
    for mining in MININGS:
        _check_degenerate(mining)


def _check_degenerate(mining):
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    cases = {
        # Identical embeddings: every distance 0 (sqrt and its gradient).
        "identical": ([0, 0, 1, 1], np.ones((4, 3), np.float32)),
        "zeros": ([0, 0, 1, 1], np.zeros((4, 3), np.float32)),
        # One class: no negatives anywhere.
        "one_class": ([3, 3, 3, 3], x),
        # All labels distinct: no positives anywhere.
        "no_positive": ([0, 1, 2, 3], x),
        "single": ([0], x[:1]),
    }
    for name, (labels, emb) in cases.items():
        for kind in DISTANCES:
            value, grad = helpers.value_and_grad(
                lambda v, k=kind, lab=labels: triplet_loss(
                    lab, v, 1.0, mining, k
                ),
                emb,
            )
            helpers.assert_finite(value, grad)
            if name in ("one_class", "no_positive", "single"):
                assert np.all(np.asarray(value) == 0.0), (name, kind)
    # Identical embeddings of two classes violate the margin: loss = margin.
    value = triplet_loss([0, 0, 1, 1], np.ones((4, 3)), 0.5, mining)
    np.testing.assert_allclose(np.mean(value), 0.5, rtol=1e-6)


def test_bad_arguments():
    for kwargs, word in [
        ({"mining": "foo"}, "mining"),
        ({"margin": -1.0}, "margin"),
        ({"distance": "l1"}, "distance"),
    ]:
        with pytest.raises(ValueError, match=word):
            TripletLoss(**kwargs)
        with pytest.raises(ValueError, match=word):
            triplet_loss([0, 0], np.zeros((2, 2)), **kwargs)
    with pytest.raises(ValueError, match="margin"):
        triplet([[0.0]], [[0.0]], [[0.0]], margin=-1.0)
