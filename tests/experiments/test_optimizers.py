"""experiments.optimizers: the config, the loss curve, the chart, and the
experiment run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from experiments import optimizer_charts, optimizers
from tests.conftest import REPO


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"lr_adam": 0.0}, "lr_adam=0.0"),
        ({"epochs": 0}, "epochs=0"),
        ({"optimizers": "sgd,lbfgs"}, "optimizers='lbfgs'"),
        ({"optimizers": "sgd,sgd"}, "optimizers='sgd,sgd'"),
        ({"weight_decay": -1.0}, "weight_decay=-1.0"),
    ],
)
def test_config_rejects_bad_values(kwargs, words):
    with pytest.raises(ValueError, match=words):
        optimizers.Config(**kwargs)


def test_config_names_follow_the_documented_order():
    assert optimizers.Config().names() == (
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    )  # fmt: skip
    assert optimizers.Config(optimizers="adam, sgd").names() == (
        "sgd",
        "adam",
    )
    adamw = optimizers.Config(lr_adamw=0.01, weight_decay=0.1).optimizer(
        "adamw"
    )
    assert adamw.get_config()["weight_decay"] == 0.1
    assert adamw.get_config()["learning_rate"] == pytest.approx(0.01)


def test_loss_curve_block_means_by_hand():
    # Batches of 4, 10 examples per epoch: 3 steps, the last of 2.
    curve = optimizers.LossCurve(3, batch_size=4, num_examples=10)
    curve.on_epoch_begin(0)
    curve.on_train_batch_end(1, {"loss": 2.0})  # 8 examples, sum 16
    curve.on_train_batch_end(2, {"loss": 1.8})  # 10 examples, sum 18
    curve.on_epoch_begin(1)
    curve.on_train_batch_end(2, {"loss": 0.5})  # a whole epoch in one call
    assert curve.steps == [2, 3, 6]
    # The last block: (18 - 16) / (10 - 8) = 1.0, not the running 1.8.
    np.testing.assert_allclose(curve.losses, [2.0, 1.0, 0.5])


def test_loss_curves_chart_colours_and_legend():
    curves = [([0, 10, 20], [2.3, 1.0, 0.3]), ([0, 10, 20], [2.3, 2.0, 1.5])]
    image = optimizer_charts.loss_curves(curves, [2, 6], width=200, height=100)
    assert image.shape == (146, 248, 3)
    for index in (2, 6):  # both curves drawn, in their colours
        colour = np.array(optimizer_charts.COLORS[index - 1])
        assert np.all(image == colour, axis=-1).sum() > 100
    unused = np.array(optimizer_charts.COLORS[0])
    assert not np.all(image == unused, axis=-1).any()
    with pytest.raises(ValueError, match="indices"):
        optimizer_charts.loss_curves(curves, [1, 9])


@pytest.mark.slow
def test_command_line_trains_the_chosen_optimizers(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.optimizers", "--epochs=2",
         "--optimizers=adam,sgd", "--log_every=10",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["order"] == ["sgd", "adam"]
    for index, name in ((1, "sgd"), (6, "adam")):
        run = saved["optimizers"][name]
        # Same initial weights: the same loss at step 0 (ln 10 = 2.30).
        assert run["curve"]["steps"][0] == 0
        assert run["curve"]["loss"][0] == pytest.approx(2.3, abs=0.3)
        assert run["final_train_loss"] < 0.8 * run["curve"]["loss"][0]
        assert run["test_accuracy"] > 0.5  # chance: 0.1
        assert len(run["history"]["loss"]) == 2
        assert (tmp_path / name).is_dir()  # the run folder of loops.fit
        assert (
            f"{index} {name:8s} lr {run['learning_rate']:<6g} final train "
            f"loss {run['final_train_loss']:.4f}"
        ) in done.stdout
    assert (
        saved["optimizers"]["sgd"]["curve"]["loss"][0]
        == saved["optimizers"]["adam"]["curve"]["loss"][0]
    )
    png = tf.io.decode_png(tf.io.read_file(saved["chart"])).numpy()
    assert png.shape == (286, 528, 3)
