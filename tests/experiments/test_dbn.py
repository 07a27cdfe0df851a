"""experiments.dbn: its Config, the labelled subsets, and the experiment
run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from experiments import config_flags, dbn
from tests.conftest import REPO


def test_labelled_subset_takes_so_many_per_class():
    y = np.array([0, 1, 2] * 10 + [2] * 5)
    keep = dbn.labelled_subset(y, "3", seed=0)
    assert np.bincount(y[keep]).tolist() == [3, 3, 3]
    assert len(set(keep)) == 9 and np.all(np.diff(keep) > 0)
    assert not np.array_equal(keep, dbn.labelled_subset(y, "3", seed=1))
    np.testing.assert_array_equal(keep, dbn.labelled_subset(y, "3", seed=0))
    assert len(dbn.labelled_subset(y, "all", seed=0)) == len(y)
    assert np.bincount(y[dbn.labelled_subset(y, "12", 0)]).tolist() == [
        10, 10, 12,
    ]  # fmt: skip


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="hidden_units=.*integers >= 1"):
        dbn.Config(hidden_units=(64, 0))
    with pytest.raises(ValueError, match="cd_k=0; expected an integer"):
        dbn.Config(cd_k=0)
    with pytest.raises(ValueError, match="rbm_momentum=1"):
        dbn.Config(rbm_momentum=1)
    with pytest.raises(ValueError, match="labels_per_class='10,some'"):
        dbn.Config(labels_per_class=("10", "some"))
    with pytest.raises(ValueError, match="labels_per_class='0'"):
        dbn.Config(labels_per_class=("0",))
    with pytest.raises(ValueError, match="finetune_optimizer='rmsprop'"):
        dbn.Config(finetune_optimizer="rmsprop")
    with pytest.raises(ValueError, match="seeds=.*different"):
        dbn.Config(seeds=(1, 1))
    with pytest.raises(ValueError, match="weight_cost=-0.1"):
        dbn.Config(weight_cost=-0.1)
    assert dbn.Config(labels_per_class=(10, "all")).labels_per_class == (
        "10",
        "all",
    )


def test_flags_keep_their_names_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(dbn.Config, flag_values=values)
    for name, doc in config_flags.field_docs(dbn.Config).items():
        assert doc in values[name].help, name
    values(["prog", "--hidden_units=64,32", "--labels_per_class=10,all"])
    config = config_flags.parse(dbn.Config, flag_values=values)
    assert config.hidden_units == (64, 32)
    assert config.labels_per_class == ("10", "all")


@pytest.mark.slow
def test_command_line_pretrains_and_fine_tunes(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.dbn", "--dataset=digits",
         "--hidden_units=32,16", "--rbm_epochs=4", "--labels_per_class=10",
         "--seeds=0", "--finetune_steps=20", f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    first, second = saved["rbms"]
    assert (first["visible"], first["hidden"]) == (64, 32)
    assert (second["visible"], second["hidden"]) == (32, 16)
    for layer in saved["rbms"]:  # 0.074 -> 0.047 and 0.019 -> 0.004
        assert (
            layer["reconstruction_error_after"]
            < 0.8 * layer["reconstruction_error_before"]
        )
        assert len(layer["history"]["reconstruction_error"]) == 4
    run = saved["finetune"]["10"]
    assert run["num_labelled"] == 100 and run["passes"] == 20
    assert len(run["dbn"]) == len(run["scratch"]) == 1
    # After 20 steps the pretrained network is well above chance (0.42
    # measured); the same MLP from scratch is not yet (0.10).
    assert run["dbn"][0] > 0.25 and 0 <= run["scratch"][0] <= 1
    assert f"test accuracy DBN {run['mean_dbn']:.4f}" in done.stdout
    assert "RBM 2 (32-16): test reconstruction error" in done.stdout
    filters = (tmp_path / "rbm_filters.png").read_bytes()
    assert filters.startswith(b"\x89PNG")
    # 32 filters of 8x8 in 8 columns, 1-pixel gaps: 37 x 73 pixels.
    assert int.from_bytes(filters[16:20], "big") == 73  # width
    assert int.from_bytes(filters[20:24], "big") == 37  # height
    assert (tmp_path / "reconstructions.png").exists()
    assert (tmp_path / "rbm_1" / "history.json").exists()
