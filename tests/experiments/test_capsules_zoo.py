"""`--model=capsnet`: the capsule network through the loop engine."""

import json

import numpy as np
import pytest

from experiments import data, train


@pytest.mark.slow
def test_capsnet_trains_on_a_few_hundred_mnist_images(
    mnist_dir, tmp_path, monkeypatch
):
    train_split, test_split, info = data.load_splits(f"idx:{mnist_dir}")
    few = (
        data.Split(train_split.x[:1000], train_split.y[:1000]),
        data.Split(test_split.x[:200], test_split.y[:200]),
        info,
    )
    monkeypatch.setattr(data, "load_splits", lambda *a, **k: few)
    config = train.Config(
        model="capsnet",
        dataset=f"idx:{mnist_dir}",
        epochs=3,
        batch_size=50,
        learning_rate=3e-3,
        verbose=0,
    )
    result = train.train_and_evaluate(config, tmp_path / "run")
    history = result["history"]
    assert history["loss"][2] < history["loss"][0]
    assert result["test"]["accuracy"] > 0.6  # chance is 0.1; 0.9 seen
    png = tmp_path / "run" / "reconstructions.png"
    assert png.stat().st_size > 0
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert np.isfinite(saved["test"]["reconstruction_sse_16"])


def test_capsnet_rejects_images_too_small_and_bad_size(tmp_path):
    with pytest.raises(ValueError):
        train.train_and_evaluate(
            train.Config(model="capsnet", epochs=1, verbose=0), tmp_path / "a"
        )
    with pytest.raises(ValueError, match="size='huge'"):
        train.train_and_evaluate(
            train.Config(
                model="capsnet", epochs=1, verbose=0, options={"size": "huge"}
            ),
            tmp_path / "b",
        )
