"""experiments.memory: its config, its pictures, and the experiment run
as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from experiments import config_flags, memory, memory_charts
from tests.conftest import REPO


def test_config_errors_name_the_flag():
    with pytest.raises(ValueError, match="models='ntm,gru'; expected"):
        memory.Config(models=("ntm", "gru"))
    with pytest.raises(
        ValueError, match="max_length=2; expected an integer >= 3"
    ):
        memory.Config(min_length=3, max_length=2)
    with pytest.raises(ValueError, match="eval_lengths=0"):
        memory.Config(eval_lengths=(10, 0))
    with pytest.raises(ValueError, match="clip_norm"):
        memory.Config(clip_norm=0.0)
    with pytest.raises(ValueError, match="dataset"):
        memory.Config(dataset="recall")


def test_flags_parse_lists_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(memory.Config, flag_values=values)
    for name, doc in config_flags.field_docs(memory.Config).items():
        assert doc in values[name].help, name
    values(["prog", "--models=ntm", "--eval_lengths=5,50", "--epochs=2"])
    config = config_flags.parse(memory.Config, flag_values=values)
    assert config.models == ("ntm",) and config.eval_lengths == (5, 50)


def test_accuracy_chart_draws_each_model_where_expected():
    image = memory_charts.accuracy_chart(
        [10, 20], {"ntm": [1.0, 1.0], "lstm": [0.5, 0.5]}, train_length=10
    )
    assert image.shape == (240 + 52, 400 + 56, 3)
    blue = np.all(np.isclose(image, memory_charts.COLORS["ntm"]), axis=-1)
    red = np.all(np.isclose(image, memory_charts.COLORS["lstm"]), axis=-1)
    # 100% is the top gray line (row 20), 50% the bottom one (row 260).
    assert abs(np.flatnonzero(blue.any(1)).mean() - 20) < 4
    assert abs(np.flatnonzero(red.any(1)).mean() - 260) < 4


def test_weightings_picture_crops_to_the_rows_used():
    write = np.zeros((3, 10))
    write[[0, 1, 2], [2, 3, 4]] = 1.0  # rows 2..4 written
    read = np.zeros((3, 10))
    read[:, 2] = 1.0
    image = memory_charts.weightings_picture(write, read, scale=2)
    assert image.shape == (3 * 2, 2 * 3 * 2 + 4 * 2, 3)  # rows 2..4, T=3
    assert image[0, 0, 0] == 0.0 and image[0, 2, 0] == 1.0  # row 2, t 0


def test_used_rows_follow_a_head_that_wraps_around():
    write = np.zeros((4, 10))
    write[[0, 1, 2, 3], [8, 9, 0, 1]] = 1.0  # rows 8, 9, then 0, 1
    read = np.zeros((4, 10))
    read[:, 9] = 0.5
    np.testing.assert_array_equal(
        memory_charts.used_rows(write, read), [8, 9, 0, 1]
    )
    assert len(memory_charts.used_rows(write * 0, read * 0)) == 10


@pytest.mark.slow
def test_command_line_trains_both_and_scores_each_length(tmp_path):
    # A tiny NTM (3-bit vectors, sequences of 1 or 2) whose loss falls.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.memory", "--bits=3",
         "--units=16", "--memory_rows=8", "--memory_width=6",
         "--train_sequences=64", "--batch_size=16", "--epochs=6",
         "--learning_rate=1e-2", "--max_length=2", "--eval_lengths=2,5",
         "--eval_sequences=8", "--trace_length=4",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["models"]) == {"ntm", "lstm"}
    ntm_run, lstm_run = saved["models"]["ntm"], saved["models"]["lstm"]
    loss = ntm_run["history"]["loss"]
    assert loss[-1] < 0.9 * loss[0], loss  # 0.696 -> 0.563 measured
    # The LSTM is sized to the NTM's parameter count (within one unit).
    assert abs(lstm_run["params"] - ntm_run["params"]) < 0.1 * ntm_run["params"]
    for run in (ntm_run, lstm_run):
        assert run["epochs_trained"] == 6 and len(run["history"]["loss"]) == 6
        for length in ("2", "5"):
            scores = run["lengths"][length]
            assert 0 <= scores["bit_accuracy"] <= 1
            # 8 sequences of `length` 3-bit vectors.
            errors = (1 - scores["bit_accuracy"]) * int(length) * 3
            assert scores["bit_errors_per_sequence"] == pytest.approx(errors)
    row = done.stdout.splitlines()[1].split()
    assert row[0] == "2" and row[-1] == "(trained)"
    assert float(row[1]) == pytest.approx(
        ntm_run["lengths"]["2"]["bit_accuracy"], abs=1e-4
    )
    for png in ("accuracy_vs_length.png", "ntm_weightings.png"):
        assert (tmp_path / png).stat().st_size > 0
    assert (tmp_path / "ntm" / "history.json").exists()
