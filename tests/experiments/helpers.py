"""What several experiment tests share: the command users run."""

import os
import subprocess
import sys

from tests.conftest import REPO


def start_train(*args):
    """`python -m experiments.train ARGS` started in the repository root,
    its output captured as text."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.train", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
