"""experiments.anomaly: the ROC AUC, --held_out, and the experiment run
as users run it."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags

from experiments import anomaly, config_flags
from tests.conftest import REPO


def test_roc_auc_hand_computed():
    # Negatives 0.1, 0.4; positives 0.35, 0.8. Of the 4 (positive,
    # negative) pairs the positive scores higher in 3 (0.35 < 0.4): 3/4.
    auc = anomaly.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert auc == pytest.approx(0.75)
    # A tie counts 1/2: positives 0.9, 0.4 against 0.1, 0.4 -> 3.5 / 4.
    tied = anomaly.roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4])
    assert tied == pytest.approx(0.875)
    assert anomaly.roc_auc([1, 0, 0], [1.0, 2.0, 3.0]) == 0.0


def test_roc_auc_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least one of each"):
        anomaly.roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length"):
        anomaly.roc_auc([1, 0], [0.1])
    with pytest.raises(ValueError, match="finite"):
        anomaly.roc_auc([1, 0], [float("nan"), 0.1])
    with pytest.raises(ValueError, match="0/1"):
        anomaly.roc_auc([2, 0], [0.2, 0.1])


def test_held_out_names_one_class_or_all():
    assert anomaly.held_out_classes("3", 10) == (3,)
    assert anomaly.held_out_classes("all", 4) == (0, 1, 2, 3)
    with pytest.raises(ValueError, match="held_out=10; .* from 0 to 9"):
        anomaly.held_out_classes("10", 10)
    with pytest.raises(ValueError, match="held_out=-1; expected a class"):
        anomaly.Config(held_out="-1")
    with pytest.raises(ValueError, match="held_out='abc'; expected a class"):
        anomaly.Config(held_out="abc")
    with pytest.raises(ValueError, match="model='vae'"):
        anomaly.Config(model="vae")
    with pytest.raises(ValueError, match="epochs=0"):
        anomaly.Config(epochs=0)


def test_flags_keep_their_names_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(anomaly.Config, flag_values=values)
    for name, doc in config_flags.field_docs(anomaly.Config).items():
        assert doc in values[name].help, name
    # The commands in README and BUILD.md: --held_out=all stays a value.
    values(["prog", "--held_out=all", "--model=conv_ae", "--epochs=2"])
    config = config_flags.parse(anomaly.Config, flag_values=values)
    assert (config.held_out, config.model, config.epochs) == (
        "all",
        "conv_ae",
        2,
    )


def test_a_class_beyond_the_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="held_out=10; .* from 0 to 9"):
        anomaly.train_and_evaluate(anomaly.Config(held_out="10"), tmp_path)


@pytest.mark.slow
def test_command_line_detects_the_held_out_digit(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.anomaly", "--held_out=0",
         "--epochs=3", "--learning_rate=3e-3", f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    run = saved["held_out"]["0"]
    assert run["num_held_out"] == 36 and run["num_normal"] == 324
    # The held-out zeros reconstruct worse than the digits seen in training.
    assert run["mean_error_held_out"] > run["mean_error_normal"]
    assert run["auroc"] > 0.8  # 0.94 measured
    assert f"held-out class 0: ROC AUC {run['auroc']:.4f}" in done.stdout
    run_dir = tmp_path / "held_out_0"
    assert (run_dir / "most_anomalous_held_out_0.png").exists()
    assert (run_dir / "metrics.json").exists()
