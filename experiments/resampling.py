"""The DB-VAE's adaptive resampling as training data (cheat sheet 7.4.2).

    data = ResampledTrainData(split, model, target_class=7, batch_size=64,
                              cache_dir=run_dir / "resampling")
    loops.fit(model, optimizer, task, data, ...)   # redrawn every epoch
    log = report(data, rare, bins=10, smoothing=1e-3)

`keras_cheats.debias` turns the latent means of the target-class images
into sampling probabilities; `ResampledTrainData` redraws each epoch's
batches with them, from the encoder as it is at the start of that epoch.
`report` says what the draws did to a known rare subgroup (for the
report only: the draws never see it).
"""

import pathlib

import numpy as np


class ResampledTrainData:
    """The DB-VAE's training batches, redrawn at the start of every epoch.

    A callable `(epoch, skip_batches) -> tf.data.Dataset` for `loops.fit`.
    For epoch e it encodes the target-class training images with the
    model's current encoder, computes `sampling_probabilities` from their
    latent means, and draws as many target-class indices (with
    replacement) as there are target-class images; the other images each
    appear once. A generator seeded by (seed, e) draws and shuffles, and
    with `cache_dir` the epoch's indices are written to
    cache_dir/epoch_EEEE.npz before training on them, so a resumed epoch
    trains on exactly the batches of the interrupted one.

    Args:
        split: the training `Split`.
        model: a `DBVAE` (anything with `encode(images) -> (mean, _)`).
        target_class: the indicator class.
        batch_size: examples per batch.
        seed: the run's seed.
        bins, smoothing, combine: see `sampling_probabilities`.
        map_fn: per-batch map (images, labels) -> batch.
        cache_dir: folder for the per-epoch indices, or None.
    """

    def __init__(
        self,
        split,
        model,
        target_class,
        batch_size,
        seed=0,
        bins=10,
        smoothing=1e-3,
        combine="max",
        map_fn=None,
        cache_dir=None,
    ):
        self.split, self.model = split, model
        self.batch_size, self.seed = batch_size, seed
        self.bins, self.smoothing, self.combine = bins, smoothing, combine
        self.map_fn = map_fn
        self.cache_dir = pathlib.Path(cache_dir) if cache_dir else None
        self.positives = np.flatnonzero(split.y == target_class)
        self.negatives = np.flatnonzero(split.y != target_class)
        if len(self.positives) == 0:
            raise ValueError(
                f"target_class={target_class!r} has no training images"
            )
        self.epochs = {}  # epoch -> {"indices", "probabilities"}

    def latent_means(self, batch_size=1000):
        """Means of q(z | x), (n_target, d), of the target-class images."""
        x = self.split.x[self.positives]
        means = [
            np.asarray(self.model.encode(x[i : i + batch_size])[0])
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(means).astype(np.float64)

    def draw(self, epoch):
        """{"indices": (N,), "probabilities": (n_target,)} for `epoch`."""
        from keras_cheats import debias

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
            p = debias.sampling_probabilities(
                self.latent_means(), self.bins, self.smoothing, self.combine
            )
            rng = np.random.default_rng([self.seed, epoch])
            picks = self.positives[
                debias.draw_indices(p, len(self.positives), rng)
            ]
            indices = rng.permutation(np.concatenate([self.negatives, picks]))
            drawn = {"indices": indices, "probabilities": p}
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.stem}.tmp.npz")
                np.savez(tmp, **drawn)
                tmp.replace(path)
        self.epochs[epoch] = drawn
        return drawn

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


def report(resampler, rare, bins, smoothing):
    """What the draws did to a known rare subgroup, for the report only.

    Args:
        resampler: a `ResampledTrainData` that has drawn its epochs.
        rare: (N,) bools over the whole training split, True for the
            rare subgroup.
        bins, smoothing: of the final-encoder comparison below.

    Returns:
        {"per_epoch": [{"epoch", "rare_share_of_target_images",
        "rare_share_of_draw", "effective_sample_size",
        "rare_over_common_probability" (when both groups exist)}],
        "final_encoder": {combine: {"effective_sample_size",
        "rare_probability_mass", "largest_probability"}}}, the latter for
        both combination rules on the encoder as it is now.
    """
    from keras_cheats import debias

    rare = np.asarray(rare, bool)
    rare_target = rare[resampler.positives]  # (n_target,)
    log = []
    for epoch in sorted(resampler.epochs):
        drawn = resampler.draw(epoch)
        p = drawn["probabilities"]
        indices = drawn["indices"]
        picked = indices[np.isin(indices, resampler.positives)]
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
    means = resampler.latent_means()
    final = {}
    for combine in debias.COMBINES:
        p = debias.sampling_probabilities(means, bins, smoothing, combine)
        final[combine] = {
            "effective_sample_size": debias.effective_sample_size(p),
            "rare_probability_mass": float(p[rare_target].sum()),
            "largest_probability": float(p.max()),
        }
    return {"per_epoch": log, "final_encoder": final}
