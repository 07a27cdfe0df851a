"""Generative models of section 7.4: autoencoders, VAEs and the DB-VAE.

    python -m experiments.train --model=ae --dataset=idx:../shared/data/mnist
    python -m experiments.train --model=vae --set likelihood=bernoulli
    python -m experiments.train --model=conv_vae --set latent_dim=2
    python -m experiments.train --model=dbvae --set target_class=7

Options (`--set KEY=VALUE`):

    ae, conv_ae   latent_dim (128), hidden_units (()), filters ((32, 64)),
                  noise (0.0: > 0 adds Gaussian noise to the inputs in
                  training, a denoising autoencoder)
    vae, conv_vae latent_dim (20), hidden_units ((128,)), filters,
                  beta (1.0), likelihood ("mse" or "bernoulli")
    dbvae         target_class (7: the indicator class, labelled 1 against
                  the rest), latent_dim (16), hidden_units, filters,
                  beta (1.0), likelihood ("mse"), vae_weight (0.01)

Each run writes PNG grids to its run directory and TensorBoard: inputs
next to reconstructions (reconstructions.png), for the denoising AE the
noisy inputs next to their reconstructions (denoising.png), for the VAEs
samples from the prior (samples.png), an interpolation between two test
images (interpolation.png) and, with latent_dim=2, the decoded manifold
(manifold.png). The `--model=dbvae` run redraws its batches each epoch by
latent rarity (`experiments.resampling.ResampledTrainData`).
"""

import statistics

import numpy as np

from experiments import images
from experiments.registry import ModelSpec, register
from keras_cheats.models import autoencoder, dbvae, vae

AE_KEYS = ("latent_dim", "hidden_units", "filters", "noise")
VAE_KEYS = ("latent_dim", "hidden_units", "filters", "beta", "likelihood")
DBVAE_KEYS = (*VAE_KEYS, "target_class", "vae_weight")


def _options(config):
    """`config.options` (keys checked by `experiments.train.Config`), a
    single number for a tuple option read as a 1-tuple."""
    options = dict(config.options)
    for key in ("hidden_units", "filters"):  # --set hidden_units=400
        if isinstance(options.get(key), int):
            options[key] = (options[key],)
    return options


def _pick(options, keys):
    return {k: options[k] for k in keys if k in options}


def _reconstruction_targets(images_, labels):
    return images_, images_


def _write(run_dir, name, picture_grid):
    """PNG in the run directory plus a TensorBoard image summary."""
    images.save_png(run_dir / f"{name}.png", picture_grid)
    images.summary_image(run_dir, name, picture_grid)


def _write_reconstructions_and_samples(model, x, run_dir, config):
    """Inputs beside reconstructions (up to 16), and 64 prior samples."""
    n = min(16, len(x))
    if n:
        recon = np.asarray(model.reconstruct(x[:n]))
        _write(
            run_dir,
            "reconstructions",
            images.grid(images.side_by_side(x, recon, n), columns=8),
        )
    samples = np.asarray(model.sample(64, seed=config.seed))
    _write(run_dir, "samples", images.grid(samples, columns=8))


# --- autoencoders (7.4.1) --------------------------------------------------


def _ae_builder(kind):
    def build(info, config):
        options = _options(config)
        return autoencoder.build_autoencoder(
            info.image_shape,
            autoencoder.AutoencoderConfig(
                kind=kind,
                **_pick(options, ("latent_dim", "hidden_units", "filters")),
                noise=float(options.get("noise", 0.0)),
            ),
        )

    return build


def _ae_after(model, data, run_dir, config):
    x = data.test.split.x
    n = min(16, len(x))
    recon = np.asarray(model(x[:n], training=False))
    _write(
        run_dir,
        "reconstructions",
        images.grid(images.side_by_side(x, recon, pairs=n), columns=8),
    )
    noise = float(config.options.get("noise", 0.0))
    if noise > 0:
        rng = np.random.default_rng(config.seed)
        noisy = (x[:n] + rng.normal(0.0, noise, x[:n].shape)).astype("float32")
        cleaned = np.asarray(model(noisy, training=False))
        _write(
            run_dir,
            "denoising",
            images.grid(
                images.side_by_side(np.clip(noisy, 0, 1), cleaned, pairs=n),
                columns=8,
            ),
        )
    errors = autoencoder.reconstruction_error(model, x)
    # The cheat sheet's L_AE = ||x - x'||^2 per image (the loss is per pixel).
    return {"squared_error": float(errors.mean() * np.prod(x.shape[1:]))}


def _mse(info, config):
    import keras

    return keras.losses.MeanSquaredError()


for _name, _kind, _desc in (
    ("ae", "mlp", "autoencoder 784-128-784 (ReLU, sigmoid output, MSE)"),
    ("conv_ae", "conv", "convolutional autoencoder (Conv2DTranspose)"),
):
    register(
        _name,
        ModelSpec(
            section="7.4.1",
            description=_desc + "; --set noise=0.3 for denoising",
            build=_ae_builder(_kind),
            loss=_mse,
            prepare=_reconstruction_targets,
            after_training=_ae_after,
            headline="loss",
            options=AE_KEYS,
        ),
    )


# --- variational autoencoders (7.4.2) --------------------------------------


def _vae_builder(kind):
    def build(info, config):
        options = _options(config)
        return vae.build_vae(
            info.image_shape,
            vae.VAEConfig(
                kind=kind,
                **_pick(options, ("latent_dim", "hidden_units", "filters")),
                seed=config.seed,
            ),
        )

    return build


def _vae_loss(info, config):
    options = _options(config)
    return vae.VAELoss(
        beta=float(options.get("beta", 1.0)),
        likelihood=options.get("likelihood", "mse"),
    )


def _vae_metrics(info, config):
    return vae.vae_metrics(config.options.get("likelihood", "mse"))


def manifold(model, size=20):
    """Decodes a size x size grid of 2-D codes at Gaussian quantiles.

    Row r, column c decodes z = (Phi^-1(q_c), Phi^-1(q_r)) with q evenly
    spaced in (0, 1), as in Kingma and Welling 2014, figure 4.

    Returns:
        Array (size * size, H, W, C) in [0, 1], row by row.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"manifold needs latent_dim=2; the model has {model.latent_dim}"
        )
    normal = statistics.NormalDist()
    q = [normal.inv_cdf((i + 0.5) / size) for i in range(size)]
    z = np.array([(a, b) for b in reversed(q) for a in q], np.float32)
    return np.asarray(model.decode(z))


def _vae_after(model, data, run_dir, config):
    x, y = data.test.split.x, data.test.split.y
    _write_reconstructions_and_samples(model, x, run_dir, config)
    other = (
        int(np.argmax(y != y[0])) if np.any(y != y[0]) else min(1, len(x) - 1)
    )
    _write(
        run_dir,
        "interpolation",
        images.grid(np.asarray(model.interpolate(x[0], x[other], 10)), 10),
    )
    if model.latent_dim == 2:
        _write(run_dir, "manifold", images.grid(manifold(model), columns=20))
    return {}


for _name, _kind, _desc in (
    (
        "vae",
        "mlp",
        "VAE 784-128-(20, 20)-128-784, loss reconstruction + beta KL",
    ),
    ("conv_vae", "conv", "convolutional VAE (Conv2D / Conv2DTranspose)"),
):
    register(
        _name,
        ModelSpec(
            section="7.4.2",
            description=_desc
            + "; --set latent_dim=2 --set beta=1 --set likelihood=bernoulli",
            build=_vae_builder(_kind),
            loss=_vae_loss,
            metrics=_vae_metrics,
            prepare=_reconstruction_targets,
            after_training=_vae_after,
            headline="loss",
            options=VAE_KEYS,
        ),
    )


# --- DB-VAE ----------------------------------------------------------------

DBVAE_DEFAULTS = {"target_class": 7, "vae_weight": 0.01, "beta": 1.0}


def _dbvae_options(config):
    return {**DBVAE_DEFAULTS, **_options(config)}


def _dbvae_build(info, config):
    options = _dbvae_options(config)
    return dbvae.build_dbvae(
        info.image_shape,
        dbvae.DBVAEConfig(
            **_pick(options, ("latent_dim", "hidden_units", "filters")),
            seed=config.seed,
        ),
    )


def _dbvae_train_data(model, data, run_dir, config):
    """Adaptive resampling: each epoch's batches drawn by the encoder."""
    from experiments.resampling import LatentRarity, ResampledTrainData

    return ResampledTrainData(
        data.train.split,
        _dbvae_options(config)["target_class"],
        config.batch_size,
        sampler=LatentRarity(model),
        seed=config.seed,
        map_fn=dbvae.dbvae_targets,
        cache_dir=run_dir / "resampling",
    )


def _dbvae_loss(info, config):
    options = _dbvae_options(config)
    return dbvae.DBVAELoss(
        target_class=int(options["target_class"]),
        beta=float(options["beta"]),
        likelihood=options.get("likelihood", "mse"),
        vae_weight=float(options["vae_weight"]),
    )


def _dbvae_metrics(info, config):
    target = int(_dbvae_options(config)["target_class"])
    return [dbvae.IndicatorAccuracy(target, name="accuracy")]


def _dbvae_after(model, data, run_dir, config):
    target = int(_dbvae_options(config)["target_class"])
    split = data.test.split
    x = split.x[split.y == target]
    probability = np.asarray(model.classify(split.x))
    guess = probability > 0.5
    truth = split.y == target
    _write_reconstructions_and_samples(model, x, run_dir, config)
    return {
        "accuracy_target_class": float(np.mean(guess[truth]))
        if truth.any()
        else float("nan"),
        "accuracy_other_classes": float(np.mean(~guess[~truth]))
        if (~truth).any()
        else float("nan"),
    }


register(
    "dbvae",
    ModelSpec(
        section="7.4.2",
        description="DB-VAE: target_class vs rest, VAE loss on the target "
        "class only, batches resampled each epoch by latent rarity",
        build=_dbvae_build,
        loss=_dbvae_loss,
        metrics=_dbvae_metrics,
        prepare=dbvae.dbvae_targets,
        train_data=_dbvae_train_data,
        after_training=_dbvae_after,
        headline="accuracy",
        options=DBVAE_KEYS,
    ),
)
