"""`--model=rnn|gru|lstm` (section 7.2) through experiments.train."""

import json

import keras
import pytest

from experiments import registry, train
from experiments.data import DatasetInfo

_INFO = DatasetInfo("fake", (28, 28, 1), 10, 1, 1)


def test_registered_with_their_sections():
    specs = registry.models()
    assert {n: specs[n].section for n in ("rnn", "gru", "lstm")} == {
        "rnn": "7.2.1",
        "gru": "7.2.2",
        "lstm": "7.2.3",
    }
    assert "gru (section 7.2.2)" in registry.describe()


@pytest.mark.parametrize(
    ("name", "layer_class"),
    [
        ("rnn", keras.layers.SimpleRNN),
        ("gru", keras.layers.GRU),
        ("lstm", keras.layers.LSTM),
    ],
)
def test_options_reach_the_model(name, layer_class):
    config = train.Config(model=name, options={"units": 7, "layers": 2})
    model = registry.get(name).build(_INFO, config)
    first, second = (model.get_layer(f"recurrent_{i}") for i in (1, 2))
    assert isinstance(first, layer_class) and isinstance(second, layer_class)
    assert first.units == 7 and first.return_sequences
    assert not second.return_sequences
    assert tuple(model.get_layer("rows").output.shape) == (None, 28, 28)


@pytest.mark.slow
def test_rnn_learns_digits_row_by_row(tmp_path):
    config = train.Config(
        model="rnn",
        epochs=3,
        learning_rate=3e-3,
        verbose=0,
        options={"units": 32},
    )
    result = train.train_and_evaluate(config, tmp_path / "run")
    assert result["test"]["accuracy"] >= 0.4  # chance is 0.1
    loss = result["history"]["loss"]
    assert loss[-1] < loss[0]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["config"]["options"] == {"units": 32}
