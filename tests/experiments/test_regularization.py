"""experiments.regularization: the switches of section 2.2 and their gap."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from experiments import regularization as reg_lib
from experiments.regularization import Regularization
from tests.conftest import REPO


def _layers(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


def test_no_switch_is_a_plain_mlp():
    model = reg_lib.build_model((8, 8, 1), 10, Regularization(), (16, 8))
    assert model.losses == []
    assert not _layers(model, keras.layers.Dropout)
    assert not _layers(model, keras.layers.BatchNormalization)
    assert reg_lib.make_callbacks(Regularization()) == []


@pytest.mark.parametrize(
    ("switch", "penalty"),
    [
        ({"l2": 1e-2}, lambda w: 1e-2 * np.sum(w**2)),
        ({"l1": 1e-3}, lambda w: 1e-3 * np.sum(np.abs(w))),
        (
            {"l1": 1e-3, "l2": 1e-2},
            lambda w: 1e-3 * np.abs(w).sum() + 1e-2 * (w**2).sum(),
        ),
    ],
)
def test_penalties_are_in_model_losses(switch, penalty):
    model = reg_lib.build_model(
        (8, 8, 1), 10, Regularization(**switch), (16, 8)
    )
    kernels = [
        np.array(layer.kernel) for layer in _layers(model, keras.layers.Dense)
    ]
    assert len(model.losses) == len(kernels) == 3  # two hidden + output
    expected = sum(penalty(w.astype(np.float64)) for w in kernels)
    got = sum(float(v) for v in model.losses)
    assert got == pytest.approx(expected, rel=1e-5)


def test_dropout_batch_norm_and_early_stopping_switches():
    model = reg_lib.build_model(
        (8, 8, 1), 10, Regularization(dropout=0.5, batch_norm=True), (16, 8)
    )
    assert [d.rate for d in _layers(model, keras.layers.Dropout)] == [0.5, 0.5]
    assert len(_layers(model, keras.layers.BatchNormalization)) == 2
    (callback,) = reg_lib.make_callbacks(
        Regularization(early_stopping=True, patience=4)
    )
    assert isinstance(callback, keras.callbacks.EarlyStopping)
    assert callback.patience == 4 and callback.monitor == "val_loss"
    assert callback.restore_best_weights


def test_names_and_configurations():
    assert Regularization().name == "none"
    both = Regularization(
        l2=1e-3, dropout=0.5, batch_norm=True, early_stopping=True
    )
    assert both.name == "l2=0.001+dropout=0.5+batch_norm+early_stopping"
    assert [r.name for r in reg_lib.configurations()] == [
        "none",
        "l1=1e-05",
        "l2=0.0001",
        "dropout=0.5",
        "batch_norm",
        "early_stopping",
        "l2=0.0001+dropout=0.5+batch_norm+early_stopping",
    ]
    given = reg_lib.configurations(l2=0.01, batch_norm=True, patience=3)
    assert [r.name for r in given] == ["none", "l2=0.01+batch_norm"]
    assert all(r.patience == 3 for r in given)
    assert len(reg_lib.configurations(dropout=0.2, table=True)) == 7


def test_sample_splits_are_disjoint_and_seeded():
    from experiments.data import Split

    split = Split(
        np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1), np.arange(20)
    )
    train, val = reg_lib.sample_splits(split, 8, 5, seed=1)
    assert len(train) == 8 and len(val) == 5
    assert not set(train.y) & set(val.y)
    again, _ = reg_lib.sample_splits(split, 8, 5, seed=1)
    np.testing.assert_array_equal(again.y, train.y)
    with pytest.raises(ValueError, match="train_size=16 \\+ validation_size=5"):
        reg_lib.sample_splits(split, 16, 5, seed=1)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Regularization(dropout=1.0), "dropout=1.0"),
        (lambda: Regularization(l2=-1.0), "l2=-1.0"),
        (lambda: Regularization(patience=0), "patience=0"),
        (lambda: Regularization(early_stopping="yes"), "early_stopping='yes'"),
        (lambda: reg_lib.ExperimentConfig(train_size=0), "train_size=0"),
        (lambda: reg_lib.ExperimentConfig(learning_rate=0), "learning_rate=0"),
    ],
)
def test_bad_values_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.slow
def test_tiny_set_overfits_and_early_stopping_stops(tmp_path):
    config = reg_lib.ExperimentConfig(
        train_size=100,
        validation_size=200,
        epochs=40,
        learning_rate=1e-2,
        hidden_units=(64,),
        model_dir=str(tmp_path),
    )
    stop = Regularization(early_stopping=True, patience=2)
    result = reg_lib.run(config, [Regularization(), stop])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["results"] == result["results"]
    none, early = saved["results"]["none"], saved["results"]["early_stopping"]
    # Unregularized, 100 images and 40 epochs: a measurable gap.
    assert none["epochs_trained"] == 40
    assert none["train_accuracy"] >= 0.95
    assert none["gap"] > 0.05
    assert none["gap"] == pytest.approx(
        none["train_accuracy"] - none["test_accuracy"]
    )
    assert none["loss_gap"] == pytest.approx(
        none["test_loss"] - none["train_loss"]
    )
    assert none["loss_gap"] > 0.1  # overconfident on the test images
    table = reg_lib.format_table(result["results"]).splitlines()
    assert table[0].split()[:4] == ["configuration", "train", "test", "gap"]
    assert table[1].split()[0] == "none" and table[1].split()[-1] == "40"
    # Early stopping ends `patience` epochs after the best validation loss
    # and restores that epoch's weights.
    assert early["epochs_trained"] < 40
    assert early["epochs_trained"] == early["best_epoch"] + 2
    history = saved["history"]["early_stopping"]
    assert early["validation_accuracy"] == pytest.approx(
        history["val_accuracy"][early["best_epoch"] - 1]
    )


@pytest.mark.slow
def test_cli_bad_value_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.regularization",
            "--dropout=1.5",
            f"--model_dir={tmp_path}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "dropout=1.5" in done.stderr
    assert "Traceback" not in done.stderr
