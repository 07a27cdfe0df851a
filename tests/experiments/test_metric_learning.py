"""`experiments.metric_learning`: pairs, the Siamese network, the config,
and short triplet / contrastive runs on the bundled digits."""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from experiments import config_flags
from experiments import data as data_lib
from experiments import metric_learning as ml
from experiments.retrieval import recall_at_k
from keras_cheats.losses import ContrastiveLoss, TripletLoss
from keras_cheats.losses.triplet_mining import DISTANCES, MININGS
from tests.conftest import REPO


def _pairs(labels, seed=(0, 0)):
    """make_pairs on images that hold their own index: (partner, similar)."""
    n = len(labels)
    images = tf.reshape(tf.range(n, dtype=tf.float32), (n, 1, 1, 1))
    (x_a, x_b), similar = ml.make_pairs(
        images, tf.constant(labels, tf.int64), tf.constant(seed, tf.int64)
    )
    np.testing.assert_array_equal(x_a, images)  # the anchors, in order
    return x_b.numpy().reshape(n).astype(int), similar.numpy()


def test_make_pairs_hand_built_batch():
    # Even rows want a partner of their class, odd rows one of another.
    # Row 4 (label 2) has no other 2 in the batch: it gets a negative.
    labels = [0, 0, 1, 1, 2, 0]
    allowed = [{1, 5}, {2, 3, 4}, {3}, {0, 1, 4, 5}, {0, 1, 2, 3, 5}, {2, 3, 4}]
    seen = set()
    for seed in range(20):
        partner, similar = _pairs(labels, (seed, 7))
        np.testing.assert_array_equal(similar, [1, 0, 1, 0, 0, 0])
        for i, p in enumerate(partner):
            assert p in allowed[i], (seed, i, p)
        seen.add(int(partner[0]))
    assert seen == {1, 5}  # a random draw among the candidates
    # Deterministic in the seed.
    a, b = _pairs(labels, (3, 1)), _pairs(labels, (3, 1))
    np.testing.assert_array_equal(a[0], b[0])


def test_make_pairs_fallbacks_and_balance():
    # One class: odd rows find no negative and take a positive.
    partner, similar = _pairs([3, 3, 3])
    np.testing.assert_array_equal(similar, [1, 1, 1])
    assert all(p != i for i, p in enumerate(partner))
    # One example: paired with itself.
    partner, similar = _pairs([5])
    assert partner.tolist() == [0] and similar.tolist() == [1.0]
    # A batch of 128 over 10 classes, each with 12 or 13 members: exactly
    # half the pairs are similar, alternating.
    labels = np.random.default_rng(0).permutation(np.arange(128) % 10)
    partner, similar = _pairs(labels.tolist())
    np.testing.assert_array_equal(similar, np.arange(128) % 2 == 0)
    np.testing.assert_array_equal(labels[partner] == labels, similar == 1)


def _small_pipeline(shuffle):
    rng = np.random.default_rng(0)
    split = data_lib.Split(
        rng.random((20, 2, 2, 1)).astype(np.float32),
        (np.arange(20) % 3).astype(np.int64),
    )
    return data_lib.Pipeline(split, batch_size=8, shuffle=shuffle, seed=1)


def _as_lists(dataset):
    return [(xa.numpy(), xb.numpy(), y.numpy()) for (xa, xb), y in dataset]


def _same(batches_a, batches_b):
    return len(batches_a) == len(batches_b) and all(
        all(np.array_equal(u, v) for u, v in zip(a, b))
        for a, b in zip(batches_a, batches_b)
    )


def test_pair_pipeline_depends_only_on_seed_epoch_and_batch():
    pairs = ml.PairPipeline(_small_pipeline(shuffle=False), seed=4)
    epoch0 = _as_lists(pairs(0))
    assert [len(b[2]) for b in epoch0] == [8, 8, 4]
    assert _same(epoch0, _as_lists(pairs(0)))
    # A resumed epoch sees the batches it skipped to, pairs included.
    assert _same(epoch0[1:], _as_lists(pairs(0, skip_batches=1)))
    # Same batches (no shuffling), new pairs in a new epoch or seed.
    assert not _same(epoch0, _as_lists(pairs(1)))
    other = ml.PairPipeline(_small_pipeline(shuffle=False), seed=5)
    assert not _same(epoch0, _as_lists(other(0)))


def test_embedder_and_siamese_distance_and_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    embedder = ml.build_embedder((8, 8, 1), embedding_dim=4)
    rng = np.random.default_rng(1)
    x_a, x_b = rng.random((2, 5, 8, 8, 1)).astype(np.float32)
    f_a, f_b = (
        embedder.predict(x_a, verbose=0),
        embedder.predict(x_b, verbose=0),
    )
    assert f_a.shape == (5, 4)
    np.testing.assert_allclose(np.linalg.norm(f_a, axis=1), 1.0, atol=1e-5)
    siamese = ml.build_siamese(embedder)
    distance = siamese.predict([x_a, x_b], verbose=0)
    np.testing.assert_allclose(
        distance, np.linalg.norm(f_a - f_b, axis=1), rtol=1e-5, atol=1e-6
    )
    path = str(tmp_path / "siamese.keras")
    siamese.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("distance"), ml.PairDistance)
    np.testing.assert_allclose(
        loaded.predict([x_a, x_b], verbose=0), distance, rtol=1e-6
    )


def test_config_defaults_and_loss():
    triplet = ml.Config(mining="batch_all", distance="euclidean")
    assert triplet.margin == ml.DEFAULT_MARGINS["triplet"]
    loss = ml.make_loss(triplet)
    assert isinstance(loss, TripletLoss)
    assert (loss.mining, loss.distance, loss.margin) == (
        "batch_all",
        "euclidean",
        triplet.margin,
    )
    contrastive = ml.Config(loss="contrastive", margin=0.7)
    # It does not mine and has its own distance.
    assert contrastive.mining is None and contrastive.distance is None
    loss = ml.make_loss(contrastive)
    assert isinstance(loss, ContrastiveLoss) and loss.margin == 0.7
    # Its mining=None survives a copy; a triplet config needs a mining.
    assert dataclasses.replace(contrastive, epochs=2).mining is None
    with pytest.raises(ValueError, match="mining=None; expected one of"):
        dataclasses.replace(contrastive, loss="triplet")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(loss="hinge"), "loss='hinge'; expected one of triplet"),
        (dict(mining="hard"), "mining='hard'; expected one of"),
        (dict(distance="l1"), "distance='l1'; expected one of"),
        (dict(loss="contrastive", distance="l1"), "distance='l1'"),
        (dict(epochs=0), "epochs=0; expected an integer >= 1"),
        (dict(batch_size=1), "batch_size=1; expected an integer >= 2"),
        (dict(embedding_dim=0), "embedding_dim=0"),
        (dict(learning_rate=0.0), "learning_rate=0.0"),
        (dict(margin=-0.1), r"margin=-0.1; expected a number >= 0"),
    ],
)
def test_config_errors_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ml.Config(**kwargs)


def _flags(*args):
    """The Config of a command line, through flags of its own."""
    values = flags.FlagValues()
    config_flags.define(ml.Config, flag_values=values)
    values(["metric_learning", *args])
    return config_flags.parse(ml.Config, flag_values=values), values


def test_command_line_flags_make_the_config():
    # The enum flags offer exactly the loss's options.
    _, values = _flags()
    assert tuple(values["mining"].parser.enum_values) == MININGS
    assert tuple(values["distance"].parser.enum_values) == DISTANCES
    assert "model_dir" in values and "restart" in values
    # A contrastive command keeps the triplet flags' defaults: ignored.
    config, _ = _flags("--loss=contrastive", "--embedding_dim=8")
    assert config == ml.Config(loss="contrastive", embedding_dim=8)
    assert (config.mining, config.distance, config.margin) == (None, None, 1.0)
    config, _ = _flags("--mining=batch_hard", "--distance=euclidean")
    assert (config.mining, config.distance) == ("batch_hard", "euclidean")
    with pytest.raises(flags.IllegalFlagValueError):
        _flags("--mining=hard")
    # Every field's docstring is its flag's help.
    help_text = " ".join(values.get_help().split())
    for field, doc in config_flags.field_docs(ml.Config).items():
        assert f"--{field}" in help_text and doc in help_text, field


def _run(tmp_path, **kwargs):
    config = ml.Config(verbose=0, **kwargs)
    return config, ml.train_and_evaluate(config, tmp_path / "run")


@pytest.mark.slow
def test_triplet_on_digits_beats_untrained_and_writes_metrics(tmp_path):
    _, result = _run(tmp_path, loss="triplet", epochs=2)
    test, base = result["test"], result["baselines"]
    assert test["recall@1"] > base["untrained"]["recall@1"] + 0.05
    assert test["recall@5"] >= test["recall@1"]
    assert result["history"]["loss"][1] < result["history"]["loss"][0]
    # The pixel baseline is recall@k of the raw test images.
    _, test_split, _ = data_lib.load_splits("digits")
    assert base["raw_pixels"] == recall_at_k(test_split.x, test_split.y)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"] == test and saved["baselines"] == base
    assert saved["config"]["mining"] == "semi_hard"
    assert saved["config"]["margin"] == ml.DEFAULT_MARGINS["triplet"]
    assert saved["dataset"]["num_test"] == 360
    # The saved embedder gives the reported retrieval.
    embedder = keras.saving.load_model(str(tmp_path / "run/embedder.keras"))
    f = ml.embed(embedder, test_split.x)
    assert ml.retrieval(f, test_split.y) == {
        k: test[k] for k in ("recall@1", "recall@5")
    }
    # The test loss: per-anchor triplet values over the test batches of
    # 128 (in order, mined per batch), summed and divided by N.
    loss = TripletLoss(margin=0.5, reduction="sum")
    total = sum(
        float(loss(test_split.y[i : i + 128], f[i : i + 128]))
        for i in range(0, 360, 128)
    )
    assert test["loss"] == pytest.approx(total / 360, rel=1e-5)


@pytest.mark.slow
def test_contrastive_on_digits_beats_untrained_and_resumes(tmp_path):
    config, result = _run(tmp_path, loss="contrastive", epochs=4, batch_size=32)
    test, base = result["test"], result["baselines"]
    assert test["recall@1"] > base["untrained"]["recall@1"] + 0.05
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["config"]["mining"] is None and saved["test"] == test
    # The same run directory again: restored, nothing left to train.
    again = ml.train_and_evaluate(config, tmp_path / "run")
    assert again["history"] == result["history"]
    assert again["test"]["recall@1"] == test["recall@1"]


@pytest.mark.slow
def test_command_line(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "experiments.metric_learning"]
    run_dir = tmp_path / "cli"
    done = subprocess.run(
        [
            *command,
            "--mining=batch_all",
            "--epochs=1",
            "--verbose=0",
            f"--model_dir={run_dir}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["config"]["mining"] == "batch_all"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["experiment"] == "metric_learning"
    assert record["mining"] == "batch_all"
    # What it prints is `summary` of what it saved.
    assert done.stdout.strip().splitlines()[-1] == ml.summary(saved)
    assert f"test recall@1: {saved['test']['recall@1']:.4f}" in done.stdout
