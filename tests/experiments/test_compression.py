"""experiments.compression: pruning through the loop, int8 against
float32, and the experiment run as users run it."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import loops
from experiments import classification, compression
from experiments import compression_rows as rows
from experiments import data as data_lib
from keras_cheats import pruning
from keras_cheats.models import cnn
from tests.conftest import REPO

SMALL = cnn.CNNConfig(
    filters=(8, 16), dense_units=(32,), output_activation=None
)


@pytest.fixture(scope="module")
def digits():
    return data_lib.load_splits("digits")


def test_masks_stay_applied_through_loops_fit(digits, tmp_path):
    train, test, info = digits
    loops.seed_everything(0)
    model = cnn.build_cnn(info.image_shape, info.num_classes, SMALL)
    variables = pruning.prunable_variables(model)
    masks = pruning.magnitude_masks([v.numpy() for v in variables], 0.5)
    pruning.apply_masks(variables, masks)
    before = [v.numpy().copy() for v in variables]
    data = data_lib.Pipeline(train, 64, seed=0)
    history = loops.fit(
        model,
        keras.optimizers.Adam(1e-2),
        rows.masked_task(classification.task(), masks),
        data,
        options=loops.LoopOptions(epochs=3, seed=0, verbose=0),
        model_dir=tmp_path,
    )
    assert history["loss"][-1] < 0.9 * history["loss"][0]
    for old, v, m in zip(before, variables, masks):
        new = v.numpy()
        assert (new[m == 0] == 0).all()  # pruned weights are still 0
        assert not np.allclose(new[m == 1], old[m == 1])  # the rest trained
    assert pruning.sparsity_of([v.numpy() for v in variables]) == 0.5


def test_int8_outputs_are_close_to_float32(digits, tmp_path):
    train, test, info = digits
    loops.seed_everything(0)
    model = cnn.build_cnn(info.image_shape, info.num_classes, SMALL)
    float_logits = np.asarray(model(test.x, training=False))
    model.quantize("int8")
    model.save(tmp_path / "int8.keras")
    reloaded = keras.saving.load_model(tmp_path / "int8.keras")
    assert reloaded.get_layer("output").quantization_mode == "int8"
    assert reloaded.get_layer("conv_1").quantization_mode is None
    int8_logits = np.asarray(reloaded(test.x, training=False))
    scale = np.abs(float_logits).max()
    assert np.abs(int8_logits - float_logits).max() < 0.05 * scale
    agree = (int8_logits.argmax(-1) == float_logits.argmax(-1)).mean()
    assert agree > 0.95


def test_timing_and_sizes(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.layers[0].kernel.assign(np.zeros((3, 2)))
    size = rows.sizes(model, tmp_path / "m.keras")
    assert size["parameters"] == 8 and size["nonzero_parameters"] == 0
    assert size["bytes"] == (tmp_path / "m.keras").stat().st_size
    assert size["gzip_bytes"] < size["bytes"]
    times = rows.time_side_by_side(
        {"a": rows.logits_fn(model), "b": rows.logits_fn(model, True)},
        rows.timing_batch(np.ones((5, 3), np.float32)),
        runs=3,
    )
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())
    assert rows.timing_batch(np.ones((5, 3))).shape == (256, 3)


def test_config_errors_name_the_flag():
    with pytest.raises(ValueError, match="sparsities"):
        compression.Config(sparsities=(0.5, 1.2))
    with pytest.raises(ValueError, match="temperature"):
        compression.Config(temperature=0.0)
    with pytest.raises(ValueError, match="prune_scope"):
        compression.Config(prune_scope="row")
    with pytest.raises(ValueError, match="epochs=0"):
        compression.Config(epochs=0)


@pytest.mark.slow
def test_command_line_prints_the_table(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.compression", "--epochs=2",
         "--sparsities=0.5,0.9", "--timing_runs=2", "--student_filters=4,8",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    table = saved["rows"]
    assert list(table) == [
        "float32", "float32 + XLA", "int8", "pruned 50%", "pruned 90%",
        "student alone", "student distilled",
    ]  # fmt: skip
    assert saved["int8_quantized_layers"] == ["dense_1", "output"]
    assert table["float32"]["accuracy"] > 0.5  # 0.80 measured
    # XLA compiles the same function: the same predictions.
    assert table["float32 + XLA"]["accuracy"] == table["float32"]["accuracy"]
    assert table["int8"]["bytes"] < 0.7 * table["float32"]["bytes"]
    p50, p90 = table["pruned 50%"], table["pruned 90%"]
    # Exactly round(s n) kernel weights are 0 after fine-tuning.
    assert p50["kernel_sparsity"] == pytest.approx(0.5, abs=1e-4)
    assert p90["kernel_sparsity"] == pytest.approx(0.9, abs=1e-4)
    assert p90["nonzero_parameters"] < p50["nonzero_parameters"]
    assert (
        p90["gzip_bytes"] < p50["gzip_bytes"] < table["float32"]["gzip_bytes"]
    )
    student = table["student alone"]["parameters"]
    assert student == table["student distilled"]["parameters"]
    assert student < table["float32"]["parameters"] / 5
    for name, r in table.items():
        assert f"| {name} | {r['accuracy']:.4f} |" in done.stdout
    assert "int8 quantized layers: dense_1, output" in done.stdout
