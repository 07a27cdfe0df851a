"""`experiments.train --strategy=multiworker`, as users run it: two worker
processes on localhost sharing one --model_dir (shared storage, as on a
cluster), against one process of the same global batch.

One test, in the order a cluster lives through it: a worker is SIGKILLed in
the middle of an epoch (the other stops within bounded time, one line, exit
75); the rerun is preempted (SIGTERM to one worker: both stop at the same
step, exit 143); the second rerun finishes. Its metrics.json equals one
process of the same global batch within 1e-5 (so it equals an
uninterrupted two-worker run as well: tests/loops/test_engine.py checks
that two replicas equal one device).
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

COMMON = [
    "--model=mlp", "--seed=3", "--verbose=0", "--epochs=3",
    "--steps_per_execution=8",  # 16 calls per epoch: boundaries to stop at
]  # fmt: skip


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


def _two_workers(args):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    tasks = [{"type": "worker", "index": i} for i in range(2)]
    return [_train(args, {"cluster": cluster, "task": t}) for t in tasks]


def _finish(procs, status=0, timeout=300):
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=timeout)
        assert p.returncode == status, err[-3000:]
        errors.append(err)
    return errors


def _wait_for_checkpoints(folder, n, procs, timeout=180):
    """Waits until the chief's folder holds `n` checkpoints."""
    deadline = time.monotonic() + timeout
    while len(list((folder / "checkpoints").glob("ckpt-*.index"))) < n:
        for p in procs:
            assert p.poll() is None, p.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"no checkpoint {n} in {folder}"
        time.sleep(0.05)


def _last_line(err):
    assert "Traceback" not in err, err[-3000:]
    return err.strip().splitlines()[-1]


def _history(folder):
    return json.loads((folder / "metrics.json").read_text())["history"]


def _assert_close(a, b, atol=1e-5):
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(a[key]) == len(b[key]) == 3, key
        assert a[key] == pytest.approx(b[key], abs=atol), key


@pytest.mark.slow
def test_two_workers_survive_a_lost_peer_and_sigterm_then_equal_one_process(
    tmp_path, mnist_dir
):
    data = f"--dataset=idx:{mnist_dir}"
    single, run = tmp_path / "single", tmp_path / "run"
    _finish([_train([data, f"--model_dir={single}"])])
    args = [data, "--strategy=multiworker", f"--model_dir={run}"]

    # SIGKILL worker 1 in epoch 2: the chief stops, bounded, in one line.
    procs = _two_workers(args)
    _wait_for_checkpoints(run, 1, procs)
    time.sleep(0.3)
    procs[1].kill()
    killed = time.monotonic()
    (err,) = _finish(procs[:1], status=75, timeout=120)
    assert time.monotonic() - killed < 60
    assert _last_line(err).startswith(
        "experiments.train: lost a peer, /job:worker/replica:0/task:1 ("
    ), err[-3000:]
    assert "rerun every worker with the same command to resume from " in err
    procs[1].communicate()

    # The rerun resumes; SIGTERM to worker 1 in epoch 3 stops both at the
    # same call boundary, after one save into the chief's folder.
    procs = _two_workers(args)
    _wait_for_checkpoints(run, 2, procs)
    time.sleep(0.3)
    procs[1].terminate()
    lines = [_last_line(err) for err in _finish(procs, status=143)]
    assert lines[0] == lines[1], lines
    pattern = (
        r"experiments\.train: stopped by SIGTERM at step \d+ of epoch 3; "
        rf"checkpoint saved: {re.escape(str(run))}/checkpoints/ckpt-\d+; "
        "the same command resumes"
    )
    assert re.fullmatch(pattern, lines[0]), lines[0]

    # The second rerun finishes, from within epoch 3, as if never stopped.
    _finish(_two_workers(args))
    _assert_close(_history(run), _history(single))
    # What one process writes, the two workers write once: worker 1's
    # throwaway checkpoints are gone.
    assert sorted(p.name for p in run.iterdir()) == sorted(
        p.name for p in single.iterdir()
    )
    assert not list(run.glob(".worker_*"))
