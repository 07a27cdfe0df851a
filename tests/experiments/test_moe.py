"""experiments.moe: parameter matching, the Config's checks, and the
experiment run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from experiments import config_flags, moe
from tests.conftest import REPO


def test_parameter_counts_hand_computed():
    # d = 128, E = 8, k = 2, h = 64 on 8 x 8 digits, 10 classes:
    # trunk 64 * 128 + 128 = 8,320; gate (W_g, W_noise) 2 * 128 * 8 =
    # 2,048; one expert 257 * 64 + 128 = 16,576; head 128 * 10 + 10 =
    # 1,290. Active: 8,320 + 2,048 + 2 * 16,576 + 1,290 = 44,810;
    # total: 8,320 + 2,048 + 8 * 16,576 + 1,290 = 144,266.
    config = moe.Config()
    counts = {
        arm: moe.parameter_counts(
            moe.build_model(arm, config, (8, 8, 1), 10, seed=0), config
        )
        for arm in config.arms()
    }
    assert counts["moe"] == {"total": 144_266, "active": 44_810}
    assert counts["moe_no_aux"] == counts["moe"]
    # Dense blocks of 257 H + 128: H = 136 (35,080 vs the MoE's active
    # 35,200) and H = 523 (134,539 vs 134,656): within one hidden unit.
    assert counts["dense_active"] == {
        "total": 44_690, "active": 44_690, "units": 136,
    }  # fmt: skip
    assert counts["dense_total"]["units"] == 523
    assert abs(counts["dense_total"]["total"] - 144_266) <= 257 / 2


def test_config_errors_name_the_argument():
    for kwargs, match in [
        ({"k": 9}, "k=9; expected an integer from 1 to num_experts=8"),
        ({"num_experts": 0}, "num_experts=0"),
        ({"capacity_factor": -1.0}, "capacity_factor=-1.0"),
        ({"aux_weight": -0.1}, "aux_weight=-0.1"),
        ({"balance_loss": "cv"}, "balance_loss='cv'"),
        ({"learning_rate": 0.0}, "learning_rate=0.0"),
        ({"seeds": 0}, "seeds=0"),
    ]:
        with pytest.raises(ValueError, match=match):
            moe.Config(**kwargs)
    assert moe.Config(aux_weight=0.0, compare_total=False).arms() == (
        "moe",
        "dense_active",
    )


def test_flags_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(moe.Config, flag_values=values)
    for name, doc in config_flags.field_docs(moe.Config).items():
        assert doc in values[name].help, name
    values(["prog", "--aux_weight=0", "--nonoisy", "--balance_loss=importance"])
    config = config_flags.parse(moe.Config, flag_values=values)
    assert (config.aux_weight, config.noisy, config.balance_loss) == (
        0.0,
        False,
        "importance",
    )


@pytest.mark.slow
def test_command_line_trains_every_arm_and_draws_the_load(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.moe", "--epochs=2",
         "--width=32", "--expert_units=16", "--num_experts=4",
         "--nocompare_total", "--learning_rate=3e-3",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["arms"]) == {"moe", "moe_no_aux", "dense_active"}
    for arm, result in saved["arms"].items():
        run = result["runs"][0]
        assert run["test_accuracy"] > 0.6, arm  # 360 test digits
        assert f"{arm}: test accuracy {run['test_accuracy']:.4f}" in (
            done.stdout
        )
    load = saved["arms"]["moe"]["runs"][0]["load"]
    assert load["tokens"] == 360
    assert sum(load["routed"]) == pytest.approx(1.0)
    assert sum(load["routed"]) - sum(load["kept"]) == pytest.approx(
        load["dropped"]
    )
    routing = np.array(saved["arms"]["moe"]["runs"][0]["class_routing"])
    assert routing.shape == (10, 4)
    np.testing.assert_allclose(routing.sum(1), 1.0)
    assert saved["params"]["moe"]["active"] < saved["params"]["moe"]["total"]
    for name in ("expert_load.png", "class_routing.png"):
        png = tf.io.decode_png(tf.io.read_file(str(tmp_path / name)))
        assert png.shape[-1] == 3 and png.shape[0] > 50, name
