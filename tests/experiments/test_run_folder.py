"""The run folder of experiments.train: what it records, what a rerun may
change, and the trained model handed back."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from experiments import train
from experiments.rundir import usable_run_dir
from tests.conftest import REPO


def _config(folder, **kwargs):
    defaults = dict(model="mlp", epochs=1, verbose=0, model_dir=str(folder))
    return train.Config(**{**defaults, **kwargs})


def test_a_rerun_of_another_run_is_refused_and_restart_moves_it(tmp_path):
    folder = tmp_path / "run"
    first = train.train_and_evaluate(_config(folder))
    record = json.loads((folder / "run.json").read_text())
    assert record["model"] == "mlp" and record["learning_rate"] == 1e-3
    assert record["split"] == {"train": 1437, "test": 360}
    with pytest.raises(ValueError) as e:
        train.train_and_evaluate(
            _config(folder, learning_rate=0.01, optimizer="sgd")
        )
    message = str(e.value)
    assert "learning_rate 0.001 -> 0.01" in message
    assert "optimizer 'adam' -> 'sgd'" in message
    assert "--restart" in message and "--model_dir" in message
    # More epochs continue the same run.
    more = train.train_and_evaluate(_config(folder, epochs=2))
    assert more["history"]["loss"][0] == first["history"]["loss"][0]
    assert len(more["history"]["loss"]) == 2
    # --restart moves the old run aside, whole, and starts anew.
    again = train.train_and_evaluate(
        _config(folder, learning_rate=0.01, restart=True)
    )
    (old,) = tmp_path.glob("run.old-*")
    assert (old / "checkpoints").is_dir() and (old / "model.keras").exists()
    assert len(again["history"]["loss"]) == 1
    assert (
        json.loads((folder / "run.json").read_text())["learning_rate"] == 0.01
    )


def test_model_dir_is_checked_and_expanded_before_anything_is_built(
    tmp_path, monkeypatch
):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="model_dir='.*file' is a file"):
        usable_run_dir(str(a_file), "mlp", "digits")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RUNS", "runs_here")
    path = usable_run_dir("~/$RUNS/x", "mlp", "digits")
    assert path == tmp_path / "runs_here" / "x" and path.is_dir()


def test_files_of_a_run_folder_share_their_permissions(tmp_path):
    train.train_and_evaluate(_config(tmp_path / "run"))
    modes = {
        p.name: oct(p.stat().st_mode & 0o777)
        for p in (tmp_path / "run").iterdir()
        if p.is_file()
    }
    assert set(modes) >= {"metrics.json", "history.json", "run.json"}
    assert len(set(modes.values())) == 1, modes


def _cli(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.train", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_and_exits_cleanly(tmp_path, signum):
    folder = tmp_path / "run"
    args = ["--model=mlp", "--steps_per_execution=1", "--verbose=0"]
    proc = _cli(*args, "--epochs=1000", f"--model_dir={folder}")
    deadline = time.monotonic() + 120
    while not (folder / "history.json").exists():  # an epoch is done
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "stopped by" in x]
    name = signal.Signals(signum).name
    assert f"experiments.train: stopped by {name} at step" in line
    assert "checkpoint saved:" in line and "resumes" in line
    step = int(line.split(" at step ")[1].split()[0])
    epoch = int(line.split(" of epoch ")[1].split(";")[0])
    history = json.loads((folder / "history.json").read_text())
    assert len(history["loss"]) == epoch - 1  # that epoch was not finished
    # The same command with --epochs up to that epoch finishes it.
    rerun = _cli(*args, f"--epochs={epoch}", f"--model_dir={folder}")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err[-3000:]
    assert 0 < step < 23
    saved = json.loads((folder / "metrics.json").read_text())
    assert len(saved["history"]["loss"]) == epoch


# Models whose test metrics draw random numbers (a sampled z, noise).
STOCHASTIC = {"vae", "conv_vae", "dbvae", "dcgan"}


@pytest.mark.slow
def test_model_keras_loads_in_a_fresh_python_for_every_model(tmp_path):
    from experiments import registry

    folders = {}
    for name in registry.models():
        if name == "capsnet":  # needs images of 17 pixels or more
            continue
        folder = tmp_path / name
        train.train_and_evaluate(
            _config(folder, model=name, batch_size=256, verbose=0)
        )
        assert (folder / "model.keras").exists(), name
        classifier = registry.get(name).headline == "accuracy"
        assert (folder / "export").is_dir() == classifier, name
        folders[name] = folder
    # A fresh Python: import keras_cheats (it registers the layers), load
    # each model.keras, and evaluate it as `experiments.evaluate` does.
    script = (
        "import json, sys, numpy as np, keras, keras_cheats\n"
        "from experiments.evaluate import evaluate\n"
        "for folder in sys.argv[1:]:\n"
        "    model = keras.models.load_model(folder + '/model.keras')\n"
        "    model(np.zeros((2, 8, 8, 1), np.float32), training=False)\n"
        "    print(json.dumps(evaluate(folder)))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, folders.values())],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    evaluated = dict(
        zip(folders, map(json.loads, done.stdout.strip().splitlines()))
    )
    for name, folder in folders.items():
        trained = json.loads((folder / "metrics.json").read_text())["test"]
        if name in STOCHASTIC:  # z is sampled: only the keys must agree
            assert set(evaluated[name]) <= set(trained), name
            continue
        for key, value in evaluated[name].items():
            assert value == pytest.approx(trained[key], rel=1e-5), (name, key)
