"""experiments.random_labels: the corrupted labels, the random pixels, the
chart, and the experiment run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import limits_charts, random_labels
from tests.conftest import REPO


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_corruption_relabels_exactly_the_share(share, seed):
    labels = np.random.default_rng(seed + 100).integers(0, 10, 1003)
    before = labels.copy()
    new, relabelled = random_labels.corrupt_labels(labels, share, 10, seed)
    assert relabelled.sum() == round(share * 1003)
    np.testing.assert_array_equal(new[~relabelled], labels[~relabelled])
    np.testing.assert_array_equal(labels, before)  # the input is untouched
    assert new.min() >= 0 and new.max() <= 9
    # Redrawn uniformly: about 1/10 of the relabelled keep their label.
    if relabelled.sum() > 500:
        kept = (new[relabelled] == labels[relabelled]).mean()
        assert 0.05 < kept < 0.15


def test_corruption_is_seeded_and_nested():
    labels = np.arange(2000) % 10
    a, ra = random_labels.corrupt_labels(labels, 0.5, 10, seed=3)
    b, rb = random_labels.corrupt_labels(labels, 0.5, 10, seed=3)
    np.testing.assert_array_equal(a, b)
    c, rc = random_labels.corrupt_labels(labels, 0.2, 10, seed=3)
    assert (rc <= ra).all()  # the 20% are among the 50%
    np.testing.assert_array_equal(c[rc], a[rc])
    _, rd = random_labels.corrupt_labels(labels, 0.5, 10, seed=4)
    assert (rd != ra).any()
    with pytest.raises(ValueError, match="share"):
        random_labels.corrupt_labels(labels, 1.5, 10, 0)


def test_random_pixels_have_the_images_statistics():
    rng = np.random.default_rng(0)
    images = rng.beta(0.3, 1.0, (500, 8, 8, 1)).astype(np.float32)
    noise = random_labels.random_pixels(images, seed=0)
    assert noise.shape == images.shape and noise.dtype == np.float32
    assert noise.mean() == pytest.approx(images.mean(), abs=5e-3)
    assert noise.std() == pytest.approx(images.std(), rel=1e-2)
    # Gaussian, not the images: skewness ~0 where the images are skewed.
    z = (noise - noise.mean()) / noise.std()
    assert abs((z**3).mean()) < 0.05
    np.testing.assert_array_equal(
        noise, random_labels.random_pixels(images, seed=0)
    )


def test_fit_epoch_is_the_first_epoch_at_the_level():
    assert random_labels.fit_epoch([0.5, 0.99, 0.98, 1.0]) == 2
    assert random_labels.fit_epoch([0.5, 0.9]) is None


def test_config_names_the_bad_value():
    with pytest.raises(ValueError, match="corruption"):
        random_labels.Config(corruption=(0.0, 1.2))
    with pytest.raises(ValueError, match="stop_at"):
        random_labels.Config(stop_at=0.0)
    with pytest.raises(ValueError, match="epochs=0"):
        random_labels.Config(epochs=0)


def test_chart_draws_every_run():
    runs = {
        "corrupt_0": {"corruption": 0.0, "history": {"accuracy": [0.5, 1]},
                      "train_accuracy": 1.0, "test_accuracy": 0.9},
        "random_pixels": {"corruption": None,
                          "history": {"accuracy": [0.1, 0.6, 1.0]},
                          "train_accuracy": 1.0, "test_accuracy": 0.1},
    }  # fmt: skip
    image = limits_charts.random_label_chart(runs, 0.1)
    assert image.ndim == 3 and image.shape[2] == 3
    assert 0 <= image.min() and image.max() <= 1
    green = np.all(np.isclose(image, limits_charts.GREEN), axis=-1)
    red = np.all(np.isclose(image, limits_charts.RED), axis=-1)
    assert green.sum() > 50 and red.sum() > 20


@pytest.mark.slow
def test_command_line_fits_random_labels(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.random_labels",
         "--corruption=0,1", "--epochs=3", "--hidden_units=64",
         "--learning_rate=3e-3", f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    runs = saved["runs"]
    assert set(runs) == {"corrupt_0", "corrupt_100", "random_pixels"}
    assert runs["corrupt_0"]["wrong_labels"] == 0
    assert runs["corrupt_100"]["relabelled"] == 1.0
    assert 0.8 < runs["corrupt_100"]["wrong_labels"] < 0.97
    # True labels generalize; random labels and random pixels do not.
    # (3 epochs is too few to fit: the fitting is the MNIST figure's.)
    assert runs["corrupt_0"]["test_accuracy"] > 0.6  # 0.88 measured
    assert runs["corrupt_100"]["test_accuracy"] < 0.3  # 0.04 measured
    assert runs["random_pixels"]["test_accuracy"] < 0.3  # 0.09 measured
    for r in runs.values():
        assert len(r["history"]["accuracy"]) == r["epochs_run"] <= 3
    line = (
        f"corrupt_0: train accuracy {runs['corrupt_0']['train_accuracy']:.4f}"
    )
    assert line in done.stdout
    assert (tmp_path / "random_labels.png").stat().st_size > 1000
