"""experiments.transfer: feature extraction and fine-tuning (section 2.4)."""

import json

import keras
import numpy as np
import pytest

from experiments import data as data_lib
from experiments import rundir, transfer

_TINY = transfer.Config(
    filters=(4, 8), dense_units=16, batch_size=32, per_class=10
)


def _toy_split(labels):
    labels = np.asarray(labels, np.int64)
    x = np.arange(len(labels), dtype=np.float32).reshape(-1, 1, 1, 1)
    return data_lib.Split(np.broadcast_to(x, (len(labels), 2, 2, 1)), labels)


def test_split_tasks_budget_and_relabelling():
    train = _toy_split(np.repeat(np.arange(4), 5))  # 5 images of each class
    test = _toy_split([0, 1, 2, 3, 3])
    s = transfer.split_tasks(train, test, 4, (2, 0), per_class=3, seed=0)
    assert s.source_classes == (0, 2) and s.target_classes == (1, 3)
    # Source: every image of classes 0 and 2, renumbered 0 and 1.
    np.testing.assert_array_equal(s.source_train.y, [0] * 5 + [1] * 5)
    np.testing.assert_array_equal(s.source_test.y, [0, 1])
    # Target: 3 of the 5 images of class 1 (-> 0) and of class 3 (-> 1).
    np.testing.assert_array_equal(np.bincount(s.target_train.y), [3, 3])
    ids = s.target_train.x[:, 0, 0, 0].astype(int)  # image i holds i
    assert set(ids[:3]) <= set(range(5, 10))
    assert set(ids[3:]) <= set(range(15, 20))
    np.testing.assert_array_equal(s.target_test.y, [0, 1, 1])
    again = transfer.split_tasks(train, test, 4, (0, 2), 3, seed=0)
    np.testing.assert_array_equal(again.target_train.x, s.target_train.x)


@pytest.mark.parametrize(
    ("source", "per_class", "match"),
    [
        ((0, 1), 6, "per_class=6; class 2 has only 5"),
        ((0, 4), 1, "expected class ids below num_classes=4"),
        ((0, 1, 2, 3), 1, "leaves no target class"),
    ],
)
def test_split_tasks_errors(source, per_class, match):
    train = _toy_split(np.repeat(np.arange(4), 5))
    with pytest.raises(ValueError, match=match):
        transfer.split_tasks(train, train, 4, source, per_class, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source_classes": ()}, "source_classes=''; expected a non-empty"),
        ({"source_classes": ("a", "b")}, "source_classes='a,b'; expected"),
        ({"source_classes": (1, 1)}, "source_classes='1,1'; expected each"),
        ({"per_class": 0}, "per_class=0; expected an integer >= 1"),
        ({"head_epochs": -1}, "head_epochs=-1; expected an integer >= 0"),
        ({"fine_tune_learning_rate": 0}, "fine_tune_learning_rate=0; exp"),
        ({"filters": (0,)}, "filters='0'; expected"),
        ({"dropout": 1.0}, r"dropout=1.0; expected 0 <= dropout < 1"),
        ({"bn_momentum": -0.1}, r"bn_momentum=-0.1; expected 0 <="),
    ],
)
def test_config_errors_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        transfer.Config(**kwargs)


def _digits():
    train, test, info = data_lib.load_splits("digits")
    return transfer.split_tasks(train, test, 10, (0, 1, 2, 3, 4), 10, 0), info


def _pretrained(splits, info):
    keras.utils.set_random_seed(0)
    source = transfer.build_source_model(info.image_shape, 5, _TINY)
    transfer.train_stage(source, splits.source_train, 1, 1e-2, _TINY)
    return source


def _snapshot(model, variables="all"):
    chosen = {
        "all": model.variables,
        "moving": [v for v in model.variables if "moving" in v.path],
    }[variables]
    return {v.path: np.array(v) for v in chosen}


@pytest.mark.slow
def test_feature_extraction_then_fine_tuning():
    splits, info = _digits()
    source = _pretrained(splits, info)
    base = transfer.feature_extractor(source)
    assert tuple(base.output.shape) == (None, 2 * 2 * 8)  # 8x8 -> 4 -> 2
    # 2.4.2 Feature extraction: only the new head trains.
    base.trainable = False
    model = transfer.TransferClassifier(base, 5)
    assert [v.path.split("/")[-2] for v in model.trainable_variables] == [
        "new_head",
        "new_head",
    ]
    frozen, head = _snapshot(base), model.head.get_weights()
    history = transfer.train_stage(model, splits.target_train, 3, 1e-2, _TINY)
    assert history["loss"][-1] < history["loss"][0]
    for path, value in _snapshot(base).items():
        np.testing.assert_array_equal(value, frozen[path], err_msg=path)
    assert not np.array_equal(model.head.get_weights()[0], head[0])

    # 2.4.1 Fine-tuning: every weight trains, BatchNorm statistics do not.
    base.trainable = True
    moving = _snapshot(base, "moving")
    assert len(moving) == 4  # mean and variance of two BatchNorm layers
    kernel = np.array(base.get_layer("conv_1").kernel)
    transfer.train_stage(model, splits.target_train, 2, 1e-3, _TINY)
    for path, value in _snapshot(base, "moving").items():
        np.testing.assert_array_equal(value, moving[path], err_msg=path)
    assert not np.array_equal(np.array(base.get_layer("conv_1").kernel), kernel)


def test_why_a_subclass_keras_3_overrides_training_false_in_functional():
    """In a functional model, base(x, training=False) does not stay in
    inference mode when the outer model trains (keras-team/keras#20285);
    TransferClassifier's call does. If Keras changes this, the functional
    form becomes an option again."""
    source = transfer.build_source_model((8, 8, 1), 5, _TINY)
    base = transfer.feature_extractor(source)
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype("float32")
    inputs = keras.Input((8, 8, 1))
    functional = keras.Model(
        inputs, keras.layers.Dense(5)(base(inputs, training=False))
    )
    moving = _snapshot(base, "moving")
    transfer.TransferClassifier(base, 5)(x, training=True)
    assert all(
        np.array_equal(v, moving[p])
        for p, v in _snapshot(base, "moving").items()
    )
    functional(x, training=True)
    assert not all(
        np.array_equal(v, moving[p])
        for p, v in _snapshot(base, "moving").items()
    )


def test_transfer_classifier_keras_file_round_trip(tmp_path):
    source = transfer.build_source_model((8, 8, 1), 5, _TINY)
    model = transfer.TransferClassifier(transfer.feature_extractor(source), 3)
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype("float32")
    model.save(tmp_path / "transfer.keras")
    loaded = keras.saving.load_model(tmp_path / "transfer.keras")
    assert isinstance(loaded, transfer.TransferClassifier)
    assert loaded.num_classes == 3
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


@pytest.mark.slow
def test_fine_tuning_lowers_the_target_test_loss_on_digits(tmp_path):
    """At 10 labelled images per class (the budget at which BUILD.md finds
    that transfer pays on MNIST), fine-tuning the base lowers the target
    test cross-entropy that feature extraction left (digits, seeds 0 and
    1: 1.00 -> 0.71 and 1.07 -> 0.72); pretraining separates the source
    digits (0.994)."""
    config = transfer.Config(per_class=10)
    result = transfer.train_and_evaluate(config, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["source_test_accuracy"] > 0.95  # 5 classes: chance 0.2
    loss = saved["target_test_loss"]
    assert set(loss) == set(transfer.STAGES)
    assert loss["fine_tuning"] < 0.85 * loss["feature_extraction"]
    assert saved["num_target_train"] == 50
    assert saved["target_classes"] == [5, 6, 7, 8, 9]
    assert len(saved["history"]["feature_extraction"]["loss"]) == 20
    assert len(saved["history"]["fine_tuning"]["loss"]) == 10
    assert len(saved["history"]["scratch"]["loss"]) == 30  # 20 + 10 epochs
    lines = transfer.summary(result).splitlines()
    assert lines[0].startswith("source classes [0, 1, 2, 3, 4]: test acc")
    assert [line.split()[0] for line in lines[1:4]] == list(transfer.STAGES)
    assert lines[-1] == f"run directory {tmp_path}"


def test_a_rerun_with_other_settings_is_refused(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")  # a run's result
    rundir.claim(tmp_path, rundir.record_of("transfer", transfer.Config()))
    with pytest.raises(ValueError, match="per_class 50 -> 10"):
        transfer.train_and_evaluate(transfer.Config(per_class=10), tmp_path)
