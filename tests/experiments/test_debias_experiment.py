"""experiments.debias: its Config, the arms of a seed (paired: the same
initial weights and batch order), the matched oracle, the paired
summary, and the experiment run as users run it."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from experiments import config_flags, debias
from keras_cheats.models import dbvae
from tests.conftest import REPO


def test_config_errors():
    for fields, message in (
        ({"subgroup": "blur"}, "subgroup='blur'"),
        ({"arms": ("plain", "gan")}, "arms=('plain', 'gan'); expected"),
        ({"arms": ()}, "arms=(); expected"),
        ({"seeds": ()}, "seeds=''; expected a non-empty list"),
        ({"seeds": (1, 1)}, "seeds=(1, 1); expected different integers"),
        ({"seeds": ("a",)}, "seeds='a'; expected"),
        ({"alphas": (0.1, 0)}, "alphas=(0.1, 0); expected one or more"),
        ({"oracle_share": 1.0}, "oracle_share=1.0; expected a number in"),
        ({"arms": ("plain", "oracle")}, "give --oracle_share"),
        ({"rare_fraction": 0.5}, "rare_fraction=0.5; expected"),
        ({"rare_fraction": 0}, "rare_fraction=0; expected"),
        ({"bins": 0}, "bins=0; expected an integer >= 1"),
        ({"learning_rate": 0}, "learning_rate=0; expected a number > 0"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            debias.Config(**fields)
    # An oracle without resampling arms needs its share.
    debias.Config(arms=("plain", "oracle"), oracle_share=0.3)


def test_flags_keep_their_names_and_show_each_field_help():
    values = flags.FlagValues()
    config_flags.define(debias.Config, flag_values=values)
    for name, doc in config_flags.field_docs(debias.Config).items():
        assert doc in values[name].help, name
    values(["prog", "--seeds=3,4", "--alphas=0.5,0.05", "--oracle_share=0.2"])
    config = config_flags.parse(debias.Config, flag_values=values)
    assert config.seeds == (3, 4) and config.alphas == (0.5, 0.05)
    assert config.oracle_share == 0.2
    assert config.arms == debias.ARMS  # every arm by default


def test_arm_runs_sweep_alpha_and_put_the_oracle_last():
    config = debias.Config(arms=("oracle", "max", "plain"), alphas=(0.1, 1))
    assert debias.arm_runs(config) == [
        ("plain", "plain", None),
        ("max_a0.1", "max", 0.1),
        ("max_a1", "max", 1),
        ("oracle", "oracle", None),
    ]
    names = [name for name, _, _ in debias.arm_runs(debias.Config())]
    assert names == [
        "plain", "uniform", "max_a0.001", "max_a0.01", "max_a0.1",
        "product_a0.001", "product_a0.01", "product_a0.1", "oracle",
    ]  # fmt: skip


def test_the_plain_classifier_starts_from_the_dbvae_encoder():
    config = dbvae.DBVAEConfig(latent_dim=3, seed=0)
    model = dbvae.build_dbvae((8, 8, 1), config)
    plain = debias._plain_classifier(model, (8, 8, 1), config)
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(
        np.asarray(plain(x))[:, 0], np.asarray(model(x)["logit"]), rtol=1e-5
    )


class _FakeArms:
    """Stands in for `_train_arm`: records each call and returns scores
    that depend on the arm and the seed only."""

    BONUS = {"plain": 0.0, "uniform": 0.01, "max": 0.05, "product": 0.02}

    def __init__(self):
        self.calls = []

    def __call__(self, kind, alpha, share, config, seed, train, test,
                 initial, path):  # fmt: skip
        self.calls.append((seed, kind, alpha, share, initial))
        if kind == "oracle":
            bonus = 0.2
        else:
            bonus = self.BONUS[kind] + (alpha or 0)
        return {
            "recall_common": 0.9,
            "recall_rare": 0.5 + bonus + 0.01 * seed,
            "error_common_negatives": 0.01,
            "error_rare_negatives": 0.02 + bonus / 10,
            "balanced_recall": 0.7,
            # The max arms draw the rare images at 0.05 + alpha.
            "rare_share_of_draws": 0.05 + (alpha or 0) + (kind == "product"),
        }


def test_every_arm_of_a_seed_starts_from_its_weights_and_pairs(
    tmp_path, monkeypatch
):
    fake = _FakeArms()
    monkeypatch.setattr(debias, "_train_arm", fake)
    config = debias.Config(
        arms=("plain", "max", "product", "oracle"), alphas=(0.1, 0.2),
        seeds=(0, 1, 2), latent_dim=2,
    )  # fmt: skip
    result = debias.train_and_evaluate(config, tmp_path / "run")
    # Per seed: plain, max and product at both alphas, then the oracle at
    # the largest rare share a max arm drew (0.05 + 0.2; the product arms
    # draw at 0.05 + alpha + 1 and are not matched).
    kinds = [(seed, kind, alpha) for seed, kind, alpha, _, _ in fake.calls]
    assert kinds == [
        (s, k, a)
        for s in (0, 1, 2)
        for k, a in (("plain", None), ("max", 0.1), ("max", 0.2),
                     ("product", 0.1), ("product", 0.2), ("oracle", None))
    ]  # fmt: skip
    for _, kind, _, share, _ in fake.calls:
        assert share == (pytest.approx(0.25) if kind == "oracle" else None)
    assert result["seeds"]["1"]["oracle_share"] == pytest.approx(0.25)
    # One initial model per seed, the same for all of its arms; another
    # seed, other weights.
    initial = {seed: [] for seed in (0, 1, 2)}
    for seed, _, _, _, model in fake.calls:
        initial[seed].append(model)
    for models in initial.values():
        assert all(m is models[0] for m in models)
    w0, w1 = (initial[s][0].get_weights()[0] for s in (0, 1))
    assert not np.allclose(w0, w1)
    # The data: 5% of every class of digits' 1,437 training images.
    run = result["seeds"]["0"]
    assert run["train_images"] == 1437 and run["train_target_images"] == 143
    assert run["train_rare_target_images"] == 7  # round(0.05 * 143)
    assert run["test_images_per_look"] == {"target": 36, "other": 324}
    # Summaries over seeds and paired differences against plain (the
    # seed effect, 0.01 * seed, cancels: the interval has no width).
    recall = result["summary"]["max_a0.2"]["recall_rare"]
    assert recall["values"] == pytest.approx([0.75, 0.76, 0.77])
    diff = result["paired"]["vs plain"]["max_a0.2"]["recall_rare"]
    assert diff["mean"] == pytest.approx(0.25)
    assert diff["low"] == pytest.approx(0.25)
    assert diff["high"] == pytest.approx(0.25)
    assert set(result["paired"]) == {"vs plain"}  # no uniform arm ran
    assert set(result["paired"]["vs plain"]) == {
        "max_a0.1", "max_a0.2", "product_a0.1", "product_a0.2", "oracle"
    }  # fmt: skip
    text = debias.summary(result)
    assert "70 of 1437 training images are 'rotate'" in text
    assert "7 of the 143 of class 7" in text
    assert "paired difference vs plain, mean [95% interval]:" in text
    assert re.search(r"oracle +\+0\.2000 \[\+0\.2000, \+0\.2000\]", text)


@pytest.mark.slow
def test_command_line_runs_paired_arms(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.debias", "--epochs=1",
         "--latent_dim=2", "--rare_fraction=0.1", "--seeds=1,2",
         "--arms=plain,oracle", "--oracle_share=0.5",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    run = saved["seeds"]["1"]
    assert run["train_rare_target_images"] == 14  # round(0.1 * 143)
    assert run["train_rare_images"] == 142  # sum of round(0.1 n_c)
    # The oracle drew the rotated sevens at about its share; the plain
    # arm saw each image once.
    oracle, plain = run["arms"]["oracle"], run["arms"]["plain"]
    assert oracle["rare_share_of_draws"] == pytest.approx(0.5, abs=0.1)
    assert plain["rare_share_of_draws"] == pytest.approx(14 / 143)

    # Paired batches: the same slots hold the same other-class images.
    def indices(arm):
        path = tmp_path / "seed_1" / arm / "resampling" / "epoch_0000.npz"
        with np.load(path) as cached:
            return cached["indices"]

    plain_order, oracle_order = indices("plain"), indices("oracle")
    assert len(plain_order) == 1437
    from experiments import data

    y = data.load_splits("digits")[0].y
    others = y[plain_order] != 7
    np.testing.assert_array_equal(oracle_order[others], plain_order[others])
    assert np.all(y[oracle_order[~others]] == 7)
    # Two seeds: a paired difference with a finite 95% interval.
    diff = saved["paired"]["vs plain"]["oracle"]["recall_rare"]
    assert diff["n"] == 2 and math.isfinite(diff["low"])
    assert diff["low"] <= diff["mean"] <= diff["high"]
    assert "14 of the 143 of class 7" in done.stdout
    assert "paired difference vs plain, mean [95% interval]:" in done.stdout
