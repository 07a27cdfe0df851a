"""A run killed at any instant, then rerun, ends as if never killed."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

KILLS = 20
TIMES = ("epoch_seconds", "samples_per_second")


def _without_times(history):
    return {k: v for k, v in history.items() if k not in TIMES}


@pytest.mark.slow
def test_a_kill_at_any_of_20_instants_then_a_rerun_equals_one_run(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.experiments.kill_job", str(tmp_path),
         str(KILLS)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    whole, *reruns = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(reruns) == KILLS
    for rerun in reruns:
        assert not rerun.get("failed"), rerun
        assert rerun["strays"] == [], rerun
        assert _without_times(rerun["history"]) == _without_times(
            whole["history"]
        ), rerun["at"]
        assert rerun["test"] == whole["test"], rerun["at"]
        assert len(rerun["history"]["epoch_seconds"]) == 3
