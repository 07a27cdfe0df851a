"""`experiments.cli.run`: one-line usage errors, quiet logs, Ctrl-C.

Each test runs a fresh process, as a user would: the behaviour under test
is what reaches stderr and the exit status. Bad flag values fail before
any training, so each command takes seconds.
"""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

# TensorFlow's C++ start-up lines (CUDA probing and the like), which come
# before absl::InitializeLog and which TF_CPP_MIN_LOG_LEVEL does not hide.
_TF_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog"
    r"|[IWEF]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"
)


def _python(*args, timeout=120):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _own_lines(stderr):
    """stderr's non-empty lines less TensorFlow's start-up noise."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not _TF_NOISE.match(line)
    ]


def _run_main(body):
    """Runs `body` as the main of a program started with cli.run."""
    main = textwrap.indent(textwrap.dedent(body), "    ")
    return _python(
        "-c",
        f"from experiments import cli\n\ndef main(argv):\n{main}\n"
        "cli.run(main)\n",
    )


@pytest.mark.parametrize(
    "module, flag, message",
    [
        ("anomaly", "--held_out=-1", "held_out=-1; expected a class index"),
        ("anomaly", "--held_out=abc", "held_out='abc'; expected a class"),
        ("transfer", "--source_classes=a,b", "source_classes='a,b'; expected"),
        ("metric_learning", "--margin=-1", "margin=-1.0; expected a number"),
    ],
)
def test_bad_flag_value_is_one_line_and_exit_status_2(
    module, flag, message, tmp_path
):
    done = _python(
        "-m", f"experiments.{module}", flag, f"--model_dir={tmp_path}"
    )
    assert done.returncode == 2, done.stderr[-3000:]
    lines = _own_lines(done.stderr)
    assert lines[-1].startswith(f"experiments.{module}: error: {message}")
    assert lines[-1].endswith("; see --help")
    assert len(lines) < 5, lines  # no --help dump
    assert "Traceback" not in done.stderr


def test_absl_flag_parsing_errors_are_one_line_too():
    done = _python("-m", "experiments.anomaly", "--epochs=abc")
    assert done.returncode == 2
    lines = _own_lines(done.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("experiments.anomaly: error: flag --epochs=abc")
    assert lines[0].endswith("; see --help")


def test_usage_error_from_main_and_ctrl_c():
    usage = _run_main('from absl import app\nraise app.UsageError("x=1; bad")')
    assert usage.returncode == 2
    assert _own_lines(usage.stderr) == ["-c: error: x=1; bad; see --help"]
    interrupted = _run_main("raise KeyboardInterrupt")
    assert interrupted.returncode == 130
    assert _own_lines(interrupted.stderr) == ["interrupted"]


def test_help_exits_0_and_lists_the_config_fields():
    helped = _python("-m", "experiments.anomaly", "--help")
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "--held_out" in helped.stdout and "--model_dir" in helped.stdout


def test_tensorflow_info_is_hidden_but_warnings_and_own_info_stay(tmp_path):
    # Saving a checkpoint makes TensorFlow log "Sharding callback duration"
    # through absl at INFO (functional_saver.py), once per save.
    done = _run_main(
        f"""
        import tensorflow as tf
        from absl import logging
        tf.train.Checkpoint(v=tf.Variable(1.0)).write({str(tmp_path)!r})
        tf.get_logger().info("tf info")
        tf.get_logger().warning("tf warning")
        logging.info("own info")
        logging.warning("own warning")
        """
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Sharding callback duration" not in done.stderr
    assert "tf info" not in done.stderr
    for kept in ("tf warning", "own info", "own warning"):
        assert kept in done.stderr
