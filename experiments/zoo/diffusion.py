r"""The DDPM (section 7.4.4) for `experiments.train`.

    python -m experiments.train --model=ddpm \
        --dataset=idx:../shared/data/mnist --epochs=8 \
        --set base_channels=16 --set levels=3 --set ancestral_samples=16

Each training step draws, per example, a time index t ~ U{0..T-1} and
noise eps ~ N(0, I) (stateless: a pure function of the seed, the step
and the replica, so a resumed run draws the same), forms
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps with x_0 the
image scaled to [-1, 1], and descends L_simple = ||eps - eps_theta(x_t,
t)||^2 / D (`keras_cheats.models.diffusion`). The model is the U-Net of
`keras_cheats.models.diffusion_unet`; the optimizer comes from the
`--optimizer`, `--learning_rate` and `--lr_schedule` flags.

Run directory: `samples_epoch_XXX.png` after every epoch (DDIM with
`grid_steps` steps from one fixed batch of 64 noise images),
`samples_ddim.png` (DDIM, `sampling_steps` steps) and
`samples_ancestral.png` (Ho et al.'s Algorithm 2, all T steps, the first
`ancestral_samples` of the same noise) after training.

Test metrics: `loss` (L_simple on the test images, the same (t, eps)
draws for every batch and epoch), the judge's figures of
`experiments.sample_quality` over `score_samples` DDIM samples (headline
`classifier_score`, `confident_share`, `class_histogram_entropy`,
`class_share_k`; `judge_accuracy` and the `_real` values of the real test
images), and the sampling time per image, `ddim_seconds_per_sample` and
`ancestral_seconds_per_sample`.

Options (`--set`): `timesteps=1000` (T), `schedule="linear"` (or
"cosine"), `base_channels=32` and `levels=2` (U-Net channels 32, 64),
`sampling_steps=50` (DDIM steps for scoring and `samples_ddim.png`),
`grid_steps=10` (per-epoch grids), `ancestral_samples=64` (0: no
ancestral grid), `score_samples=1000`, `judge_steps=500`.
"""

import pathlib
import time

import numpy as np
import tensorflow as tf

import loops
from experiments import images, sample_quality
from experiments.registry import ModelSpec, register
from keras_cheats import checks
from keras_cheats.models import diffusion_sampling as sampling
from keras_cheats.models.diffusion import (
    SCHEDULES,
    NoiseSchedule,
    diffusion_loss,
    to_model_range,
    to_pixels,
)
from keras_cheats.models.diffusion_unet import DenoiserConfig, build_denoiser
from loops.scaling import global_batch_size

OPTIONS = {
    "timesteps": 1000,
    "schedule": "linear",
    "base_channels": 32,
    "levels": 2,
    "sampling_steps": 50,
    "grid_steps": 10,
    "ancestral_samples": 64,
    "score_samples": 1000,
    "judge_steps": 500,
}
GRID_SIZE = 64  # fixed noise images drawn in each sample grid
_MINIMUM = {"ancestral_samples": 0}  # every other integer option: >= 1


def ddpm_options(config):
    """The `--set` options of `--model=ddpm`, defaults filled in and
    checked (the keys are checked by `experiments.train.Config`)."""
    options = {**OPTIONS, **config.options}
    for name, default in OPTIONS.items():
        if isinstance(default, int):
            checks.integer(
                f"--set {name}", options[name], _MINIMUM.get(name, 1)
            )
    if options["schedule"] not in SCHEDULES:
        raise ValueError(
            f"--set schedule={options['schedule']!r}; expected one of "
            f"{', '.join(SCHEDULES)}"
        )
    for name in ("sampling_steps", "grid_steps"):
        if options[name] > options["timesteps"]:
            raise ValueError(
                f"--set {name}={options[name]}; expected at most "
                f"timesteps={options['timesteps']}"
            )
    return options


def schedule_of(config):
    options = ddpm_options(config)
    return NoiseSchedule(options["timesteps"], options["schedule"])


def _draws(shape, timesteps, seed, step):
    """(t (B,) int32 ~ U{0..T-1}, eps ~ N(0, I) of `shape`), a pure function
    of (seed, step, replica): resumed runs draw the same; replicas differ."""
    ctx = tf.distribute.get_replica_context()
    replica = 0 if ctx is None else ctx.replica_id_in_sync_group
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    keys = [
        tf.random.experimental.stateless_fold_in(
            key, tf.cast(replica, tf.int64) * 2 + stream
        )
        for stream in (0, 1)
    ]
    t = tf.random.stateless_uniform(
        shape[:1], keys[0], minval=0, maxval=timesteps, dtype=tf.int32
    )
    return t, tf.random.stateless_normal(shape, keys[1])


def diffusion_task(model, info, config, seed=None):
    """The DDPM step as a `loops.Task` (Cheat sheet 7.4.4).

    Args:
      model: the denoiser, [x_t, t] -> eps.
      info: the `DatasetInfo` (unused; the registry's signature).
      config: the run's `Config`; `config.seed` seeds t and eps.
      seed: overrides `config.seed`.

    Returns:
      A `loops.Task` on batches of images (B, H, W, C) in [0, 1]; steps
      return {"loss": this replica's share of the batch mean of L_simple}.
    """
    del info, model
    seed = config.seed if seed is None else seed
    schedule = schedule_of(config)
    timesteps = schedule.timesteps

    def loss_share(model, images, step, training):
        x0 = to_model_range(images)
        t, eps = _draws(tf.shape(x0), timesteps, seed, step)
        x_t = schedule.q_sample(x0, t, eps)
        predicted = model([x_t, t], training=training)
        n_global = global_batch_size(tf.shape(x0)[0])
        return tf.reduce_sum(diffusion_loss(eps, predicted)) / n_global

    def train_step(model, optimizer, images):
        with tf.GradientTape() as tape:
            loss = loss_share(
                model, images, optimizer.iterations, True
            ) + loops.regularization_loss(model)
            scaled = optimizer.scale_loss(loss)
        variables = model.trainable_variables
        optimizer.apply_gradients(
            zip(tape.gradient(scaled, variables), variables)
        )
        return {"loss": loss}

    def test_step(model, images):
        return {"loss": loss_share(model, images, -1, False)}

    return loops.Task(train_step=train_step, test_step=test_step)


def fixed_noise(image_shape, seed, n=GRID_SIZE):
    """The (n, H, W, C) x_T every sample grid of a run starts from."""
    rng = np.random.default_rng([seed, 743])
    return rng.standard_normal((n, *image_shape)).astype(np.float32)


def generate(model, schedule, noise, steps=None, seed=0, batch_size=250):
    """Pixels in [0, 1] sampled from x_T = `noise` in batches: DDIM with
    `steps` steps (eta = 0), or ancestral sampling when `steps` is None;
    both clip x0_hat to [-1, 1] at each step (Ho et al.'s code does)."""
    predict = sampling.noise_predictor(model)
    out = []
    for i in range(0, len(noise), batch_size):
        x_T = noise[i : i + batch_size]
        if steps is None:
            x = sampling.ancestral_sample(
                predict, schedule, x_T, seed + i, clip=True
            )
        else:
            x = sampling.ddim_sample(predict, schedule, x_T, steps, clip=True)
        out.append(np.asarray(to_pixels(x)))
    return np.concatenate(out)


def sample_callbacks(model, run_dir, config):
    """A sample grid each epoch: DDIM with `grid_steps` steps from the
    run's fixed noise."""
    noise = fixed_noise(model.input_shape[0][1:], config.seed)
    steps = ddpm_options(config)["grid_steps"]
    schedule = schedule_of(config)
    return [
        images.EpochGrid(
            run_dir, lambda ddpm: generate(ddpm, schedule, noise, steps)
        )
    ]


def _timed(fn, n):
    start = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - start) / max(n, 1)


def after_training(model, data, run_dir, config):
    """The final DDIM and ancestral grids, then the judge's scores of
    `score_samples` DDIM samples (see the module doc)."""
    options = ddpm_options(config)
    schedule = schedule_of(config)
    run_dir = pathlib.Path(run_dir)
    noise = fixed_noise(data.info.image_shape, config.seed)
    steps = options["sampling_steps"]
    grid = images.grid(generate(model, schedule, noise, steps), 8)
    images.save_png(run_dir / "samples_ddim.png", grid)
    images.summary_image(run_dir, "final_samples_ddim", grid)
    metrics = {}
    n = options["ancestral_samples"]
    if n:
        samples, metrics["ancestral_seconds_per_sample"] = _timed(
            lambda: generate(model, schedule, noise[:n], seed=config.seed), n
        )
        grid = images.grid(samples, 8)
        images.save_png(run_dir / "samples_ancestral.png", grid)
        images.summary_image(run_dir, "final_samples_ancestral", grid)

    judge = sample_quality.train_judge(
        data.train.split, data.info, config, options["judge_steps"]
    )
    n = options["score_samples"]
    scored = np.random.default_rng([config.seed, 919]).standard_normal(
        (n, *data.info.image_shape)
    )
    generated, metrics["ddim_seconds_per_sample"] = _timed(
        lambda: generate(model, schedule, scored.astype(np.float32), steps), n
    )
    return {
        **sample_quality.judge_report(judge, generated, data.test.split),
        **metrics,
    }


def _build(info, config):
    options = ddpm_options(config)
    base, levels = options["base_channels"], options["levels"]
    return build_denoiser(
        info.image_shape,
        DenoiserConfig(
            channels=tuple(base * 2**i for i in range(levels)),
            time_dim=2 * base,
        ),
    )


register(
    "ddpm",
    ModelSpec(
        section="7.4.4",
        description="DDPM: a U-Net learns the noise of x_t; ancestral and "
        "DDIM sampling, sample grids; headline: classifier score; --set "
        "timesteps=1000",
        build=_build,
        prepare=lambda x, y: x,
        task=diffusion_task,
        callbacks=sample_callbacks,
        after_training=after_training,
        headline="classifier_score",
        options=tuple(OPTIONS),
    ),
)
