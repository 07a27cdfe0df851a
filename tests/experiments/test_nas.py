"""experiments.nas: its checks, the validation split, and the search run
as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from experiments import config_flags, nas
from experiments import data as data_lib
from tests.conftest import REPO


def test_config_errors_name_the_argument_and_what_was_expected():
    for kwargs, message in [
        ({"space": "rnn"}, r"`space` must be one of \['mlp', 'cnn'\]"),
        ({"tuner": "bayes"}, "received tuner='bayes'"),
        ({"max_trials": 0}, "max_trials=0; expected an integer >= 1"),
        ({"epochs": 1.5}, "epochs=1.5; expected an integer >= 1"),
        ({"hyperband_factor": 1}, "hyperband_factor=1; .* >= 2"),
        ({"validation_fraction": 0.0}, r"in \(0, 0.5\]; received"),
        ({"validation_fraction": 0.7}, "validation_fraction=0.7"),
    ]:
        with pytest.raises(ValueError, match=message):
            nas.Config(**kwargs)
    assert nas.Config().tuners() == ("random", "hyperband")
    assert nas.Config(tuner="hyperband").tuners() == ("hyperband",)


def test_flags_keep_their_names_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(nas.Config, flag_values=values)
    for name, doc in config_flags.field_docs(nas.Config).items():
        assert doc in values[name].help, name
    values(["prog", "--tuner=hyperband", "--space=cnn", "--max_trials=4"])
    config = config_flags.parse(nas.Config, flag_values=values)
    assert (config.tuner, config.space, config.max_trials) == (
        "hyperband",
        "cnn",
        4,
    )


def test_validation_is_carved_from_the_training_images_only():
    x = np.arange(50, dtype=np.float32).reshape(50, 1, 1, 1)
    split = data_lib.Split(x, np.arange(50) % 10)
    fit, val = nas.carve_validation(split, 0.2, seed=3)
    assert (len(fit), len(val)) == (40, 10)
    seen = np.concatenate([fit.x.ravel(), val.x.ravel()])
    np.testing.assert_array_equal(np.sort(seen), x.ravel())  # a partition
    np.testing.assert_array_equal(fit.y, fit.x.ravel().astype(int) % 10)
    again, _ = nas.carve_validation(split, 0.2, seed=3)
    np.testing.assert_array_equal(again.x, fit.x)
    other, _ = nas.carve_validation(split, 0.2, seed=4)
    assert not np.array_equal(other.x, fit.x)
    with pytest.raises(ValueError, match="validation_fraction=0.001"):
        nas.carve_validation(split, 0.001, seed=0)


def test_without_keras_tuner_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_tuner", None)  # not installed
    for module in ("experiments.nas_space", "experiments.nas_tuners"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ValueError, match=r"keras-cheats\[nas\]"):
        nas.train_and_evaluate(nas.Config(), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # nothing claimed


@pytest.mark.slow
def test_command_line_searches_retrains_and_resumes(tmp_path):
    pytest.importorskip("keras_tuner", reason="the nas extra is not installed")
    from experiments import nas_tuners

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.nas", "--tuner=hyperband",
         "--epochs=1", f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["split"] == {"fit": 1150, "validation": 287, "test": 360}
    ((name, found),) = saved["searches"].items()
    assert name == "hyperband"
    # Hyperband with max_epochs=1: one bracket of one 1-epoch trial.
    assert found["budget"]["trials"] == found["budget"]["epochs"] == 1
    # + the retrained best + the default's test run and validation run
    assert saved["total_training_epochs"] == 4
    assert found["best_hyperparameters"]["optimizer"] in (
        "adam",
        "sgd",
        "rmsprop",
    )
    best, default = found["best"], saved["default"]
    assert 0.0 <= best["test_accuracy"] <= 1.0
    assert default["test_accuracy"] > 0.5  # the 784-128-10 MLP, 1 epoch
    assert f"retrained test accuracy {best['test_accuracy']:.4f}" in done.stdout
    assert 0.5 < default["val_accuracy"] <= 1.0
    assert (
        f"val accuracy {default['val_accuracy']:.4f}, test accuracy "
        f"{default['test_accuracy']:.4f}" in done.stdout
    )
    assert (tmp_path / "trials.png").exists()
    assert (tmp_path / "tuner" / "hyperband" / nas_tuners.SECONDS).exists()
    assert (tmp_path / "default" / "metrics.json").exists()
    # Another search in the same folder is refused, naming the change.
    with pytest.raises(ValueError, match="tuner 'hyperband' -> 'random'"):
        nas.train_and_evaluate(nas.Config(tuner="random", epochs=1), tmp_path)
