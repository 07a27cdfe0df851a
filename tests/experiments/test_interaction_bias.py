"""experiments.interaction_bias: the stream's class shares, the splits, the
chart, and the experiment run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import interaction_bias as ib
from experiments import limits_charts
from tests.conftest import REPO


def test_stream_shares_hand_computed():
    np.testing.assert_allclose(
        ib.stream_shares(4, (0,), 0.7), [0.7, 0.1, 0.1, 0.1]
    )
    np.testing.assert_allclose(
        ib.stream_shares(10, (0, 1, 2, 3, 4), 0.9), [0.18] * 5 + [0.02] * 5
    )
    with pytest.raises(ValueError, match="favoured=.*0 to 9"):
        ib.stream_shares(10, (3, 10), 0.9)


def test_class_counts_sum_to_the_size():
    assert ib.class_counts([0.5, 0.25, 0.25], 10).tolist() == [5, 3, 2]
    rng = np.random.default_rng(0)
    for size in (1, 7, 100, 999):
        shares = rng.dirichlet(np.ones(10))
        counts = ib.class_counts(shares, size)
        assert counts.sum() == size
        assert np.all(np.abs(counts - shares * size) < 1)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("skew", [0.5, 0.9, 1.0])
def test_stream_sampling_hits_the_shares(skew, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, 3000)
    shares = ib.stream_shares(10, (0, 1, 2, 3, 4), skew)
    picked = ib.sample_stream(labels, shares, 1000, rng)
    counts = np.bincount(labels[picked], minlength=10)
    np.testing.assert_array_equal(counts, ib.class_counts(shares, 1000))
    assert counts[:5].sum() == round(1000 * skew)
    assert len(set(picked.tolist())) == 1000  # enough images: no repeats


def test_stream_repeats_images_only_when_a_class_runs_out():
    labels = np.array([0] * 50 + [1] * 3)
    picked = ib.sample_stream(labels, [0.5, 0.5], 20, np.random.default_rng(0))
    ones = picked[labels[picked] == 1]
    assert len(ones) == 10 and set(ones.tolist()) <= {50, 51, 52}


def test_balanced_split_has_the_same_count_per_class():
    labels = np.array([0] * 40 + [1] * 21 + [2] * 30)
    dev, pool = ib.balanced_split(labels, 3, np.random.default_rng(0))
    assert np.bincount(labels[dev]).tolist() == [10, 10, 10]
    assert not set(dev.tolist()) & set(pool.tolist())
    assert np.bincount(labels[pool]).tolist() == [20, 11, 15]


def test_balancing_weights_give_every_class_the_same_weight():
    # Classes 0, 0, 0, 1: shares 3/4 and 1/4 -> 1 / (2 * 3/4) = 2/3 and 2.
    np.testing.assert_allclose(
        ib.balancing_weights([0, 0, 0, 1], 10), [2 / 3, 2 / 3, 2 / 3, 2]
    )
    labels = np.random.default_rng(0).integers(0, 7, 500)
    w = ib.balancing_weights(labels, 10)
    totals = np.bincount(labels, weights=w, minlength=10)
    np.testing.assert_allclose(totals[:7], 500 / 7, rtol=1e-5)
    assert w.mean() == pytest.approx(1.0)


def test_config_names_the_bad_value():
    with pytest.raises(ValueError, match="counter='ewc'"):
        ib.Config(counter=("none", "ewc"))
    with pytest.raises(ValueError, match="skew"):
        ib.Config(skew=1.5)
    with pytest.raises(ValueError, match="rounds=0"):
        ib.Config(rounds=0)


def test_chart_has_one_panel_per_counter_measure():
    rows = np.linspace(0.9, 0.5, 12).reshape(3, 4).tolist()
    one = limits_charts.per_class_chart({"none": {"per_class": rows}}, (0,))
    two = limits_charts.per_class_chart(
        {"none": {"per_class": rows}, "replay": {"per_class": rows}}, (0,)
    )
    assert two.shape[0] == one.shape[0] and two.shape[1] > 1.8 * one.shape[1]
    blue = np.all(np.isclose(one, limits_charts.BLUE), axis=-1)
    assert blue.sum() > 100  # the favoured group's thick mean line


@pytest.mark.slow
def test_command_line_shows_the_drift_and_the_replay_fix(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.interaction_bias", "--skew=1",
         "--rounds=1", "--stream_size=300", "--counter=none,replay",
         "--epochs=10", "--round_epochs=5", "--learning_rate=3e-3",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    none, replay = saved["counter"]["none"], saved["counter"]["replay"]
    assert np.array(none["per_class"]).shape == (2, 10)
    assert none["per_class"][0] == replay["per_class"][0]  # same start
    assert none["others_mean"][0] > 0.85  # 0.93 measured
    # Users sent only 0-4: the other digits are forgotten without replay.
    assert none["others_mean"][-1] < 0.5  # 0.10 measured
    assert replay["others_mean"][-1] > 0.8  # 0.93 measured
    assert none["favoured_mean"][-1] > 0.9
    others = none["others_mean"]
    assert f"other classes {others[0]:.4f} -> {others[-1]:.4f}" in done.stdout
    assert (tmp_path / "interaction_bias.png").stat().st_size > 1000
