"""experiments.few_shot: the Config, the episode task, and the experiment
run as users run it."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

import loops
from experiments import config_flags, few_shot
from experiments import data as data_lib
from experiments import episodes as ep
from keras_cheats.losses.prototypical import prototypical_loss
from tests.conftest import REPO


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="share \\[4\\]; expected disjoint"):
        few_shot.Config(train_classes=(0, 1, 2, 3, 4), test_classes=(4, 5))
    with pytest.raises(ValueError, match="test_classes=\\(5, 6\\); expected "
                       "at least n_way=5"):  # fmt: skip
        few_shot.Config(test_classes=(5, 6))
    with pytest.raises(ValueError, match="n_way=1; expected an integer >= 2"):
        few_shot.Config(n_way=1)
    with pytest.raises(ValueError, match="test_shots='0'; expected a non"):
        few_shot.Config(test_shots=(0,))
    with pytest.raises(ValueError, match="test_episodes=1; expected an"):
        few_shot.Config(test_episodes=1)
    with pytest.raises(ValueError, match="learning_rate=0"):
        few_shot.Config(learning_rate=0)


def test_flags_read_lists_of_classes():
    values = flags.FlagValues()
    config_flags.define(few_shot.Config, flag_values=values)
    values(["prog", "--train_classes=0,1,2", "--test_classes=7,8,9",
            "--n_way=3", "--test_shots=1,3"])  # fmt: skip
    config = config_flags.parse(few_shot.Config, flag_values=values)
    assert config.train_classes == (0, 1, 2)
    assert (config.test_classes, config.test_shots) == ((7, 8, 9), (1, 3))


def test_embedder_shapes():
    assert few_shot.build_embedder((28, 28, 1), 4, 16).output_shape == (
        None,
        16,
    )  # 28 -> 14 -> 7 -> 3 -> 1, as in the paper
    assert few_shot.build_embedder((8, 8, 1), 4, 8).output_shape == (None, 8)


def test_episode_task_loss_is_the_query_mean_and_falls():
    split = data_lib.load_splits("digits")[0]
    pipe = ep.EpisodePipeline(split.x, split.y, (0, 1, 2, 3, 4), 5, 2, 4,
                              episodes_per_epoch=1, seed=0)  # fmt: skip
    loops.seed_everything(0)
    model = few_shot.build_embedder(split.x.shape[1:], 2, 8)
    task = few_shot.episode_task(5, 2)
    images, labels = next(iter(pipe(0)))
    # test_step: the mean over the 20 queries of prototypical_loss.
    emb = model(images, training=False)
    want = prototypical_loss(
        tf.reshape(emb[:10], [5, 2, -1]), emb[10:], labels[10:]
    )
    before = task.test_step(model, (images, labels))
    np.testing.assert_allclose(before["loss"], np.mean(want), rtol=1e-5)
    assert 0.0 <= float(before["accuracy"]) <= 1.0
    # Ten train_steps on this episode lower its loss (in training mode:
    # batch statistics, as the steps see it).
    optimizer = keras.optimizers.Adam(1e-2)
    losses = [
        float(task.train_step(model, optimizer, (images, labels))["loss"])
        for _ in range(10)
    ]
    assert losses[-1] < 0.5 * losses[0], losses


def test_classes_beyond_the_dataset_are_refused(tmp_path):
    config = few_shot.Config(test_classes=(5, 6, 7, 8, 10))
    with pytest.raises(ValueError, match="test_classes=.*from 0 to 9"):
        few_shot.train_and_evaluate(config, tmp_path)


@pytest.mark.slow
def test_command_line_writes_metrics_and_episodes(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.few_shot", "--epochs=2",
         "--episodes_per_epoch=10", "--n_query=5", "--blocks=2",
         "--filters=8", "--classifier_epochs=1", "--test_episodes=30",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["chance"] == 0.2 and set(saved["test"]) == {"1-shot", "5-shot"}
    for shot, methods in saved["test"].items():
        assert set(methods) == {"protonet", "classifier_features",
                                "untrained", "raw_pixels"}  # fmt: skip
        for m in methods.values():
            assert 0.0 <= m["mean"] <= 1.0 and m["ci95"] > 0.0
        line = f"protonet {methods['protonet']['mean']:.2%} +- "
        assert f"{shot}: {line}" in done.stdout
    test = saved["test"]
    # Well above chance, and more shots help (measured 5-shot / 1-shot:
    # raw pixels 0.90 / 0.69, prototypical network 0.71 / 0.50).
    for method in ("raw_pixels", "protonet"):
        assert test["5-shot"][method]["mean"] > test["1-shot"][method]["mean"]
    assert test["5-shot"]["raw_pixels"]["mean"] > 0.6
    assert test["5-shot"]["protonet"]["mean"] > 0.35
    assert saved["history"]["loss"][-1] < saved["history"]["loss"][0]
    assert (tmp_path / "test_episodes.png").exists()
    assert (tmp_path / "embedder.keras").exists()
