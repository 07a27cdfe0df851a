"""Adaptive resampling probabilities of the DB-VAE (keras_cheats.debias)."""

import numpy as np
import pytest

from keras_cheats import debias


def _lab(mu, bins=10, smoothing_fac=0.001):
    """The MIT 6.S191 lab's get_training_sample_probabilities, verbatim
    apart from taking the latent means instead of computing them."""
    training_sample_p = np.zeros(mu.shape[0])
    for i in range(mu.shape[1]):
        latent_distribution = mu[:, i]
        hist_density, bin_edges = np.histogram(
            latent_distribution, density=True, bins=bins
        )
        bin_edges[0] = -float("inf")
        bin_edges[-1] = float("inf")
        bin_idx = np.digitize(latent_distribution, bin_edges)
        hist_smoothed_density = hist_density + smoothing_fac
        hist_smoothed_density = hist_smoothed_density / np.sum(
            hist_smoothed_density
        )
        p = 1.0 / (hist_smoothed_density[bin_idx - 1])
        p = p / np.sum(p)
        training_sample_p = np.maximum(p, training_sample_p)
    training_sample_p /= np.sum(training_sample_p)
    return training_sample_p


def test_hand_computed_one_dimension():
    # Values 0, 0, 0, 1 in 2 bins of width 0.5: densities 3/(4*0.5) = 1.5
    # and 1/(4*0.5) = 0.5; + 0.001 and renormalized: 1.501/2.002, 0.501/2.002.
    z = np.array([[0.0], [0.0], [0.0], [1.0]])
    q = debias.smoothed_bin_density(z[:, 0], bins=2, smoothing=0.001)
    np.testing.assert_allclose(q, [1.501 / 2.002] * 3 + [0.501 / 2.002])
    w = np.array([2.002 / 1.501] * 3 + [2.002 / 0.501])
    for combine in ("max", "product"):  # one dimension: both are 1 / Q
        p = debias.sampling_probabilities(z, 2, 0.001, combine)
        np.testing.assert_allclose(p, w / w.sum())
    # The lone 1 is drawn 1.501 / 0.501 ~ 3 times as often as each 0.
    assert p[3] / p[0] == pytest.approx(1.501 / 0.501)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bins, smoothing", [(10, 1e-3), (5, 0.05), (25, 1e-4)])
def test_max_equals_the_mit_lab_function(seed, bins, smoothing):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(300, 6)) * rng.uniform(0.1, 3, size=6)
    np.testing.assert_allclose(
        debias.sampling_probabilities(mu, bins, smoothing, "max"),
        _lab(mu, bins, smoothing),
        rtol=1e-12,
    )


def test_product_equals_the_naive_product_in_few_dimensions():
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(200, 3))
    w = np.ones(200)
    for i in range(3):
        w /= debias.smoothed_bin_density(mu[:, i], 10, 1e-3)
    np.testing.assert_allclose(
        debias.sampling_probabilities(mu, combine="product"), w / w.sum()
    )


def test_product_in_log_space_does_not_underflow():
    # 400 dimensions: the naive product of 1 / Q (each up to ~1e3)
    # overflows float64 (1e3^400), and the product of the normalized
    # per-dimension probabilities (each ~1/N) underflows to 0.
    rng = np.random.default_rng(4)
    mu = rng.normal(size=(500, 400))
    q = np.stack(
        [debias.smoothed_bin_density(mu[:, i]) for i in range(400)], axis=1
    )
    with np.errstate(over="ignore"):
        naive = np.prod(1 / q, axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.all(np.isfinite(naive / naive.sum()))
    p = debias.sampling_probabilities(mu, combine="product")
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0)


def _cluster_data(seed, common_sampler, rare_centre):
    rng = np.random.default_rng(seed)
    common = common_sampler(rng, (950, 8))
    rare = common_sampler(rng, (30, 8))
    rare[:, 0] = rng.normal(rare_centre, 0.2, size=30)  # apart on dim 0
    return np.concatenate([common, rare]), np.arange(980) >= 950


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("combine", ["max", "product"])
def test_rare_cluster_gets_higher_probability(combine, seed):
    # 950 common points uniform in [-1, 1]^8; 30 rare ones around 3 on
    # dimension 0, where no common point lies.
    mu, is_rare = _cluster_data(
        seed, lambda rng, shape: rng.uniform(-1, 1, shape), 3.0
    )
    p = debias.sampling_probabilities(mu, combine=combine)
    assert p.shape == (980,) and p.sum() == pytest.approx(1.0)
    assert p[is_rare].mean() > 3 * p[~is_rare].mean()
    assert p[is_rare].sum() > 3 * is_rare.mean()  # > 3 times their share
    # Drawing with these probabilities over-represents the rare cluster.
    drawn = debias.draw_indices(p, 20_000, np.random.default_rng(0))
    assert is_rare[drawn].mean() > 3 * is_rare.mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_tails_compete_with_a_rare_cluster(seed):
    # With Gaussian common points the sparse tail bins of every dimension
    # are "rare" too: the cluster (30 points, one bin) still gains with
    # "max", but only by 1.2 to 1.6 times (measured), not several times.
    mu, is_rare = _cluster_data(
        seed, lambda rng, shape: rng.normal(size=shape), 4.0
    )
    p = debias.sampling_probabilities(mu, combine="max")
    ratio = p[is_rare].mean() / p[~is_rare].mean()
    assert 1.1 < ratio < 2.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_product_concentrates_where_max_spreads(seed):
    # Measured for 16 Gaussian dimensions: max 316 to 366 of 800, product
    # 2 to 25: the draw comes from a handful of images.
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(800, 16))
    ess = {
        c: debias.effective_sample_size(
            debias.sampling_probabilities(mu, combine=c)
        )
        for c in ("max", "product")
    }
    assert ess["max"] > 0.3 * 800
    assert ess["product"] < 0.1 * ess["max"]


def test_effective_sample_size_and_draws():
    assert debias.effective_sample_size(np.full(40, 1 / 40)) == pytest.approx(
        40
    )
    assert debias.effective_sample_size([0.0, 1.0, 0.0]) == pytest.approx(1)
    p = np.array([0.1, 0.6, 0.3])
    a = debias.draw_indices(p, 30_000, np.random.default_rng(7))
    b = debias.draw_indices(p, 30_000, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.bincount(a) / len(a), p, atol=0.01)


def test_constant_dimension_and_one_dimensional_input():
    z = np.zeros(5)
    np.testing.assert_allclose(debias.sampling_probabilities(z), 0.2)


def test_errors_name_the_argument():
    z = np.random.default_rng(8).normal(size=(10, 2))
    with pytest.raises(ValueError, match="bins"):
        debias.sampling_probabilities(z, bins=0)
    with pytest.raises(ValueError, match="smoothing"):
        debias.sampling_probabilities(z, smoothing=0)
    with pytest.raises(ValueError, match="combine"):
        debias.sampling_probabilities(z, combine="mean")
    with pytest.raises(ValueError, match="finite"):
        debias.sampling_probabilities(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="latent_means"):
        debias.sampling_probabilities(np.zeros((0, 3)))
