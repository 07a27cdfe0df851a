"""`--model=ddpm` (section 7.4.4): the noise-prediction task, sample grids
and the judge's scores."""

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments import registry, train
from experiments.data import DatasetInfo
from experiments.zoo import diffusion
from keras_cheats.models.diffusion import NoiseSchedule, diffusion_loss
from keras_cheats.models.diffusion_unet import DenoiserConfig, build_denoiser

_TINY = DenoiserConfig(channels=(8, 16), time_dim=8, groups=4)


def _config(**options):
    return train.Config(model="ddpm", verbose=0, options=options)


def test_registered_with_section_headline_and_options():
    spec = registry.get("ddpm")
    assert spec.section == "7.4.4" and spec.headline == "classifier_score"
    info = DatasetInfo("fake", (28, 28, 1), 10, 1, 1)
    model = spec.build(info, _config(base_channels=8, levels=3))
    assert tuple(model.get_layer("middle").output.shape) == (None, 7, 7, 32)
    assert diffusion.ddpm_options(_config())["timesteps"] == 1000


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"timesteps": 0}, "timesteps=0"),
        ({"levels": True}, "levels=True"),
        ({"schedule": "quadratic"}, "schedule='quadratic'"),
        ({"timesteps": 10, "sampling_steps": 11}, "sampling_steps=11"),
        ({"ancestral_samples": -1}, "ancestral_samples=-1"),
    ],
)
def test_bad_options_name_the_value(options, match):
    with pytest.raises(ValueError, match=match):
        diffusion.ddpm_options(_config(**options))


def test_draws_are_a_function_of_seed_and_step():
    t, eps = diffusion._draws((500, 2, 2, 1), 7, seed=0, step=5)
    t2, eps2 = diffusion._draws((500, 2, 2, 1), 7, 0, 5)
    np.testing.assert_array_equal(t, t2)
    np.testing.assert_array_equal(eps, eps2)
    assert set(np.asarray(t).tolist()) == set(range(7))  # U{0..T-1}
    for other in (diffusion._draws((500, 2, 2, 1), 7, 1, 5),
                  diffusion._draws((500, 2, 2, 1), 7, 0, 6)):  # fmt: skip
        assert not np.allclose(eps, other[1])


def test_step_reports_the_batch_mean_of_l_simple_and_the_loss_falls():
    keras.utils.set_random_seed(0)
    model = build_denoiser((8, 8, 1), _TINY)
    task = diffusion.diffusion_task(model, None, _config(timesteps=100))
    optimizer = keras.optimizers.Adam(3e-3)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(16, 8, 8, 1)).astype("float32")
    # The loss the first step must report: its own draws, before the update.
    t, eps = diffusion._draws(images.shape, 100, 0, 0)
    x_t = NoiseSchedule(100).q_sample(2 * images - 1, t, eps)
    expected = np.mean(diffusion_loss(eps, model([x_t, t])))
    step = tf.function(lambda x: task.train_step(model, optimizer, x))
    losses = [float(step(images)["loss"]) for _ in range(60)]
    assert losses[0] == pytest.approx(float(expected), rel=1e-5)
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])


@pytest.mark.slow
def test_cli_on_digits_writes_grids_and_scores(tmp_path):
    run = tmp_path / "run"
    sets = dict(
        timesteps=20,
        grid_steps=4,
        sampling_steps=5,
        ancestral_samples=8,
        score_samples=64,
        judge_steps=30,
        base_channels=8,
    )
    command = [
        sys.executable,
        "-m",
        "experiments.train",
        "--model=ddpm",
        "--dataset=digits",
        "--epochs=1",
        "--verbose=0",
        f"--model_dir={run}",
    ] + [f"--set={k}={v}" for k, v in sets.items()]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test classifier_score: " in out.stdout
    for name in ("samples_epoch_001", "samples_ddim", "samples_ancestral"):
        grid = tf.io.decode_png((run / f"{name}.png").read_bytes())
        n = 8 if name == "samples_ancestral" else 64
        assert grid.shape == (-(-n // 8) * 9 + 1, 73, 1), name
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert 1.0 <= test["classifier_score"] <= 10.0
    assert 0.0 <= test["confident_share"] <= 1.0
    assert 0.0 <= test["class_histogram_entropy"] <= math.log(10) + 1e-9
    shares = [test[f"class_share_{k}"] for k in range(10)]
    assert sum(shares) == pytest.approx(1.0)
    assert test["judge_accuracy"] > 0.5  # the judge is a real classifier
    assert test["ddim_seconds_per_sample"] > 0
    assert test["ancestral_seconds_per_sample"] > 0
    assert math.isfinite(test["loss"])
