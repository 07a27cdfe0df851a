"""`experiments.train --strategy=multiworker`, as users run it: two worker
processes on localhost against one process of the same global batch."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO

COMMON = ["--model=mlp", "--dataset=digits", "--seed=3", "--verbose=0"]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _train(args, tf_config=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.train", *COMMON, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(procs, timeout=300):
    for p in procs:
        _, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-3000:]


def _two_workers(folder, epochs):
    """Both workers get the same --model_dir (shared storage, as on a
    cluster): the chief writes it, worker 1 restores from it."""
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = [
        _train(
            [f"--epochs={epochs}", "--strategy=multiworker",
             f"--model_dir={folder}"],
            {"cluster": cluster, "task": {"type": "worker", "index": i}},
        )
        for i in range(2)
    ]  # fmt: skip
    _finish(procs)


def _history(folder):
    return json.loads((folder / "metrics.json").read_text())["history"]


def _assert_close(a, b, atol=1e-5):
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert a[key] == pytest.approx(b[key], abs=atol), key


@pytest.mark.slow
def test_two_workers_equal_one_process_write_once_and_resume(tmp_path):
    chief, single = tmp_path / "run", tmp_path / "single"
    procs = [_train(["--epochs=3", f"--model_dir={single}"])]
    _two_workers(chief, epochs=2)
    _finish(procs)
    first, alone = _history(chief), _history(single)
    _assert_close(first, {k: v[:2] for k, v in alone.items()})
    # What one process writes, the two workers write once: worker 1's
    # throwaway checkpoints are gone.
    assert sorted(p.name for p in chief.iterdir()) == sorted(
        p.name for p in single.iterdir()
    )
    assert not list(chief.glob(".worker_*"))
    # Rerun both with one more epoch: they resume from the chief's
    # checkpoint and stay equal to the single process of 3 epochs.
    _two_workers(chief, epochs=3)
    resumed = _history(chief)
    assert len(resumed["loss"]) == 3
    assert resumed["loss"][:2] == first["loss"]
    _assert_close(resumed, alone)
