"""Adaptive resampling of the DB-VAE (Cheat sheet 7.4.2, "automatic
debiasing"; Amini et al. 2019, Algorithm 1).

No subgroup labels are used. The DB-VAE encodes the training images of the
indicator class; per latent dimension i a histogram Q_i of the means z_i
estimates how common each value is; an image whose z_i falls in a sparse
bin is rare and is drawn more often:

    w_i(x) = 1 / (Q_i(z_i(x)) + alpha)       per dimension
    W(x)   = max_i w_i(x) / sum_x' w_i(x')   combine="max" (the MIT lab)
    W(x)   = prod_i w_i(x)                   combine="product" (the paper)
    p(x)   = W(x) / sum_x' W(x')

Like the MIT 6.S191 lab, Q_i is the histogram density smoothed by adding
alpha and renormalized to sum to 1 over the bins (defaults: 10 bins,
alpha = 0.001). The product is summed in log space, so hundreds of
dimensions cannot underflow to 0/0.

The default is "max". The product multiplies d factors, each of which
spans two to three orders of magnitude (the fullest bin against a bin
holding one image), so with a 16-D latent space a few images in the tails
of several dimensions take almost all the probability and an epoch draws
the same handful of images again and again (see `effective_sample_size`;
the experiment in `experiments/debias.py` reports both). The maximum
keeps every weight within one dimension's range: an image is upweighted
for its rarest feature, and the draw stays spread over many images.

What counts as rare: the histograms are per dimension, so the images in
the sparse tail bins of any unimodal dimension are upweighted like a
genuinely separate cluster. A subgroup gains most when it sits in bins
sparser than those tails (tests/keras_cheats/test_debias.py measures both
cases: a cluster apart from uniform data gains 8 to 10 times, one beside
Gaussian data 1.2 to 1.6 times, with "max").
"""

import numpy as np

COMBINES = ("max", "product")


def _check(latent_means, bins, smoothing, combine):
    z = np.asarray(latent_means, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(
            "`latent_means` must have shape (N, d) with N >= 1; received "
            f"shape {np.shape(latent_means)}."
        )
    if not np.all(np.isfinite(z)):
        raise ValueError("`latent_means` must be finite; found NaN or inf.")
    if (
        not isinstance(bins, (int, np.integer))
        or isinstance(bins, bool)
        or (bins < 1)
    ):
        raise ValueError(f"`bins` must be an int >= 1; received bins={bins!r}.")
    if not (isinstance(smoothing, (int, float)) and smoothing > 0):
        raise ValueError(
            "`smoothing` must be a number > 0 (it keeps 1 / density finite); "
            f"received smoothing={smoothing!r}."
        )
    if combine not in COMBINES:
        raise ValueError(
            f"`combine` must be one of {list(COMBINES)}; "
            f"received combine={combine!r}."
        )
    return z


def smoothed_bin_density(values, bins=10, smoothing=1e-3):
    """Q(z) for each value: its bin's histogram density, smoothed.

    The density of `np.histogram(values, bins, density=True)` plus
    `smoothing`, renormalized to sum to 1 over the bins (as the MIT lab),
    looked up at each value's bin (the outer edges are open, so every value
    has a bin).

    Args:
        values: (N,) values of one latent dimension.

    Returns:
        float64 array (N,) in (0, 1].
    """
    values = _check(values, bins, smoothing, "max")[:, 0]
    density, edges = np.histogram(values, bins=bins, density=True)
    smoothed = density + smoothing
    smoothed = smoothed / smoothed.sum()
    # Inner edges only: values below the first land in bin 0, above the
    # last in bin `bins - 1`.
    index = np.digitize(values, edges[1:-1])
    return smoothed[index]


def sampling_probabilities(
    latent_means, bins=10, smoothing=1e-3, combine="max"
):
    """Resampling probabilities of N images from their latent means.

    Args:
        latent_means: (N, d) means of q(z | x) of the indicator class's
            training images (or (N,) for d = 1).
        bins: histogram bins per latent dimension (lab: 10).
        smoothing: alpha, added to each bin's density (lab: 0.001).
        combine: "max" over dimensions (default, the lab) or "product"
            (the paper), see the module docstring.

    Returns:
        float64 array (N,) of probabilities summing to 1; images in sparse
        regions of the latent space get more.
    """
    z = _check(latent_means, bins, smoothing, combine)
    # log w_i = -log Q_i(z_i), one column per dimension: (N, d).
    log_w = np.stack(
        [
            -np.log(smoothed_bin_density(z[:, i], bins, smoothing))
            for i in range(z.shape[1])
        ],
        axis=1,
    )
    if combine == "max":
        # Normalize each dimension's weights to sum to 1, then take the max.
        w = np.exp(log_w - log_w.max(axis=0))
        w = w / w.sum(axis=0)
        p = w.max(axis=1)
    else:
        total = log_w.sum(axis=1)
        p = np.exp(total - total.max())  # the largest weight becomes 1
    return p / p.sum()


def effective_sample_size(probabilities):
    """1 / sum_i p_i^2: how many distinct images a draw is worth.

    N for uniform probabilities; 1 when one image has all the mass.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    return float(1.0 / np.sum(p**2))


def draw_indices(probabilities, size, rng):
    """Draws `size` indices with replacement according to `probabilities`.

    Args:
        probabilities: (N,) probabilities summing to 1.
        size: how many indices.
        rng: a `np.random.Generator` (seed it per epoch for repeatable
            epochs).

    Returns:
        int64 array (size,).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    return rng.choice(len(p), size=size, replace=True, p=p).astype(np.int64)
