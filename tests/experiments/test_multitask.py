"""experiments.multitask: shared trunk, several heads (section 2.5)."""

import json

import numpy as np
import pytest
import tensorflow as tf

import loops
from experiments import multitask

_SMALL = multitask.MultitaskConfig(filters=(4,), dense_units=8)


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
def test_run_learns_every_head_and_reports_them(tmp_path):
    config = multitask.MultitaskConfig(
        filters=(8,),
        dense_units=32,
        epochs=3,
        learning_rate=3e-3,
        loss_weights={"parity": 0.5},
        model_dir=str(tmp_path),
    )
    result = multitask.run(config)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"] == result["test"]
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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heads": ("digit", "colour")}, "heads contains 'colour'"),
        ({"heads": ()}, r"heads=\(\)"),
        ({"heads": ("digit", "digit")}, "expected distinct names"),
        ({"loss_weights": {"colour": 1}}, "loss_weights has 'colour'"),
        ({"loss_weights": {"digit": -1}}, r"loss_weights\['digit'\]=-1"),
        ({"epochs": 0}, "epochs=0"),
    ],
)
def test_config_errors_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        multitask.MultitaskConfig(**kwargs)


def test_parse_weights():
    assert multitask.parse_weights(["parity:0.5", "digit:2"]) == {
        "parity": 0.5,
        "digit": 2.0,
    }
    for bad in ("parity", "parity:half", ":1"):
        with pytest.raises(ValueError, match="expected HEAD:WEIGHT"):
            multitask.parse_weights([bad])
