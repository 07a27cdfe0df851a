"""experiments.debias and its library: the biased data
(experiments.subgroups), the per-epoch resampling (experiments.resampling),
the per-group evaluation and the experiment run as users run it."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from absl import flags

import loops
from experiments import config_flags, debias, resampling, subgroups
from experiments.data import Split
from keras_cheats.models import dbvae
from tests.conftest import REPO


def test_transforms_hand_computed():
    image = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")[None, :, :, None]
    # Rotated 90 degrees counter-clockwise: the right column becomes the top.
    rotated = subgroups.transform(image, "rotate")[0, :, :, 0]
    np.testing.assert_array_equal(rotated, [[2.0, 4.0], [1.0, 3.0]])
    inverted = subgroups.transform(image / 4, "invert")[0, :, :, 0]
    np.testing.assert_allclose(inverted, [[0.75, 0.5], [0.25, 0.0]])
    with pytest.raises(ValueError, match="square"):
        subgroups.transform(np.zeros((1, 2, 3, 1)), "rotate")
    with pytest.raises(ValueError, match="subgroup='blur'"):
        subgroups.transform(image, "blur")


def _split(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 6, 6, 1)).astype("float32")
    y = np.arange(n) % 4
    return Split(x, y.astype(np.int64))


def test_biased_splits_counts_and_balance():
    train, test = _split(400), _split(40, seed=1)
    biased, balanced = subgroups.biased_splits(train, test, 2, "invert", 0.1, 0)
    target = train.y == 2  # 100 images
    rare = biased.attributes["subgroup"] == 1
    assert rare.sum() == 10 and np.all(target[rare])
    np.testing.assert_allclose(biased.x[rare], 1 - train.x[rare])
    np.testing.assert_array_equal(biased.x[~rare], train.x[~rare])
    np.testing.assert_array_equal(biased.attributes["target"], target)
    # Test: each image as is, then transformed: both subgroups equally.
    assert len(balanced) == 80
    np.testing.assert_array_equal(balanced.y, np.tile(test.y, 2))
    np.testing.assert_array_equal(
        balanced.attributes["subgroup"], [0] * 40 + [1] * 40
    )
    np.testing.assert_allclose(balanced.x[40:], 1 - test.x)
    with pytest.raises(ValueError, match="rare_fraction"):
        subgroups.biased_splits(train, test, 2, "invert", 1.5, 0)
    with pytest.raises(ValueError, match="target_class=9"):
        subgroups.biased_splits(train, test, 9, "invert", 0.1, 0)


class _Encoder:
    """Stands in for a DB-VAE: the latent mean is each image's brightness
    and its top-left pixel."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def encode(self, x):
        x = np.asarray(x)
        mean = np.stack([x.mean(axis=(1, 2, 3)), x[:, 0, 0, 0]], axis=1)
        return self.scale * mean, None


def _rare_data():
    # 100 targets (label 1): 95 dim, 5 bright (the rare subgroup); 100 other.
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 0.3, size=(200, 4, 4, 1)).astype("float32")
    y = np.repeat([0, 1], 100)
    x[195:] += 0.7
    rare = np.zeros(200, bool)
    rare[195:] = True
    return Split(x, y), rare


def test_resampled_epochs_keep_the_size_and_favour_the_rare():
    split, rare = _rare_data()
    data = resampling.ResampledTrainData(split, _Encoder(), 1, 32, seed=3)
    drawn = data.draw(0)
    indices = drawn["indices"]
    assert len(indices) == 200 and data.steps_per_epoch == 7
    # Every other-class image once; 100 target-class draws.
    np.testing.assert_array_equal(
        np.sort(indices[indices < 100]), np.arange(100)
    )
    assert np.sum(indices >= 100) == 100
    assert drawn["probabilities"].shape == (100,)
    assert np.mean(rare[indices[indices >= 100]]) > 3 * 0.05
    # The dataset: 7 batches of (x, y) in that order; skip drops batches.
    batches = list(data(0))
    assert len(batches) == 7
    np.testing.assert_array_equal(
        np.concatenate([b[1] for b in batches]), split.y[indices]
    )
    skipped = list(data(0, skip_batches=2))
    np.testing.assert_array_equal(skipped[0][0], batches[2][0])
    # Repeatable per (seed, epoch), different across epochs and seeds.
    again = resampling.ResampledTrainData(split, _Encoder(), 1, 32, seed=3)
    np.testing.assert_array_equal(again.draw(0)["indices"], indices)
    assert not np.array_equal(again.draw(1)["indices"], indices)
    other = resampling.ResampledTrainData(split, _Encoder(), 1, 32, seed=4)
    assert not np.array_equal(other.draw(0)["indices"], indices)


class _Flat:
    """An encoder that sees no difference: every latent mean is 0."""

    def encode(self, x):
        return np.zeros((len(x), 2)), None


def test_resampling_raises_the_rare_share_only_where_it_is_sparse():
    split, rare = _rare_data()  # the rare images: 5 of the 100 targets
    favoured = resampling.ResampledTrainData(split, _Encoder(), 1, 32)
    flat = resampling.ResampledTrainData(split, _Flat(), 1, 32)
    for data in (favoured, flat):
        data.draw(0)
        data.draw(1)
    log = resampling.report(favoured, rare, bins=10, smoothing=1e-3)
    assert [e["epoch"] for e in log["per_epoch"]] == [0, 1]
    for entry in log["per_epoch"]:
        assert entry["rare_share_of_target_images"] == pytest.approx(0.05)
        # The bright images sit in sparse bins: drawn well above 5%.
        assert entry["rare_share_of_draw"] > 0.15
        assert entry["rare_over_common_probability"] > 3
        assert entry["effective_sample_size"] < 100
    assert set(log["final_encoder"]) == {"max", "product"}
    assert log["final_encoder"]["max"]["rare_probability_mass"] > 0.15
    # One histogram bin for every image: uniform probabilities, every
    # target image as likely as any other.
    flat_log = resampling.report(flat, rare, bins=10, smoothing=1e-3)
    for entry in flat_log["per_epoch"]:
        assert entry["rare_over_common_probability"] == pytest.approx(1.0)
        assert entry["effective_sample_size"] == pytest.approx(100)
    np.testing.assert_allclose(flat.draw(0)["probabilities"], 0.01)


def test_cached_epochs_survive_a_restart(tmp_path):
    split, _ = _rare_data()
    first = resampling.ResampledTrainData(
        split, _Encoder(), 1, 32, seed=0, cache_dir=tmp_path
    )
    indices = first.draw(4)["indices"]
    assert (tmp_path / "epoch_0004.npz").exists()
    # A restarted run whose encoder has moved on (restored mid-epoch)
    # still trains on the indices the interrupted epoch drew.
    moved = _Encoder(scale=-3.0)
    restarted = resampling.ResampledTrainData(
        split, moved, 1, 32, seed=0, cache_dir=tmp_path
    )
    np.testing.assert_array_equal(restarted.draw(4)["indices"], indices)
    uncached = resampling.ResampledTrainData(split, moved, 1, 32, seed=0)
    fresh = uncached.draw(4)["probabilities"]
    assert not np.allclose(fresh, first.draw(4)["probabilities"])


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("simulated interruption")


def _train(split, model_dir, callbacks=()):
    keras.utils.set_random_seed(0)
    config = dbvae.DBVAEConfig(latent_dim=2, filters=(4,), hidden_units=(8,))
    model = dbvae.build_dbvae((4, 4, 1), config)
    data = resampling.ResampledTrainData(
        split,
        model,
        1,
        32,
        seed=0,
        map_fn=dbvae.dbvae_targets,
        cache_dir=model_dir / "resampling",
    )
    loops.fit(
        model,
        keras.optimizers.Adam(1e-2),
        loops.supervised(dbvae.DBVAELoss(target_class=1, vae_weight=0.01)),
        data,
        options=loops.LoopOptions(
            epochs=2,
            seed=0,
            verbose=0,
            checkpoint_every_steps=2,
            steps_per_execution=1,  # _StopAt counts batches
        ),
        callbacks=callbacks,
        model_dir=model_dir,
    )
    return model, data


@pytest.mark.slow
def test_interrupted_run_resumes_on_the_same_batches(tmp_path):
    split, _ = _rare_data()
    whole, whole_data = _train(split, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        _train(split, tmp_path / "cut", [_StopAt(epoch=1, batch=2)])
    resumed, resumed_data = _train(split, tmp_path / "cut")
    # The resumed epoch 1 used the indices drawn before the interruption,
    # and they are those of the uninterrupted run.
    assert 0 not in resumed_data.epochs  # epoch 0 was not redrawn
    np.testing.assert_array_equal(
        resumed_data.draw(1)["indices"], whole_data.draw(1)["indices"]
    )
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _brightness_classifier():
    """logit = 10 (mean pixel - 0.5) of a 2x2 image: "class 1" iff the
    image is brighter than 0.5."""
    model = keras.Sequential(
        [
            keras.Input((2, 2, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(
                1,
                kernel_initializer=keras.initializers.Constant(2.5),
                bias_initializer=keras.initializers.Constant(-5.0),
            ),
        ]
    )

    def loss(y, logit):
        truth = dbvae.indicator(y["label"], 1)
        logit = keras.ops.reshape(logit, (-1,))
        return keras.ops.binary_crossentropy(truth, logit, from_logits=True)

    return model, loss


def test_group_accuracies_score_each_group_on_its_own():
    # (brightness, label, transformed): predicted class 1 iff bright.
    rows = [
        (0.9, 1, 0), (0.9, 1, 0),                            # common: 2/2
        (0.9, 1, 1), (0.1, 1, 1),                            # rare: 1/2
        (0.1, 0, 0), (0.1, 0, 0), (0.1, 0, 0), (0.9, 0, 0),  # other: 3/4
        (0.9, 0, 1), (0.9, 0, 1),                            # transformed: 0/2
    ]  # fmt: skip
    value, label, transformed = map(np.array, zip(*rows))
    split = Split(
        np.ones((len(rows), 2, 2, 1), "float32") * value[:, None, None, None],
        label.astype(np.int64),
        {"target": label == 1, "subgroup": transformed},
    )
    model, loss = _brightness_classifier()
    # Batches of 3 straddle the groups: each metric counts its own only.
    accuracies = subgroups.group_accuracies(model, loss, 1, split, 3)
    assert accuracies == pytest.approx(
        {
            "accuracy_common": 1.0,
            "accuracy_rare": 0.5,
            "accuracy_other": 0.75,
            "accuracy_other_transformed": 0.0,
            "accuracy_balanced_target": 0.75,
        }
    )


def test_config_errors():
    for fields, message in (
        ({"subgroup": "blur"}, "subgroup='blur'; expected one of"),
        ({"arms": ("plain", "gan")}, "arms=('plain', 'gan'); expected"),
        ({"combine": "sum"}, "combine='sum'; expected one of max, product"),
        ({"seeds": ()}, "seeds=(); expected one or more"),
        ({"seeds": (1, 1)}, "seeds=(1, 1); expected one or more different"),
        ({"seeds": ("a",)}, "seeds=('a',); expected"),
        ({"rare_fraction": 1.5}, "rare_fraction=1.5; expected"),
        ({"bins": 0}, "bins=0; expected an integer >= 1"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            debias.Config(**fields)


def test_flags_keep_their_names_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(debias.Config, flag_values=values)
    for name, doc in config_flags.field_docs(debias.Config).items():
        assert doc in values[name].help, name
    # The command in BUILD.md.
    values(["prog", "--seeds=0,1,2", "--arms=plain,dbvae,dbvae_uniform"])
    config = config_flags.parse(debias.Config, flag_values=values)
    assert config.seeds == (0, 1, 2)
    assert config.arms == ("plain", "dbvae", "dbvae_uniform")


@pytest.mark.slow
def test_command_line_runs_both_arms(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.debias", "--epochs=1",
         "--latent_dim=2", "--rare_fraction=0.1", "--seeds=1",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    run = saved["seeds"]["1"]
    assert run["train_target_images"] == 143  # sevens in digits' train
    assert run["train_rare_images"] == 14  # round(0.1 * 143)
    assert run["test_images_per_group"] == {"target": 36, "other": 324}
    resampled = tmp_path / "seed_1" / "dbvae" / "resampling"
    assert (resampled / "epoch_0000.npz").exists()
    # The one epoch's draw, as the report and the cache file hold it.
    draw = run["dbvae"]["resampling"]["per_epoch"][0]
    with np.load(resampled / "epoch_0000.npz") as cached:
        indices = cached["indices"]
    assert len(indices) == 1437  # every training image's slot, redrawn
    assert draw["rare_share_of_target_images"] == pytest.approx(14 / 143)
    for arm in ("plain", "dbvae"):
        accuracy = saved["summary"][arm]["accuracy_rare"]
        assert accuracy["values"] == [run[arm]["accuracy_rare"]]
    assert "14 of 143 training images of class 7 are 'rotate'" in done.stdout
    assert "seed 1: rare share of the DB-VAE's draws per epoch" in done.stdout
    assert "accuracy, mean +- std over 1 seed(s):" in done.stdout
