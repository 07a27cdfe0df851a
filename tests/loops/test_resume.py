"""A run killed with SIGKILL and started again ends with the same weights."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO


def _job(model_dir, out, kill_at=None):
    args = [
        sys.executable,
        "-m",
        "tests.loops.resume_job",
        str(model_dir),
        str(out),
    ]
    if kill_at:
        args.append(str(kill_at))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_sigkill_then_rerun_matches_an_uninterrupted_run(tmp_path):
    whole = _job(tmp_path / "whole", tmp_path / "whole.npz")
    assert whole.returncode == 0, whole.stderr[-2000:]
    # 5 steps per epoch; checkpoints at steps 2 and 4 and each epoch's end.
    # Killed after step 3 of epoch 2: it resumes from step 2 of epoch 2.
    killed = _job(tmp_path / "cut", tmp_path / "cut.npz", kill_at=8)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "cut.npz").exists()
    resumed = _job(tmp_path / "cut", tmp_path / "cut.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = np.load(tmp_path / "whole.npz"), np.load(tmp_path / "cut.npz")
    assert len(a.files) == len(b.files) > 0
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name])
