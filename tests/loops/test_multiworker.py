"""MultiWorkerMirroredStrategy with two worker processes on localhost."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start(index, ports, model_dir, out, epochs):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    args = [
        sys.executable,
        "-m",
        "tests.loops.multiworker_job",
        str(index),
        ",".join(map(str, ports)),
        str(model_dir),
        str(out),
        str(epochs),
    ]
    return subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_workers(model_dir, outs, epochs):
    ports = _free_ports(2)
    procs = [_start(i, ports, model_dir, outs[i], epochs) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]


def _single(tmp_path, epochs):
    out = tmp_path / f"single{epochs}.npz"
    p = _start(-1, [], tmp_path / f"single{epochs}", out, epochs)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]
    return np.load(out)


def _assert_same(a, b, atol):
    names = [n for n in a.files if n != "loss"]
    assert names and names == [n for n in b.files if n != "loss"]
    for n in names:
        np.testing.assert_allclose(a[n], b[n], atol=atol)


@pytest.mark.slow
def test_two_workers_match_one_process_and_resume(tmp_path):
    run = tmp_path / "multi"
    outs = [tmp_path / "w0.npz", tmp_path / "w1.npz"]
    _run_workers(run, outs, epochs=2)
    w0, w1 = np.load(outs[0]), np.load(outs[1])
    _assert_same(w0, w1, atol=0.0)  # identical on both workers
    _assert_same(w0, _single(tmp_path, 2), atol=1e-5)
    # Only the chief (worker 0) keeps checkpoints; worker 1's copy is gone.
    assert list((run / "checkpoints").glob("ckpt-*.index"))
    assert not list(run.glob(".worker_*"))
    # The same command with one more epoch resumes from epoch 2.
    _run_workers(run, outs, epochs=3)
    resumed = np.load(outs[0])
    assert len(resumed["loss"]) == 3
    _assert_same(resumed, _single(tmp_path, 3), atol=1e-5)
