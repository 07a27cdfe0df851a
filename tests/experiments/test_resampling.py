"""experiments.resampling: paired epochs, the DB-VAE's latent-rarity
sampler (with stand-in encoders and with a real trained one), the oracle,
the per-epoch cache and a resume on the same batches."""

import keras
import numpy as np
import pytest

import loops
from experiments import data as data_lib
from experiments import resampling, subgroups
from experiments.data import Split
from keras_cheats.models import dbvae


class _Encoder:
    """Stands in for a DB-VAE: the latent mean is each image's brightness
    and its top-left pixel."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def encode(self, x):
        x = np.asarray(x)
        mean = np.stack([x.mean(axis=(1, 2, 3)), x[:, 0, 0, 0]], axis=1)
        return self.scale * mean, None


class _Flat:
    """An encoder that sees no difference: every latent mean is 0."""

    def encode(self, x):
        return np.zeros((len(x), 2)), None


def _rare_data():
    # 100 targets (label 1): 95 dim, 5 bright (the rare group); 100 other.
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 0.3, size=(200, 4, 4, 1)).astype("float32")
    y = np.repeat([0, 1], 100)
    x[195:] += 0.7
    rare = np.zeros(200, bool)
    rare[195:] = True
    return Split(x, y), rare


def _data(split, sampler, seed=3, **kwargs):
    return resampling.ResampledTrainData(
        split, 1, 32, sampler=sampler, seed=seed, **kwargs
    )


def test_resampled_epochs_keep_the_size_and_favour_the_rare():
    split, rare = _rare_data()
    data = _data(split, resampling.LatentRarity(_Encoder()))
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
    again = _data(split, resampling.LatentRarity(_Encoder()))
    np.testing.assert_array_equal(again.draw(0)["indices"], indices)
    assert not np.array_equal(again.draw(1)["indices"], indices)
    other = _data(split, resampling.LatentRarity(_Encoder()), seed=4)
    assert not np.array_equal(other.draw(0)["indices"], indices)


def test_arms_of_a_seed_share_the_slots():
    split, rare = _rare_data()
    plain = _data(split, None).draw(5)
    uniform = plain["indices"]
    oracle = _data(split, resampling.Oracle(rare[100:], 0.5)).draw(5)
    latent = _data(split, resampling.LatentRarity(_Encoder())).draw(5)
    # Without a sampler: a permutation, each image once, uniform p.
    np.testing.assert_array_equal(np.sort(uniform), np.arange(200))
    np.testing.assert_allclose(
        _data(split, None).draw(5)["probabilities"], 0.01
    )
    slots = uniform >= 100  # where the target-class images are
    for drawn in (oracle, latent):
        # The other class in the same slots, in the same order; the
        # target-class draws in the target-class slots.
        np.testing.assert_array_equal(drawn["indices"][~slots], uniform[~slots])
        assert np.all(drawn["indices"][slots] >= 100)
    assert not np.array_equal(oracle["indices"], latent["indices"])


def test_the_oracle_gives_the_rare_group_its_share():
    split, rare = _rare_data()
    oracle = resampling.Oracle(rare[100:], 0.4)
    p = oracle.probabilities(split.x[100:])
    np.testing.assert_allclose(p[95:], 0.4 / 5)
    np.testing.assert_allclose(p[:95], 0.6 / 95)
    data = _data(split, oracle)
    for epoch in range(3):
        data.draw(epoch)
    shares = [e["rare_share_of_draw"] for e in resampling.report(data, rare)]
    assert np.mean(shares) == pytest.approx(0.4, abs=0.05)
    for share in (0, 1, 1.5, True):
        with pytest.raises(ValueError, match=f"share={share!r}; expected"):
            resampling.Oracle(rare[100:], share)
    with pytest.raises(ValueError, match="needs both groups"):
        resampling.Oracle(np.zeros(10, bool), 0.5)
    with pytest.raises(ValueError, match="knows 100 images; received 3"):
        oracle.probabilities(split.x[:3])


def test_resampling_raises_the_rare_share_only_where_it_is_sparse():
    split, rare = _rare_data()  # the rare images: 5 of the 100 targets
    favoured = _data(split, resampling.LatentRarity(_Encoder()))
    flat = _data(split, resampling.LatentRarity(_Flat()))
    for data in (favoured, flat):
        data.draw(0)
        data.draw(1)
    log = resampling.report(favoured, rare)
    assert [e["epoch"] for e in log] == [0, 1]
    for entry in log:
        assert entry["rare_share_of_target_images"] == pytest.approx(0.05)
        # The bright images sit in sparse bins: drawn well above 5%.
        assert entry["rare_share_of_draw"] > 0.15
        assert entry["rare_over_common_probability"] > 3
        assert entry["effective_sample_size"] < 100
    # One histogram bin for every image: uniform probabilities, every
    # target image as likely as any other.
    for entry in resampling.report(flat, rare):
        assert entry["rare_over_common_probability"] == pytest.approx(1.0)
        assert entry["effective_sample_size"] == pytest.approx(100)
    np.testing.assert_allclose(flat.draw(0)["probabilities"], 0.01)


@pytest.mark.slow
def test_a_trained_dbvae_draws_the_rare_look_above_its_base_rate():
    # digits, 10% of every class rotated: 14 of the 143 sevens. A small
    # DB-VAE trained for 5 epochs on uniform batches; then one epoch's
    # draw with its encoder (combine "max", alpha 0.01). Seen: a rare
    # share of 0.19 to 0.25 of the draw (seeds 0 to 2), base 0.098.
    train, test, info = data_lib.load_splits("digits")
    train, _ = subgroups.biased_splits(train, test, 7, "rotate", 0.1, 0)
    rare = train.attributes["subgroup"] == 1
    keras.utils.set_random_seed(0)
    config = dbvae.DBVAEConfig(latent_dim=8, seed=0)
    model = dbvae.build_dbvae(info.image_shape, config)
    uniform = resampling.ResampledTrainData(
        train, 7, 64, seed=0, map_fn=dbvae.dbvae_targets
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(1e-3),
        loops.supervised(dbvae.DBVAELoss(target_class=7)),
        uniform,
        options=loops.LoopOptions(epochs=5, seed=0, verbose=0),
    )
    assert history["loss"][-1] < 0.5 * history["loss"][0]  # it learned
    drawn = resampling.ResampledTrainData(
        train,
        7,
        64,
        sampler=resampling.LatentRarity(model, 10, 0.01, "max"),
        seed=0,
    )
    for epoch in range(4):
        drawn.draw(epoch)  # the same encoder: four draws of its p
    log = resampling.report(drawn, rare)
    base = log[0]["rare_share_of_target_images"]
    assert base == pytest.approx(14 / 143)
    assert np.mean([e["rare_share_of_draw"] for e in log]) > 1.5 * base
    assert log[0]["rare_over_common_probability"] > 1.5


def test_cached_epochs_survive_a_restart(tmp_path):
    split, _ = _rare_data()
    first = _data(
        split, resampling.LatentRarity(_Encoder()), seed=0, cache_dir=tmp_path
    )
    indices = first.draw(4)["indices"]
    assert (tmp_path / "epoch_0004.npz").exists()
    # A restarted run whose encoder has moved on (restored mid-epoch)
    # still trains on the indices the interrupted epoch drew.
    moved = resampling.LatentRarity(_Encoder(scale=-3.0))
    restarted = _data(split, moved, seed=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(restarted.draw(4)["indices"], indices)
    fresh = _data(split, moved, seed=0).draw(4)["probabilities"]
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
    data = _data(
        split,
        resampling.LatentRarity(model),
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
