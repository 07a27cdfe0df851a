"""experiments.debias: biased data, per-epoch resampling, the comparison."""

import json
import types

import keras
import numpy as np
import pytest

import loops
from experiments import debias
from experiments.data import Split
from keras_cheats.models import dbvae


def test_transforms_hand_computed():
    image = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")[None, :, :, None]
    # Rotated 90 degrees counter-clockwise: the right column becomes the top.
    rotated = debias.transform(image, "rotate")[0, :, :, 0]
    np.testing.assert_array_equal(rotated, [[2.0, 4.0], [1.0, 3.0]])
    inverted = debias.transform(image / 4, "invert")[0, :, :, 0]
    np.testing.assert_allclose(inverted, [[0.75, 0.5], [0.25, 0.0]])
    with pytest.raises(ValueError, match="square"):
        debias.transform(np.zeros((1, 2, 3, 1)), "rotate")
    with pytest.raises(ValueError, match="subgroup='blur'"):
        debias.transform(image, "blur")


def _split(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 6, 6, 1)).astype("float32")
    y = np.arange(n) % 4
    return Split(x, y.astype(np.int64))


def test_biased_splits_counts_and_balance():
    train, test = _split(400), _split(40, seed=1)
    biased, balanced = debias.biased_splits(train, test, 2, "invert", 0.1, 0)
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
        debias.biased_splits(train, test, 2, "invert", 1.5, 0)
    with pytest.raises(ValueError, match="target_class=9"):
        debias.biased_splits(train, test, 9, "invert", 0.1, 0)


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
    data = debias.ResampledTrainData(split, _Encoder(), 1, 32, seed=3)
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
    again = debias.ResampledTrainData(split, _Encoder(), 1, 32, seed=3)
    np.testing.assert_array_equal(again.draw(0)["indices"], indices)
    assert not np.array_equal(again.draw(1)["indices"], indices)
    other = debias.ResampledTrainData(split, _Encoder(), 1, 32, seed=4)
    assert not np.array_equal(other.draw(0)["indices"], indices)


def test_cached_epochs_survive_a_restart(tmp_path):
    split, _ = _rare_data()
    first = debias.ResampledTrainData(
        split, _Encoder(), 1, 32, seed=0, cache_dir=tmp_path
    )
    indices = first.draw(4)["indices"]
    assert (tmp_path / "epoch_0004.npz").exists()
    # A restarted run whose encoder has moved on (restored mid-epoch)
    # still trains on the indices the interrupted epoch drew.
    moved = _Encoder(scale=-3.0)
    restarted = debias.ResampledTrainData(
        split, moved, 1, 32, seed=0, cache_dir=tmp_path
    )
    np.testing.assert_array_equal(restarted.draw(4)["indices"], indices)
    uncached = debias.ResampledTrainData(split, moved, 1, 32, seed=0)
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
    data = debias.ResampledTrainData(
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


def test_group_accuracies_hand_computed():
    split = types.SimpleNamespace(
        attributes={
            "target": np.array([1, 1, 1, 1, 0, 0, 0], bool),
            "subgroup": np.array([0, 0, 1, 1, 0, 1, 1]),
        }
    )
    correct = np.array([1, 1, 1, 0, 0, 1, 0], bool)
    assert debias.group_accuracies(correct, split) == {
        "accuracy_common": 1.0,
        "accuracy_rare": 0.5,
        "accuracy_other": 0.0,
        "accuracy_other_transformed": 0.5,
        "accuracy_balanced_target": 0.75,
    }


@pytest.mark.slow
def test_run_on_digits_compares_the_arms(tmp_path):
    config = debias.DebiasConfig(
        epochs=1,
        latent_dim=4,
        rare_fraction=0.1,
        arms=("dbvae",),  # "plain": test_run_seeds_summarizes_...
    )
    result = debias.run(config, tmp_path)
    assert result["train_target_images"] == 143  # sevens in digits' train
    assert result["train_rare_images"] == 14  # round(0.1 * 143)
    assert result["test_images_per_group"] == {"target": 36, "other": 324}
    for arm in config.arms:
        for key in debias.SUMMARY_KEYS:
            assert 0.0 <= result[arm][key] <= 1.0
    log = result["dbvae"]["resampling"]
    assert [e["epoch"] for e in log["per_epoch"]] == [0]
    assert set(log["final_encoder"]) == {"max", "product"}
    assert (tmp_path / "dbvae" / "resampling" / "epoch_0000.npz").exists()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["dbvae"]["accuracy_rare"] == result["dbvae"]["accuracy_rare"]


@pytest.mark.slow
def test_run_seeds_summarizes_mean_and_std(tmp_path):
    config = debias.DebiasConfig(epochs=1, arms=("plain",), latent_dim=2)
    out = debias.run_seeds(config, [0, 1], tmp_path)
    values = [out["seeds"][s]["plain"]["accuracy_common"] for s in ("0", "1")]
    summary = out["summary"]["plain"]["accuracy_common"]
    assert summary["values"] == values
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["std"] == pytest.approx(np.std(values))
    assert (tmp_path / "seed_1" / "metrics.json").exists()


def test_config_errors():
    with pytest.raises(ValueError, match="subgroup"):
        debias.DebiasConfig(subgroup="blur")
    with pytest.raises(ValueError, match="arms"):
        debias.DebiasConfig(arms=("plain", "gan"))
    with pytest.raises(ValueError, match="combine"):
        debias.DebiasConfig(combine="sum")
