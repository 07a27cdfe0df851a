"""`--model=vit` (section 7.5): AdamW on a warm-up + cosine schedule, the
attention rollout figure (section 9.3) and its metrics."""

import json

import keras
import numpy as np
import pytest

from experiments import registry, train
from experiments.data import DatasetInfo
from experiments.zoo import vit
from keras_cheats.models.vit import VisionTransformer
from tests.experiments.helpers import start_train

TINY = {"patch_size": 2, "dim": 16, "depth": 1, "heads": 2, "mlp_dim": 32}


def _config(epochs=2, **options):
    return train.Config(
        model="vit",
        epochs=epochs,
        learning_rate=1e-3,
        verbose=0,
        options=options,
    )


def test_registered_and_built_from_the_options():
    spec = registry.get("vit")
    assert spec.section == "7.5" and spec.headline == "accuracy"
    assert set(spec.options) >= {
        "patch_size", "dim", "depth", "heads", "mlp_dim", "dropout", "pooling",
    }  # fmt: skip
    info = DatasetInfo("fake", (8, 8, 1), 10, 640, 10)
    model = spec.build(info, _config(pooling="mean", **TINY))
    assert isinstance(model, VisionTransformer)
    assert model.config.pooling == "mean" and model.config.depth == 1
    for options, name in (
        ({"pooling": "max"}, "pooling"),
        ({"heads": 3}, "heads"),
        ({"weight_decay": -1}, "weight_decay"),
    ):
        with pytest.raises(ValueError, match=name):
            spec.build(info, _config(**options))


def test_adamw_decays_matrices_only_and_follows_the_schedule():
    info = DatasetInfo("fake", (8, 8, 1), 10, 640, 10)  # 10 steps an epoch
    config = _config(epochs=3, warmup_epochs=0, weight_decay=0.5, **TINY)
    model = registry.get("vit").build(info, config)
    optimizer = vit.vit_optimizer(model, config, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    for step, rate in ((30, 0.0), (15, 0.5e-3), (0, 1e-3)):  # 30 in all
        optimizer.iterations.assign(step)  # cosine from the peak to 0
        assert float(optimizer.learning_rate) == pytest.approx(rate, abs=1e-9)
    # A zero gradient moves a variable by weight decay alone:
    # w <- w (1 - lr * wd), biases, norms and tokens excluded.
    variables = model.trainable_variables
    before = [np.array(v) for v in variables]
    optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in variables])
    for v, b in zip(variables, before):
        excluded = len(v.shape) < 2 or v.name in (
            "class_token", "position_embedding",
        )  # fmt: skip
        want = b if excluded else b * (1 - 1e-3 * 0.5)
        np.testing.assert_allclose(np.array(v), want, rtol=1e-6, err_msg=v.path)
    warm = vit.vit_optimizer(
        model, _config(epochs=3, warmup_epochs=1), steps_per_epoch=10
    )
    for step, rate in ((0, 0.0), (5, 0.5e-3), (10, 1e-3)):  # 10 steps
        warm.iterations.assign(step)
        assert float(warm.learning_rate) == pytest.approx(rate, abs=1e-9)


def test_ink_scores_hand_computed():
    # Two 2 x 2 patches of a 2 x 4 image; ink in the left one only.
    x = np.zeros((1, 2, 4, 1), "float32")
    x[0, 0, 1] = 0.9
    maps = np.array([[[1.0, 1.0, 0.25, 0.25]] * 2], "float32")
    on_ink, ink = vit.ink_scores(x, maps, 2)
    assert on_ink == pytest.approx(1 / 1.25) and ink == 0.5


def test_a_tiny_vit_learns_digits_and_draws_its_rollout(tmp_path):
    config = train.Config(
        model="vit", epochs=3, learning_rate=3e-3, verbose=0, options=TINY
    )
    result = train.train_and_evaluate(config, tmp_path / "run")
    loss = result["history"]["loss"]
    assert loss[2] < loss[0]
    test = result["test"]
    assert test["accuracy"] > 0.3  # chance is 0.1
    assert 0 < test["ink_patches"] < 1 and 0 < test["rollout_on_ink"] < 1
    png = (tmp_path / "run" / "attention_rollout.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cli_trains_a_vit_and_writes_the_rollout(tmp_path):
    proc = start_train(
        "--model=vit", "--dataset=digits", "--epochs=1", "--verbose=0",
        "--set=depth=1", f"--model_dir={tmp_path}",
    )  # fmt: skip
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "test accuracy:" in out and "rollout_on_ink" in out
    assert (tmp_path / "attention_rollout.png").stat().st_size > 0
    assert (tmp_path / "model.keras").exists()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"]["parameters"] > 0
    assert saved["config"]["options"] == {"depth": 1}
    assert saved["config"]["learning_rate"] == 2e-3  # the model's default
