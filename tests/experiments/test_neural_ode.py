"""experiments.neural_ode: the config checks, the flags, and the
experiment run as users run it."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf
from absl import flags

from experiments import config_flags, neural_ode
from tests.conftest import REPO


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="solvers=.*'adams'; expected"):
        neural_ode.Config(solvers=("rk4", "adams"))
    with pytest.raises(ValueError, match="expected distinct names"):
        neural_ode.Config(solvers=("rk4", "rk4"))
    with pytest.raises(ValueError, match="expected distinct names"):
        neural_ode.Config(solvers=())
    with pytest.raises(ValueError, match="steps=0; expected an integer"):
        neural_ode.Config(steps=0)
    with pytest.raises(ValueError, match="rtol=0.0; expected a number > 0"):
        neural_ode.Config(rtol=0.0)
    # Group norms of 8 groups, or fewer when 8 does not divide the filters.
    assert neural_ode.Config(filters=12).model_config("rk4").groups == 4


def test_flags_keep_their_names_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(neural_ode.Config, flag_values=values)
    for name, doc in config_flags.field_docs(neural_ode.Config).items():
        assert doc in values[name].help, name
    values(["prog", "--solvers=resnet,dopri5", "--rtol=1e-4", "--steps=2"])
    config = config_flags.parse(neural_ode.Config, flag_values=values)
    assert config.solvers == ("resnet", "dopri5")
    assert (config.rtol, config.steps) == (1e-4, 2)


@pytest.mark.slow
def test_command_line_compares_resnet_and_rk4(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.neural_ode",
         "--solvers=resnet,rk4", "--steps=1", "--epochs=5", "--filters=8",
         "--batch_size=32", "--learning_rate=1e-2",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    resnet, rk4 = saved["runs"]["resnet"], saved["runs"]["rk4"]
    # The same f: the same parameters; 1 against 4 evaluations per pass.
    assert resnet["parameters"] == rk4["parameters"] == 3626
    assert resnet["block_parameters"] == rk4["block_parameters"] == 1344
    assert (resnet["test_nfe_mean"], rk4["test_nfe_mean"]) == (1.0, 4.0)
    assert rk4["train_nfe_per_epoch"] == [4.0] * 5
    for run in (resnet, rk4):
        loss = run["history"]["loss"]
        assert loss[-1] < 0.85 * loss[0]  # 2.29 -> 1.60 measured
        assert run["test_accuracy"] > 0.5  # 0.77 and 0.79 measured
        assert len(run["history"]["epoch_seconds"]) == 5
    assert f"rk4: test accuracy {rk4['test_accuracy']:.4f}" in done.stdout
    assert (tmp_path / "trajectory_rk4.png").exists()
    assert not (tmp_path / "trajectory_resnet.png").exists()
    assert (tmp_path / "rk4" / "metrics.json").exists()


def test_nfe_log_keeps_the_epochs_before_a_resume(tmp_path):
    class Block:  # the one attribute NFELog reads: the nfe weight
        nfe = tf.Variable(0.0)

    path = tmp_path / "train_nfe.json"
    log = neural_ode.NFELog(Block, path)
    for epoch, seen in enumerate([(7.0, 13.0), (25.0, 25.0)]):
        for value in seen:
            Block.nfe.assign(value)
            log.on_train_batch_end(0)
        log.on_epoch_end(epoch)
    assert json.loads(path.read_text()) == [10.0, 25.0]
    resumed = neural_ode.NFELog(Block, path)  # a rerun resumes at epoch 1
    Block.nfe.assign(31.0)
    resumed.on_train_batch_end(0)
    resumed.on_epoch_end(1)
    assert resumed.per_epoch == [10.0, 31.0]
