"""The section 7.4 `--model` names of experiments.train (zoo/generative)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from experiments import data, registry, train
from experiments.zoo import generative
from keras_cheats.models import vae as vae_lib


def _train(tmp_path, model, **kwargs):
    """Trains `model` in the run folder tmp_path/model."""
    defaults = dict(model=model, epochs=1, verbose=0)
    config = train.Config(**{**defaults, **kwargs})
    return train.train_and_evaluate(config, tmp_path / model)


def _image_tags(run_dir):
    tags = set()
    for path in (run_dir / "tensorboard" / "images").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(v.tag for v in event.summary.value)
    return tags


def test_the_five_models_are_registered_under_section_7_4():
    specs = registry.models()
    sections = {
        name: specs[name].section
        for name in ("ae", "conv_ae", "vae", "conv_vae", "dbvae")
    }
    assert sections == {
        "ae": "7.4.1",
        "conv_ae": "7.4.1",
        "vae": "7.4.2",
        "conv_vae": "7.4.2",
        "dbvae": "7.4.2",
    }


@pytest.mark.slow
def test_autoencoders_train_and_write_pictures(tmp_path):
    result = _train(tmp_path, "ae")
    run_dir = tmp_path / "ae"
    assert (run_dir / "reconstructions.png").exists()
    saved = json.loads((run_dir / "metrics.json").read_text())
    # squared_error is ||x - x'||^2 per image: the per-pixel loss * 64.
    assert saved["test"]["squared_error"] == pytest.approx(
        64 * saved["test"]["loss"], rel=1e-4
    )
    assert result["test"] == saved["test"]
    assert "reconstructions" in _image_tags(run_dir)

    _train(
        tmp_path,
        "conv_ae",
        trainer="fit",
        epochs=2,
        options={"noise": 0.3, "latent_dim": 8, "filters": 8},
    )
    assert (tmp_path / "conv_ae" / "denoising.png").exists()
    history = json.loads((tmp_path / "conv_ae" / "metrics.json").read_text())[
        "history"
    ]
    assert history["loss"][1] < history["loss"][0]


@pytest.mark.slow
def test_vae_with_a_2d_latent_space_writes_the_manifold_and_fits(tmp_path):
    options = {"latent_dim": 2, "likelihood": "bernoulli", "hidden_units": 32}
    result = _train(tmp_path, "vae", options=options, epochs=2)
    run_dir = tmp_path / "vae"
    for name in ("reconstructions", "samples", "interpolation", "manifold"):
        assert (run_dir / f"{name}.png").exists(), name
    test = result["test"]
    # Bernoulli likelihood, beta = 1: the loss is the negative ELBO.
    assert test["neg_elbo"] == pytest.approx(test["loss"], rel=1e-5)
    assert test["neg_elbo"] == pytest.approx(
        test["reconstruction"] + test["kl"], rel=1e-5
    )
    assert {"manifold", "samples"} <= _image_tags(run_dir)
    fit = _train(
        tmp_path,
        "conv_vae",
        trainer="fit",
        options={"latent_dim": 3, "beta": 0.5, "filters": 8},
    )
    assert {"loss", "reconstruction", "kl"} <= set(fit["test"])
    assert fit["history"]["kl"] and fit["history"]["reconstruction"]
    assert (tmp_path / "conv_vae" / "interpolation.png").exists()


@pytest.mark.slow
def test_dbvae_reports_accuracy_per_class_and_refuses_model_fit(tmp_path):
    options = {"target_class": 3, "latent_dim": 4, "filters": (8, 16)}
    # Its training data is redrawn each epoch by the model: model.fit
    # would train on other batches than the loop, so it is refused.
    with pytest.raises(ValueError, match="trainer='fit' needs a model"):
        _train(tmp_path, "dbvae", trainer="fit", options=options)
    result = _train(tmp_path, "dbvae", epochs=2, options=options)
    test = result["test"]
    assert result["history"]["loss"][1] < result["history"]["loss"][0]
    assert 0.0 <= test["accuracy_target_class"] <= 1.0
    # Overall accuracy is the class-weighted mean of the two per-class
    # accuracies (37 threes in the 360 test images).
    share = np.mean(data.load_splits("digits")[1].y == 3)
    expected = (
        share * test["accuracy_target_class"]
        + (1 - share) * (test["accuracy_other_classes"])
    )
    assert test["accuracy"] == pytest.approx(expected, abs=1e-6)
    assert (tmp_path / "dbvae" / "reconstructions.png").exists()


def test_unknown_option_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="--set latentdim"):
        _train(tmp_path, "vae", options={"latentdim": 2})


def test_manifold_decodes_gaussian_quantiles():
    model = vae_lib.build_vae(
        (8, 8, 1), vae_lib.VAEConfig(latent_dim=2, hidden_units=(8,))
    )
    grid = generative.manifold(model, size=4)
    assert grid.shape == (16, 8, 8, 1)
    # Row 0, column 0 decodes (Phi^-1(1/8), Phi^-1(7/8)) = (-1.15, 1.15).
    z = np.array([[-1.1503494, 1.1503494]], "float32")
    np.testing.assert_allclose(
        grid[0], np.asarray(model.decode(z))[0], atol=1e-6
    )
    with pytest.raises(ValueError, match="latent_dim=2"):
        generative.manifold(vae_lib.build_vae((8, 8, 1)))


@pytest.mark.slow
def test_dbvae_loop_redraws_batches_each_epoch(tmp_path):
    result = _train(
        tmp_path,
        "dbvae",
        epochs=2,
        options={"target_class": 3, "latent_dim": 4, "filters": (8, 16)},
    )
    drawn = sorted((tmp_path / "dbvae" / "resampling").glob("epoch_*.npz"))
    assert [p.name for p in drawn] == ["epoch_0000.npz", "epoch_0001.npz"]
    assert len(result["history"]["loss"]) == 2
