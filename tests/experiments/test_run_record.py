"""Every experiment records its run in run.json and refuses to mix another
run into the same --model_dir (`experiments.rundir`), from the command
line; `experiments.train`'s own tests (test_run_folder.py) cover --restart
and resuming."""

import importlib
import json
import os
import re
import subprocess
import sys

import pytest

from experiments import rundir
from tests.conftest import REPO

# The other run in each folder: the module's defaults but seed 1; the
# command: seed 0.
OTHER_RUNS = {
    "metric_learning": {"seed": 1},
    "transfer": {"seed": 1},
    "multitask": {"seed": 1},
    "regularization": {"seed": 1},
    "anomaly": {"seed": 1},
    "debias": {"seeds": (1,)},
}
COMMAND = {"debias": ("--seeds=0", "seeds [1] -> [0]")}


def _other_run(folder, module):
    experiment = importlib.import_module(f"experiments.{module}")
    config = experiment.Config(**OTHER_RUNS[module])
    rundir.claim(folder, rundir.record_of(module, config))
    (folder / "metrics.json").write_text("{}")  # its result


def _start(module, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", f"experiments.{module}", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.mark.parametrize("module", sorted(OTHER_RUNS))
def test_every_experiment_refuses_another_run_in_its_folder(tmp_path, module):
    """Refused before anything is loaded or built: the seed-0 run's
    train_and_evaluate stops at once, and the other run is untouched."""
    _other_run(tmp_path, module)
    experiment = importlib.import_module(f"experiments.{module}")
    fields = {k: 0 if k == "seed" else (0,) for k in OTHER_RUNS[module]}
    _, change = COMMAND.get(module, (None, "seed 1 -> 0"))
    with pytest.raises(ValueError, match=re.escape(change)) as refused:
        experiment.train_and_evaluate(experiment.Config(**fields), tmp_path)
    assert "holds another run" in str(refused.value)
    assert "--restart" in str(refused.value)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {}


def test_the_refusal_is_one_line_from_the_command(tmp_path):
    folder = tmp_path / "anomaly"
    _other_run(folder, "anomaly")
    proc = _start("anomaly", f"--model_dir={folder}", "--seed=0")
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(
        f"experiments.anomaly: error: model_dir='{folder}' holds another run ("
    ), line
    assert "seed 1 -> 0" in line and line.endswith("; see --help")


@pytest.mark.parametrize("module", sorted(OTHER_RUNS))
def test_run_json_names_the_experiment_and_its_settings(tmp_path, module):
    folder = tmp_path / "run"
    _other_run(folder, module)
    record = json.loads((folder / "run.json").read_text())
    assert record["experiment"] == module
    assert (
        "seed" in record or "seeds" in record
    ) and "toolkit_version" in record
    assert not set(record) & rundir.RUN_NEUTRAL


def test_a_folder_holding_only_run_json_is_free(tmp_path):
    """A run that failed before any result (a bad option, say) does not
    lock its folder: the corrected command takes it."""
    rundir.claim(tmp_path, {"experiment": "x", "seed": 1})
    rundir.claim(tmp_path, {"experiment": "x", "seed": 2})
    assert json.loads((tmp_path / "run.json").read_text())["seed"] == 2
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="seed 2 -> 3"):
        rundir.claim(tmp_path, {"experiment": "x", "seed": 3})
