"""experiments.nas_tuners: a tiny search (2 trials of 1 epoch) on digits
finds a configuration of the space, and continues when reloaded."""

import json

import pytest

keras_tuner = pytest.importorskip(
    "keras_tuner", reason="the nas extra is not installed"
)

from experiments import data as data_lib  # noqa: E402
from experiments import nas, nas_space, nas_tuners  # noqa: E402


def test_tiny_search_finds_a_configuration_and_continues(tmp_path):
    train, _, info = data_lib.load_splits("digits")
    fit, val = nas.carve_validation(train, 0.2, seed=0)
    hypermodel = nas_space.SearchSpace("mlp", info.image_shape, 10)

    def run(max_trials):
        config = nas.Config(tuner="random", max_trials=max_trials, epochs=1)
        tuner = nas_tuners.make_tuner("random", hypermodel, config, tmp_path)
        return nas_tuners.search(tuner, config, fit, val)

    found, _ = run(max_trials=1)
    first = found["trials"][0]
    # Two trials of one epoch: the second run reloads the first trial.
    found, best_hp = run(max_trials=2)
    assert [t["trial_id"] for t in found["trials"]] == ["0", "1"]
    assert found["trials"][0] == first  # not run again
    seconds_file = tmp_path / "random" / nas_tuners.SECONDS
    seconds = json.loads(seconds_file.read_text())
    assert sorted(seconds) == ["0", "1"]
    total = pytest.approx(sum(seconds.values()))
    assert found["budget"] == {"trials": 2, "epochs": 2, "seconds": total}
    best = found["best_hyperparameters"]
    scores = [t["val_accuracy"] for t in found["trials"]]
    assert found["best_val_accuracy"] == max(scores)
    assert 0.0 <= max(scores) <= 1.0
    space = {**nas_space.SPACES["mlp"], **nas_space.COMMON}
    for name, value in best.items():
        domain = space[name if not name.startswith("units_") else "units_i"]
        if name in ("layers", "dropout", "learning_rate"):
            assert domain[0] <= value <= domain[1], name
        else:
            assert value in domain, name
    assert len([k for k in best if k.startswith("units_")]) == best["layers"]
    assert best_hp.values["optimizer"] == best["optimizer"]
