"""Training batches of the DB-VAE: the target-class images redrawn every
epoch (cheat sheet 7.4.2, Amini et al. 2019, Algorithm 1).

    data = ResampledTrainData(split, target_class=7, batch_size=64,
                              sampler=LatentRarity(model), seed=0,
                              cache_dir=run_dir / "resampling")
    loops.fit(model, optimizer, task, data, ...)   # redrawn every epoch
    log = report(data, rare)

An epoch is a shuffled order of the training split (one order per seed
and epoch). The slots that hold a target-class image are then refilled by
the sampler: `n_target` draws with replacement from the target-class
images with the sampler's probabilities. Without a sampler every image
appears once, as in plain shuffling. So arms that differ only in their
sampler see the other classes' images in the same slots of the same
batches, and their target-class draws in the same slots: their results
are paired, and the differences between them are the samplers'.

Samplers (`probabilities(images) -> (n_target,)`, images being the
target-class training images in index order):

    LatentRarity   the DB-VAE's: rarity of each image's latent means
                   under the current encoder (`keras_cheats.debias`)
    Oracle         knows the rare group: gives it a fixed share of the
                   draws (the best a resampling with that share could do)
"""

import pathlib

import numpy as np

from keras_cheats import checks, debias


class LatentRarity:
    """The DB-VAE's adaptive resampling: images whose latent means fall in
    sparse histogram bins of the current encoder are drawn more.

    Args:
        model: a `DBVAE` (anything with `encode(images) -> (mean, _)`).
        bins, smoothing (alpha), combine: see
            `keras_cheats.debias.sampling_probabilities`.
    """

    def __init__(self, model, bins=10, smoothing=1e-3, combine="max"):
        self.model = model
        self.bins, self.smoothing, self.combine = bins, smoothing, combine

    def latent_means(self, images, batch_size=1000):
        """Means of q(z | x), (N, d) float64."""
        means = [
            np.asarray(self.model.encode(images[i : i + batch_size])[0])
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(means).astype(np.float64)

    def probabilities(self, images):
        return debias.sampling_probabilities(
            self.latent_means(images), self.bins, self.smoothing, self.combine
        )


class Oracle:
    """Draws the true rare group with a fixed share of the draws, each
    group uniformly within.

    Args:
        rare: (n_target,) bools, the rare target-class images in index
            order (`experiments.subgroups.rare_targets`).
        share: the rare group's probability mass, in (0, 1).
    """

    def __init__(self, rare, share):
        self.rare = np.asarray(rare, bool)
        checks.number("share", share, "a number in (0, 1)")
        if not 0 < share < 1:
            raise ValueError(f"share={share!r}; expected a number in (0, 1)")
        self.share = float(share)
        if not self.rare.any() or self.rare.all():
            raise ValueError(
                f"rare holds {int(self.rare.sum())} of {len(self.rare)} "
                "images; the oracle needs both groups"
            )

    def probabilities(self, images):
        if len(images) != len(self.rare):
            raise ValueError(
                f"the oracle knows {len(self.rare)} images; received "
                f"{len(images)}"
            )
        p = np.where(
            self.rare,
            self.share / self.rare.sum(),
            (1.0 - self.share) / (~self.rare).sum(),
        )
        return p / p.sum()


class ResampledTrainData:
    """Training batches whose target-class slots a sampler refills at the
    start of every epoch.

    A callable `(epoch, skip_batches) -> tf.data.Dataset` for `loops.fit`.
    Epoch e: a generator seeded by (seed, e) shuffles the split; with a
    sampler, another seeded by (seed, e, 1) draws `n_target` target-class
    indices with the sampler's probabilities (computed now, from the model
    as it is at the start of the epoch) into the target-class slots. With
    `cache_dir` the epoch's indices are written to cache_dir/epoch_EEEE.npz
    before training on them, so a resumed epoch trains on exactly the
    batches of the interrupted one.

    Args:
        split: the training `Split`.
        target_class: the indicator class.
        batch_size: examples per batch.
        sampler: `LatentRarity`, `Oracle`, or None (each image once).
        seed: the run's seed; the same for every arm of a comparison.
        map_fn: per-batch map (images, labels) -> batch.
        cache_dir: folder for the per-epoch indices, or None.
    """

    def __init__(
        self,
        split,
        target_class,
        batch_size,
        sampler=None,
        seed=0,
        map_fn=None,
        cache_dir=None,
    ):
        self.split, self.sampler = split, sampler
        self.batch_size = checks.positive_int("batch_size", batch_size)
        self.seed, self.map_fn = seed, map_fn
        self.cache_dir = pathlib.Path(cache_dir) if cache_dir else None
        self.positives = np.flatnonzero(split.y == target_class)
        if len(self.positives) == 0:
            raise ValueError(
                f"target_class={target_class!r} has no training images"
            )
        self.epochs = {}  # epoch -> {"indices", "probabilities"}

    def draw(self, epoch):
        """{"indices": (N,), "probabilities": (n_target,)} for `epoch`."""
        if epoch in self.epochs:
            return self.epochs[epoch]
        path = (
            self.cache_dir / f"epoch_{epoch:04d}.npz"
            if self.cache_dir
            else None
        )
        if path is not None and path.exists():
            with np.load(path) as saved:
                drawn = {k: saved[k] for k in ("indices", "probabilities")}
        else:
            drawn = self._draw(epoch)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.stem}.tmp.npz")
                np.savez(tmp, **drawn)
                tmp.replace(path)
        self.epochs[epoch] = drawn
        return drawn

    def _draw(self, epoch):
        n = len(self.positives)
        indices = np.random.default_rng([self.seed, epoch]).permutation(
            len(self.split.y)
        )
        if self.sampler is None:
            return {"indices": indices, "probabilities": np.full(n, 1 / n)}
        p = self.sampler.probabilities(self.split.x[self.positives])
        rng = np.random.default_rng([self.seed, epoch, 1])
        slots = np.isin(indices, self.positives)
        indices[slots] = self.positives[debias.draw_indices(p, n, rng)]
        return {"indices": indices, "probabilities": p}

    @property
    def steps_per_epoch(self):
        return -(-len(self.split.y) // self.batch_size)

    def __call__(self, epoch, skip_batches=0):
        import tensorflow as tf

        idx = self.draw(epoch)["indices"]
        ds = tf.data.Dataset.from_tensor_slices(
            (self.split.x[idx], self.split.y[idx])
        ).batch(self.batch_size)
        if self.map_fn is not None:
            ds = ds.map(self.map_fn)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds.skip(skip_batches) if skip_batches else ds


def report(data, rare):
    """What the draws did to a known rare group, for the report only.

    Args:
        data: a `ResampledTrainData` that has drawn its epochs.
        rare: (N,) bools over the whole training split, True for the
            rare group.

    Returns:
        [{"epoch", "rare_share_of_target_images", "rare_share_of_draw",
        "effective_sample_size", "rare_over_common_probability" (when both
        groups exist)}], one entry per drawn epoch.
    """
    rare = np.asarray(rare, bool)
    rare_target = rare[data.positives]  # (n_target,)
    log = []
    for epoch in sorted(data.epochs):
        drawn = data.draw(epoch)
        p = drawn["probabilities"]
        indices = drawn["indices"]
        picked = indices[np.isin(indices, data.positives)]
        entry = {
            "epoch": epoch,
            "rare_share_of_target_images": float(rare_target.mean()),
            "rare_share_of_draw": float(rare[picked].mean()),
            "effective_sample_size": debias.effective_sample_size(p),
        }
        if rare_target.any() and (~rare_target).any():
            # Mean probability of a rare image over that of a common one.
            entry["rare_over_common_probability"] = float(
                p[rare_target].mean() / p[~rare_target].mean()
            )
        log.append(entry)
    return log
