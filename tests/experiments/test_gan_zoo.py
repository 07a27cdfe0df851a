"""`--model=dcgan` (section 7.4.3): the two-tape task, sample grids and the
classifier score."""

import dataclasses
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from experiments import registry, train
from experiments.data import DatasetInfo
from experiments.strategies import make_strategy
from experiments.zoo import gan
from keras_cheats.models.dcgan import DCGAN, DCGANConfig, discriminator_loss

_TINY = DCGANConfig(
    latent_dim=4,
    generator_filters=(8, 4),
    discriminator_filters=(4,),
    dropout=0.0,
)


def _config(**options):
    return train.Config(model="dcgan", verbose=0, options=options)


def test_registered_with_section_headline_and_dcgan_optimizers():
    spec = registry.get("dcgan")
    assert spec.section == "7.4.3" and spec.headline == "classifier_score"
    model = DCGAN((8, 8, 1), _TINY)
    optimizers = spec.optimizer(model, _config())
    assert set(optimizers) == {"generator", "discriminator"}
    for opt in optimizers.values():
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == pytest.approx(2e-4)
        assert opt.beta_1 == 0.5
    info = DatasetInfo("fake", (28, 28, 1), 10, 1, 1)
    built = spec.build(info, _config(latent_dim=16))
    assert built.latent_dim == 16
    assert tuple(built.generator.output.shape) == (None, 28, 28, 1)


def test_noise_is_a_function_of_seed_step_and_stream():
    a = gan._noise(3, 4, seed=0, step=5, stream=0)
    np.testing.assert_array_equal(a, gan._noise(3, 4, 0, 5, 0))
    for other in (gan._noise(3, 4, 1, 5, 0), gan._noise(3, 4, 0, 6, 0)):
        assert not np.allclose(a, other)
    assert not np.allclose(a, gan._noise(3, 4, 0, 5, 1))


def _weights(model):
    return [np.array(v) for v in model.trainable_variables]


def _changed(before, model):
    return [
        not np.array_equal(b, np.array(v))
        for b, v in zip(before, model.trainable_variables)
    ]


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_optimizer_moves_only_its_submodel(frozen):
    keras.utils.set_random_seed(0)
    model = DCGAN((8, 8, 1), _TINY)
    task = gan.gan_task(model, None, _config(), seed=3)
    optimizers = {
        name: keras.optimizers.SGD(0.0 if name == frozen else 0.1)
        for name in ("generator", "discriminator")
    }
    real = np.random.default_rng(0).uniform(size=(6, 8, 8, 1))
    real = real.astype("float32")
    # The step's first noise, and the loss it must report: the batch mean
    # of L_D before any update (no dropout; BN uses the batch statistics).
    z = gan._noise(6, 4, 3, 0, 0)
    expected = np.mean(
        discriminator_loss(
            model.discriminator(real, training=True),
            model.discriminator(
                model.generator(z, training=True), training=True
            ),
        )
    )
    g0, d0 = _weights(model.generator), _weights(model.discriminator)
    out = task.train_step(model, optimizers, tf.constant(real))
    assert float(out["d_loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert math.isfinite(float(out["g_loss"]))
    moved = {
        "generator": _changed(g0, model.generator),
        "discriminator": _changed(d0, model.discriminator),
    }
    assert not any(moved[frozen])
    other = "discriminator" if frozen == "generator" else "generator"
    assert all(moved[other])


@pytest.mark.slow
def test_two_replicas_write_a_grid_per_epoch_and_both_optimizers(tmp_path):
    """Through the loop engine under MirroredStrategy (conftest's two CPU
    devices): the per-replica shares, noise and optimizers all work."""
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    keras.utils.set_random_seed(0)
    config = _config()
    with strategy.scope():
        model = DCGAN((8, 8, 1), _TINY)
        optimizers = gan.gan_optimizers(model, config)
        task = gan.gan_task(model, None, config)
    x = np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")
    history = loops.fit(
        model,
        optimizers,
        task,
        tf.data.Dataset.from_tensor_slices(x).batch(32),
        options=loops.LoopOptions(epochs=2, verbose=0),
        callbacks=gan.sample_callbacks(model, tmp_path, config),
        strategy=strategy,
        model_dir=tmp_path,
    )
    assert all(math.isfinite(v) for v in history["d_loss"] + history["g_loss"])
    assert len(history["d_loss"]) == 2 and len(history["d_accuracy"]) == 2
    first, second = (
        tf.io.decode_png((tmp_path / f"samples_epoch_00{i}.png").read_bytes())
        for i in (1, 2)
    )
    # 64 samples of 8x8 in 8 columns with 1-pixel padding: 73 x 73.
    assert first.shape == (73, 73, 1)
    assert not np.array_equal(first, second)
    names = [
        n for n, _ in tf.train.list_variables(str(tmp_path / "checkpoints"))
    ]
    assert any(n.startswith("optimizer_generator/") for n in names)
    assert any(n.startswith("optimizer_discriminator/") for n in names)


@pytest.mark.slow
def test_train_and_evaluate_on_digits(tmp_path):
    config = dataclasses.replace(
        _config(judge_steps=40, score_samples=100),
        epochs=1,
    )
    result = train.train_and_evaluate(config, tmp_path / "run")
    test = result["test"]
    assert set(test) >= {
        "d_loss",
        "g_loss",
        "d_accuracy",
        "classifier_score",
        "classifier_score_real",
        "judge_accuracy",
        "confident_share",
        "class_histogram_entropy",
        "class_share_9",
    }
    assert 1.0 <= test["classifier_score"] <= 10.0
    assert 0.0 <= test["confident_share"] <= 1.0
    assert 0.0 <= test["class_histogram_entropy"] <= math.log(10) + 1e-9
    assert 0.0 <= test["d_accuracy"] <= 1.0
    assert test["judge_accuracy"] > 0.5  # the judge is a real classifier
    run = tmp_path / "run"
    assert (run / "samples.png").exists()
    if "callbacks" in {f.name for f in dataclasses.fields(registry.ModelSpec)}:
        assert (run / "samples_epoch_001.png").exists()
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test"]["classifier_score"] == test["classifier_score"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"judge_steps": 0}, "judge_steps=0"),
        ({"score_samples": True}, "score_samples=True"),
    ],
)
def test_bad_options_name_the_value(options, match):
    with pytest.raises(ValueError, match=match):
        gan.gan_options(_config(**options))
