"""experiments.transfer: feature extraction and fine-tuning (section 2.4)."""

import json

import keras
import numpy as np
import pytest

from experiments import data as data_lib
from experiments import rundir, transfer
from experiments.source_target import split_tasks
from keras_cheats.models import TransferClassifier, feature_extractor

_TINY = transfer.Config(
    filters=(4, 8), dense_units=16, batch_size=32, per_class=10
)


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
    return split_tasks(train, test, 10, (0, 1, 2, 3, 4), 10, 0), info


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
    base = feature_extractor(source)
    assert tuple(base.output.shape) == (None, 2 * 2 * 8)  # 8x8 -> 4 -> 2
    # 2.4.2 Feature extraction: only the new head trains.
    base.trainable = False
    model = TransferClassifier(base, 5)
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


@pytest.mark.slow
def test_transfer_on_mnist_at_10_images_per_class(tmp_path, mnist_dir):
    """The configuration of BUILD.md's transfer table on real MNIST: 10
    labelled images per target digit (5-9), pretrained on digits 0-4.

    Seen (source test accuracy; target test accuracy feature extraction /
    fine-tuning / scratch; target test cross-entropy, the same order):
      seed 0: 0.9855; 0.9015 / 0.9243 / 0.8568; 0.258 / 0.218 / 0.425
      seed 1: 0.9836; 0.9440 / 0.9295 / 0.9149; 0.180 / 0.217 / 0.285
      seed 2: 0.9903; 0.8537 / 0.8506 / 0.8506; 0.362 / 0.385 / 0.633
      seed 3: 0.9932; 0.8973 / 0.9015 / 0.9046; 0.258 / 0.256 / 0.265
      seed 4: 0.9971; 0.9326 / 0.9274 / 0.9222; 0.216 / 0.230 / 0.217
    The gain over scratch depends on the seed (fine-tuning: +6.7, +1.5,
    0.0, -0.3, +0.5 points; mean +1.7), as BUILD.md says. This test runs
    BUILD.md's seed-0 command (deterministic on this CPU build) and checks
    its documented gain with a margin, and what holds on every seed:
    transfer costs at most 0.73 points of accuracy.
    """
    config = transfer.Config(dataset=f"idx:{mnist_dir}", per_class=10, seed=0)
    result = transfer.train_and_evaluate(config, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["source_test_accuracy"] > 0.98  # 5 classes: chance 0.2
    accuracy = saved["target_test_accuracy"]
    assert (
        set(accuracy) == set(saved["target_test_loss"]) == set(transfer.STAGES)
    )
    assert min(accuracy.values()) > 0.8
    assert accuracy["feature_extraction"] > accuracy["scratch"] - 0.02
    assert accuracy["fine_tuning"] > accuracy["scratch"] - 0.02
    # Seed 0, BUILD.md's run: fine-tuning 6.7 points above scratch, half
    # its cross-entropy (0.218 against 0.425).
    assert accuracy["fine_tuning"] > accuracy["scratch"] + 0.03
    loss = saved["target_test_loss"]
    assert loss["fine_tuning"] < 0.75 * loss["scratch"]
    assert saved["num_target_train"] == 50
    assert saved["num_target_test"] == 964
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
