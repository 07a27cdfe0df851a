"""experiments.simclr, experiments.augment and experiments.linear_probe:
the views, the distributed NT-Xent share, the probe, a tiny run whose loss
falls, the Config checks and the experiment run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from experiments import augment, simclr, simclr_model
from experiments import data as data_lib
from experiments import linear_probe as probe
from keras_cheats.losses.nt_xent import nt_xent
from tests.conftest import REPO


@pytest.fixture(scope="module")
def digits():
    return data_lib.load_splits("digits")


def test_views_keep_shape_and_range_and_differ(digits):
    x = digits[0].x[:32]
    a, b = augment.two_views(x, seed=0, step=5)
    assert a.shape == b.shape == x.shape and a.dtype == tf.float32
    for view in (a, b):
        assert 0.0 <= float(tf.reduce_min(view))
        assert float(tf.reduce_max(view)) <= 1.0
        # Augmented, not copied: every image moved.
        moved = np.abs(np.asarray(view) - x).reshape(32, -1).max(1)
        assert (moved > 0.05).all()
    # Two views of one image differ; a view is a pure function of its seed.
    assert (np.abs(np.asarray(a - b)).reshape(32, -1).max(1) > 0.05).all()
    again, _ = augment.two_views(x, seed=0, step=5)
    np.testing.assert_array_equal(again, a)
    other, _ = augment.two_views(x, seed=0, step=6)
    assert not np.allclose(other, a)


def test_views_with_every_transform_off_only_scale_the_ink(digits):
    # No crop, rotation, shift, erasing or noise: the affine map must be
    # the identity, leaving the intensity jitter (ink x U(0.6, 1)).
    x = digits[0].x[:16]
    off = augment.ViewConfig(
        crop_min=1.0, max_stretch=1.0, max_rotation=0.0, max_translate=0.0,
        erase_prob=0.0, noise_std=0.0,
    )  # fmt: skip
    view = np.asarray(augment.random_view(x, tf.constant([1, 2]), off))
    ink = x > 0.1
    ratio = view[ink] / x[ink]
    per_image = np.broadcast_to(np.arange(16)[:, None, None, None], x.shape)
    for i in range(16):
        r = ratio[per_image[ink] == i]
        assert 0.6 <= r.min() and r.max() <= 1.0 and np.ptp(r) < 1e-5


def test_view_config_errors_name_the_field():
    for field, bad, expected in [
        ("crop_min", 0.0, "0 < crop_min <= 1"),
        ("max_stretch", 0.5, "a number >= 1"),
        ("max_rotation", -1.0, "a number >= 0"),
        ("max_translate", 1.0, "0 <= max_translate < 1"),
        ("erase_prob", 1.5, "0 <= erase_prob <= 1"),
        ("noise_std", -0.1, "a number >= 0"),
    ]:
        with pytest.raises(ValueError, match=f"{field}={bad}; .*{expected}"):
            augment.ViewConfig(**{field: bad})


def test_config_errors_name_the_argument():
    for kwargs, message in [
        ({"epochs": 0}, "epochs=0; expected an integer >= 1"),
        ({"batch_size": 1}, "batch_size=1; expected an integer >= 2"),
        ({"temperature": 0.0}, "temperature=0.0; expected a number > 0"),
        ({"label_fractions": (0.0,)}, r"label_fractions=\(0.0,\); .*\(0, 1\]"),
        ({"label_fractions": ()}, "label_fractions=\\(\\); expected"),
        ({"label_seeds": 0}, "label_seeds=0"),
        ({"crop_min": 2.0}, "crop_min=2.0"),
    ]:
        with pytest.raises(ValueError, match=message):
            simclr.Config(**kwargs)


def test_balanced_subsets_and_the_probe():
    labels = np.repeat(np.arange(10), 20)
    subset = probe.balanced_subset(labels, 3, seed=7)
    assert np.bincount(labels[subset]).tolist() == [3] * 10
    np.testing.assert_array_equal(
        subset, probe.balanced_subset(labels, 3, seed=7)
    )
    assert not np.array_equal(subset, probe.balanced_subset(labels, 3, 8))
    with pytest.raises(ValueError, match="class 0 has 20 training images"):
        probe.balanced_subset(labels, 21, seed=0)
    # 1% and 10% of MNIST's 8,000 training images over 10 classes.
    assert probe.per_class_count(0.01, 8000, 10) == 8
    assert probe.per_class_count(0.1, 8000, 10) == 80
    assert probe.per_class_count(0.01, 1437, 10) == 1
    # A linearly separable feature: perfect; a useless one: near chance.
    rng = np.random.default_rng(0)
    good = np.eye(10)[labels] + 0.1 * rng.normal(size=(200, 10))
    noise = rng.normal(size=(200, 10))
    assert probe.probe_accuracy(good[::2], labels[::2], good[1::2],
                                labels[1::2]) == 1.0  # fmt: skip
    assert probe.probe_accuracy(noise[::2], labels[::2], noise[1::2],
                                labels[1::2]) < 0.4  # fmt: skip


def test_the_share_gathers_negatives_across_replicas():
    # Two replicas of 3 pairs each: the shares add up to the mean NT-Xent
    # of all 6 pairs, and the gradients to its gradient, only because the
    # projections are gathered (local negatives would give other values).
    z = tf.constant(np.random.default_rng(0).normal(size=(6, 2, 4)),
                    tf.float32)  # fmt: skip
    with tf.GradientTape() as tape:
        tape.watch(z)
        want = tf.reduce_mean(nt_xent(None, z, 0.5))
    want_grad = tape.gradient(want, z)
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )

    @tf.function
    def step():
        ctx = tf.distribute.get_replica_context()
        start = ctx.replica_id_in_sync_group * 3
        local = z[start : start + 3]
        with tf.GradientTape() as tape:
            tape.watch(local)
            share = simclr_model.contrastive_share(local, 0.5)
        return share, tape.gradient(share, local)

    shares, grads = strategy.run(step)
    shares = strategy.experimental_local_results(shares)
    grads = strategy.experimental_local_results(grads)
    np.testing.assert_allclose(sum(float(s) for s in shares), want, rtol=1e-5)
    np.testing.assert_allclose(tf.concat(grads, 0), want_grad, atol=1e-6)
    local_only = np.mean(
        [np.mean(nt_xent(None, z[i : i + 3], 0.5)) for i in (0, 3)]
    )
    assert abs(local_only - float(want)) > 1e-3


@pytest.mark.slow
def test_command_line_loss_falls_and_probes_are_reported(tmp_path):
    # One subprocess is the tiny run too (a second run would cost another
    # TensorFlow import and trace): 3 epochs of 11 batches of 128 digits.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.simclr", "--dataset=digits",
         "--epochs=3", "--batch_size=128", "--learning_rate=3e-3",
         "--label_fractions=0.1", "--label_seeds=1", "--supervised_steps=10",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    losses = saved["history"]["loss"]
    # log(2 * 128 - 1) = 5.54 for features that tell nothing apart.
    assert len(losses) == 3 and losses[0] > 5.0, losses
    assert losses[-1] < losses[0] - 0.2, losses
    assert sorted(saved["probe"]) == ["0.1", "1"]
    assert saved["probe"]["0.1"]["labelled_images"] == 140  # 14 per class
    assert saved["probe"]["1"]["labelled_images"] == 1437
    assert "supervised_accuracy" not in saved["probe"]["1"]
    for fraction, r in saved["probe"].items():
        for key in ("simclr_accuracy", "pixels_accuracy"):
            assert 0.0 <= r[key]["mean"] <= 1.0, (fraction, key)
    assert 0.0 <= saved["probe"]["0.1"]["supervised_accuracy"]["mean"] <= 1
    # All labels: both probes far above chance (0.1) on 8x8 digits.
    assert saved["probe"]["1"]["pixels_accuracy"]["mean"] > 0.9
    assert saved["probe"]["1"]["simclr_accuracy"]["mean"] > 0.7
    r = saved["probe"]["0.1"]
    assert (
        f"labels 10% (140 images): SimCLR probe "
        f"{r['simclr_accuracy']['mean']:.4f}" in done.stdout
    )
    for name in ("views.png", "tsne.png", "neighbours.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
