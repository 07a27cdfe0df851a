import numpy as np
import pytest

import keras_cheats.losses.contrastive as module
from keras_cheats.losses import ContrastiveLoss, contrastive_loss, pair_distance
from tests.keras_cheats.losses import helpers, oracles


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed_and_label_convention():
    # y = 1 similar at d = 0.5: 0.5^2 / 2; y = 0 dissimilar at 0.3:
    # (1 - 0.3)^2 / 2; dissimilar beyond the margin: 0.
    np.testing.assert_allclose(
        contrastive_loss([1, 0, 0], [0.5, 0.3, 1.5], margin=1.0),
        [0.125, 0.245, 0.0],
        rtol=1e-6,
    )
    # 1 = similar: a similar pair at distance 0 costs nothing, a dissimilar
    # pair at distance 0 costs m^2 / 2.
    np.testing.assert_allclose(
        contrastive_loss([1, 0], [0.0, 0.0], margin=2.0), [0.0, 2.0]
    )
    # The default reduction is the cheat sheet's 1/(2N) sum.
    np.testing.assert_allclose(
        ContrastiveLoss(1.0)([1, 0, 0], [0.5, 0.3, 1.5]), 0.37 / 3, rtol=1e-6
    )


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for n in [1, 5, 12]:
            a, b = rng.normal(size=(2, n, 3)).astype(np.float32)
            y = (rng.random(n) > 0.5).astype(np.float32)
            d = np.sqrt(((a - b) ** 2).sum(-1))
            np.testing.assert_allclose(pair_distance(a, b), d, rtol=1e-5)
            np.testing.assert_allclose(
                pair_distance(a, b, squared=True), d**2, rtol=1e-5
            )
            want = oracles.contrastive(y, d, 1.5)
            np.testing.assert_allclose(
                contrastive_loss(y, d, 1.5), want, rtol=1e-5, atol=1e-7
            )
            # (N, 1) distances with (N,) labels: still one value per pair.
            got = contrastive_loss(y, d[:, None], 1.5)
            assert got.shape == (n,)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_gradients():
    rng = np.random.default_rng(0)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    d = rng.uniform(0.1, 2.0, 4)
    helpers.check_gradient(lambda v: contrastive_loss(y, v, 1.0), d)
    a, b = rng.normal(size=(2, 4, 3))
    helpers.check_gradient(
        lambda v: contrastive_loss(y, pair_distance(v, b), 1.0), a
    )
    # Identical embeddings: the distance's gradient at 0 is 0, not NaN.
    same = np.ones((4, 3), np.float32)
    value, grad = helpers.value_and_grad(
        lambda v: contrastive_loss(y, pair_distance(v, same), 1.0), same
    )
    helpers.assert_finite(value, grad)
    big = np.array([1e4, -1e4, 1e4, 0.0], np.float32)
    value, grad = helpers.value_and_grad(
        lambda v: contrastive_loss(y, v, 1.0), big
    )
    helpers.assert_finite(value, grad)


def test_bad_margin():
    with pytest.raises(ValueError, match="margin"):
        ContrastiveLoss(margin=-0.5)
