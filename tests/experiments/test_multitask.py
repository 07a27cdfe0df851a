"""experiments.multitask: shared trunk, several heads (section 2.5)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

import loops
from experiments import config_flags, multitask
from tests.conftest import REPO

_SMALL = multitask.Config(filters=(4,), dense_units=8)


def test_targets_derive_from_the_digit():
    prepare = multitask.make_targets(("digit", "parity", "magnitude"), 10)
    images = tf.zeros((10, 2, 2, 1))
    x, targets = prepare(images, tf.range(10, dtype=tf.int64))
    assert x is images
    np.testing.assert_array_equal(targets["digit"], np.arange(10))
    np.testing.assert_array_equal(targets["parity"], [0, 1] * 5)
    np.testing.assert_array_equal(targets["magnitude"], [0] * 5 + [1] * 5)
    assert multitask.head_classes(("digit", "parity"), 10) == {
        "digit": 10,
        "parity": 2,
    }


def test_model_has_one_trunk_and_a_head_per_task():
    classes = {"digit": 10, "parity": 2}
    model = multitask.build_multitask_model((8, 8, 1), classes, _SMALL)
    out = model(np.zeros((3, 8, 8, 1), np.float32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "digit": (3, 10),
        "parity": (3, 2),
    }
    conv = [layer for layer in model.layers if "conv" in layer.name]
    assert [layer.name for layer in conv] == ["conv_1"]  # shared, once
    trunk = (3 * 3 * 4 + 4) + (4 * 4 * 4 * 8 + 8)  # conv, dense (4x4 map)
    assert model.count_params() == trunk + (8 * 10 + 10) + (8 * 2 + 2)


def test_weighted_loss_and_per_head_metrics_match_numpy():
    heads = ("digit", "parity", "magnitude")
    weights = {"digit": 1.0, "parity": 0.5, "magnitude": 2.0}
    classes = multitask.head_classes(heads, 10)
    model = multitask.build_multitask_model((8, 8, 1), classes, _SMALL)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, 40)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    data = data.map(multitask.make_targets(heads, 10))
    got = loops.evaluate(model, multitask.make_task(heads, weights), data)

    logits = {k: np.asarray(v, np.float64) for k, v in model(x).items()}
    labels = {"digit": y, "parity": y % 2, "magnitude": (y >= 5).astype(int)}
    total = 0.0
    for head in heads:
        z = logits[head] - logits[head].max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        ce = -np.mean(log_p[np.arange(40), labels[head]])
        accuracy = np.mean(logits[head].argmax(axis=1) == labels[head])
        assert got[head] == pytest.approx(ce, rel=1e-5)
        assert got[f"{head}_accuracy"] == pytest.approx(accuracy)
        total += weights[head] * ce
    assert got["loss"] == pytest.approx(total, rel=1e-5)


@pytest.mark.slow
def test_command_line_learns_every_head_and_reports_them(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [
            sys.executable, "-m", "experiments.multitask", "--filters=8",
            "--dense_units=32", "--epochs=3", "--learning_rate=3e-3",
            "--set", "parity=0.5", "--verbose=0", f"--model_dir={tmp_path}",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["config"]["loss_weights"] == {
        "digit": 1.0,
        "parity": 0.5,
        "magnitude": 1.0,
    }
    history = saved["history"]
    for head in ("digit", "parity", "magnitude"):
        for key in (head, f"{head}_accuracy", f"val_{head}_accuracy"):
            assert len(history[key]) == 3, key
    test = saved["test"]
    assert test["digit_accuracy"] > 0.5  # chance 0.1
    assert test["parity_accuracy"] > 0.7  # chance 0.5
    assert test["magnitude_accuracy"] > 0.7
    # The weighted sum of the heads' test losses.
    total = test["digit"] + 0.5 * test["parity"] + test["magnitude"]
    assert test["loss"] == pytest.approx(total, rel=1e-4)
    # What it prints is `summary` of what it saved, a line per head.
    printed = done.stdout.strip().splitlines()
    assert printed[-5:] == multitask.summary(saved).splitlines()
    assert printed[-3].startswith("  parity     (2 classes, weight 0.5)")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heads": ("digit", "colour")}, r"heads=.*\('colour' is not one\)"),
        ({"heads": ()}, r"heads=\(\)"),
        ({"heads": ("digit", "digit")}, "expected distinct names"),
        ({"loss_weights": {"colour": 1}}, r"loss_weights=\{'colour': 1\}"),
        ({"loss_weights": {"digit": -1}}, r"loss_weights\['digit'\]=-1"),
        ({"loss_weights": {"digit": "a"}}, r"loss_weights\['digit'\]='a'"),
        ({"epochs": 0}, "epochs=0"),
        ({"filters": ("a",)}, r"filters='a'; expected a non-empty list"),
        ({"filters": ()}, "filters=''"),
        ({"dense_units": 0}, "dense_units=0; expected an integer >= 1"),
        ({"dropout": 1.0}, r"dropout=1.0; expected 0 <= dropout < 1"),
    ],
)
def test_config_errors_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        multitask.Config(**kwargs)


def _flags(*args):
    """The Config of a command line, through flags of its own."""
    values = flags.FlagValues()
    config_flags.define(multitask.Config, flag_values=values)
    values(["multitask", *args])
    return config_flags.parse(multitask.Config, flag_values=values), values


def test_command_line_flags_make_the_config():
    config, _ = _flags(
        "--heads=digit,parity", "--set", "parity=0.5", "--filters=4,8"
    )
    assert config.heads == ("digit", "parity")
    assert config.loss_weights == {"digit": 1.0, "parity": 0.5}
    assert config.filters == (4, 8)
    # No --set: every head weighs 1.
    config, values = _flags()
    assert config == multitask.Config()
    assert set(config.loss_weights.values()) == {1.0}
    with pytest.raises(ValueError, match="'magnitude' is not one"):
        _flags("--heads=digit", "--set", "magnitude=2")
    with pytest.raises(ValueError, match=r"loss_weights\['parity'\]='half'"):
        _flags("--set", "parity=half")
    # Every field's docstring is its flag's help (a dict field: --set).
    help_text = " ".join(values.get_help().split())
    for field, doc in config_flags.field_docs(multitask.Config).items():
        name = "set" if field == "loss_weights" else field
        assert f"--{name}" in help_text and doc in help_text, field
