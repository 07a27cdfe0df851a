r"""The DCGAN (section 7.4.3) for `experiments.train`.

    python -m experiments.train --model=dcgan \
        --dataset=idx:../shared/data/mnist --epochs=20

A GAN is the classic reason for a custom training step: each batch makes
two gradient steps on two sub-models with two optimizers, the
discriminator's (ascend log D(x) + log(1 - D(G(z)))) and then the
generator's (descend -log D(G(z))), each under its own GradientTape.
`gan_task` writes that step as a `loops.Task`; `loops.fit` runs it like
any other (compiled, distributed, checkpointed, resumable).

Run directory: `samples_epoch_XXX.png` after every epoch, from one fixed
batch of 64 latent vectors (so the grids show one generator learning),
`samples.png` and a TensorBoard image after training.

Test metrics: `d_loss`, `g_loss` and `d_accuracy` (the discriminator's
accuracy on real test images against as many generated ones: near 1 when
it wins easily, near 0.5 when it cannot tell them apart), and the headline
`classifier_score`: exp(E_x KL(p(y|x) || p(y))) of a small CNN "judge"
trained on the real training split, over generated images (Salimans et
al. 2016's Inception score with an MNIST classifier). It lies in
[1, num_classes]: high when the samples are confidently classified
digits (sharp p(y|x)) of every class (broad p(y)). Beside it, from the
same judge (`experiments.sample_quality`, shared with `--model=ddpm`):
`confident_share` (samples with max p(y|x) > 0.9), the judge's class
histogram of the samples (`class_share_k`) and its entropy
`class_histogram_entropy` (log 10 = 2.303 when all ten digits appear
equally often); the `_real` figures are the judge's on the real test
images, the values to compare with, and `judge_accuracy` its accuracy.

Options (`--set`): `latent_dim=100`, `learning_rate=2e-4` and
`beta_1=0.5` (Adam, as in DCGAN; the `--learning_rate` flag is not used),
`judge_steps=500` (the judge trains for at least this many batches),
`score_samples=1000` (generated images scored).
"""

import pathlib

import keras
import numpy as np
import tensorflow as tf

import loops
from experiments import images, sample_quality
from experiments.registry import ModelSpec, register
from keras_cheats.models.dcgan import (
    DCGAN,
    DCGANConfig,
    discriminator_loss,
    generator_loss,
)
from loops.scaling import global_batch_size

OPTIONS = {
    "latent_dim": 100,
    "learning_rate": 2e-4,
    "beta_1": 0.5,
    "judge_steps": 500,
    "score_samples": 1000,
}
GRID_SIZE = 64  # fixed latent vectors drawn in each sample grid


def gan_options(config):
    """The `--set` options of `--model=dcgan`, defaults filled in (the
    keys are checked by `experiments.train.Config`)."""
    options = {**OPTIONS, **config.options}
    for name in ("judge_steps", "score_samples"):
        value = options[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"--set {name}={value!r}; expected an integer >= 1"
            )
    return options


def _noise(n, latent_dim, seed, step, stream):
    """z ~ N(0, I), (n, latent_dim), a pure function of (seed, step, stream,
    replica): a resumed run draws the same noise, and replicas differ."""
    ctx = tf.distribute.get_replica_context()
    replica = 0 if ctx is None else ctx.replica_id_in_sync_group
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(
        key, tf.cast(replica, tf.int64) * 2 + stream
    )
    return tf.random.stateless_normal((n, latent_dim), seed=key)


def _logits(x):
    return tf.cast(x, tf.float32)  # float32 losses under mixed precision


def _share(per_example, n_global):
    """This replica's share of the global-batch mean (loops.scaling)."""
    return tf.reduce_sum(per_example) / n_global


def _update_accuracy(metric, real_logits, fake_logits):
    labels = tf.concat(
        [tf.ones_like(real_logits), tf.zeros_like(fake_logits)], axis=0
    )
    metric.update_state(labels, tf.concat([real_logits, fake_logits], axis=0))


def gan_task(model, info, config, seed=None):
    """The two-tape GAN step as a `loops.Task` (Cheat sheet 7.4.3).

    Args:
      model: a `DCGAN` (attributes `generator`, `discriminator`,
        `latent_dim`).
      info: the `DatasetInfo` (unused; the registry's signature).
      config: the run's `Config`; `config.seed` seeds the noise.
      seed: overrides `config.seed`.

    Returns:
      A `loops.Task` on batches of real images (B, H, W, C) in [0, 1],
      trained with a dict of optimizers {"generator", "discriminator"};
      steps return {"d_loss", "g_loss"}, and `d_accuracy` is its metric.
    """
    del info
    seed = config.seed if seed is None else seed
    latent_dim = model.latent_dim
    d_accuracy = keras.metrics.BinaryAccuracy(name="d_accuracy", threshold=0)

    def train_step(model, optimizer, real):
        n = tf.shape(real)[0]
        n_global = global_batch_size(n)
        d_opt, g_opt = optimizer["discriminator"], optimizer["generator"]
        step = d_opt.iterations
        # 1. Discriminator: descend L_D = -log D(x) - log(1 - D(G(z))).
        z = _noise(n, latent_dim, seed, step, stream=0)
        with tf.GradientTape() as tape:
            fake = model.generator(z, training=True)
            real_logits = _logits(model.discriminator(real, training=True))
            fake_logits = _logits(model.discriminator(fake, training=True))
            d_loss = _share(
                discriminator_loss(real_logits, fake_logits), n_global
            ) + loops.regularization_loss(model.discriminator)
            scaled = d_opt.scale_loss(d_loss)
        d_vars = model.discriminator.trainable_variables
        d_opt.apply_gradients(zip(tape.gradient(scaled, d_vars), d_vars))
        _update_accuracy(d_accuracy, real_logits, fake_logits)
        # 2. Generator: descend L_G = -log D(G(z)) with fresh noise; only
        # the generator's variables move.
        z = _noise(n, latent_dim, seed, step, stream=1)
        with tf.GradientTape() as tape:
            fake_logits = _logits(
                model.discriminator(
                    model.generator(z, training=True), training=True
                )
            )
            g_loss = _share(
                generator_loss(fake_logits), n_global
            ) + loops.regularization_loss(model.generator)
            scaled = g_opt.scale_loss(g_loss)
        g_vars = model.generator.trainable_variables
        g_opt.apply_gradients(zip(tape.gradient(scaled, g_vars), g_vars))
        return {"d_loss": d_loss, "g_loss": g_loss}

    def test_step(model, real):
        n = tf.shape(real)[0]
        n_global = global_batch_size(n)
        z = tf.random.normal((n, latent_dim))
        fake = model.generator(z, training=False)
        real_logits = _logits(model.discriminator(real, training=False))
        fake_logits = _logits(model.discriminator(fake, training=False))
        _update_accuracy(d_accuracy, real_logits, fake_logits)
        return {
            "d_loss": _share(
                discriminator_loss(real_logits, fake_logits), n_global
            ),
            "g_loss": _share(generator_loss(fake_logits), n_global),
        }

    return loops.Task(
        train_step=train_step, test_step=test_step, metrics=(d_accuracy,)
    )


def gan_optimizers(model, config, steps_per_epoch=None):
    """{"generator": Adam, "discriminator": Adam}, DCGAN's 2e-4, beta_1 0.5."""
    del steps_per_epoch  # constant rates
    options = gan_options(config)

    def adam():
        return keras.optimizers.Adam(
            learning_rate=options["learning_rate"], beta_1=options["beta_1"]
        )

    return {"generator": adam(), "discriminator": adam()}


def fixed_latent(latent_dim, seed, n=GRID_SIZE):
    """The (n, latent_dim) noise every sample grid of a run is drawn from."""
    rng = np.random.default_rng([seed, 743])
    return rng.standard_normal((n, latent_dim)).astype(np.float32)


def sample_callbacks(model, run_dir, config):
    """A sample grid each epoch, from the run's fixed latents."""
    latent = fixed_latent(model.latent_dim, config.seed)
    return [
        images.EpochGrid(
            run_dir, lambda gan: gan.generator(latent, training=False)
        )
    ]


def _generate(model, n, seed, batch_size=256):
    z = np.random.default_rng([seed, 919]).standard_normal(
        (n, model.latent_dim)
    )
    return np.concatenate(
        [
            np.asarray(
                model.generator(
                    z[i : i + batch_size].astype(np.float32), training=False
                )
            )
            for i in range(0, n, batch_size)
        ]
    )


def after_training(model, data, run_dir, config):
    """Final sample grid, then the judge's scores (see the module doc)."""
    options = gan_options(config)
    run_dir = pathlib.Path(run_dir)
    latent = fixed_latent(model.latent_dim, config.seed)
    samples = np.asarray(model.generator(latent, training=False))
    grid = images.grid(samples, 8)
    images.save_png(run_dir / "samples.png", grid)
    images.summary_image(run_dir, "final_samples", grid)

    judge = sample_quality.train_judge(
        data.train.split, data.info, config, options["judge_steps"]
    )
    generated = _generate(model, options["score_samples"], config.seed)
    return sample_quality.judge_report(judge, generated, data.test.split)


def _build(info, config):
    options = gan_options(config)
    return DCGAN(
        info.image_shape, DCGANConfig(latent_dim=options["latent_dim"])
    )


register(
    "dcgan",
    ModelSpec(
        section="7.4.3",
        description="DCGAN: two optimizers, two tapes per step, sample "
        "grids; headline: classifier score; --set latent_dim=100",
        build=_build,
        prepare=lambda x, y: x,
        task=gan_task,
        optimizer=gan_optimizers,
        callbacks=sample_callbacks,
        after_training=after_training,
        headline="classifier_score",
        options=tuple(OPTIONS),
    ),
)
