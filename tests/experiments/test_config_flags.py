"""Flags generated from a Config dataclass (`experiments.config_flags`)."""

import dataclasses
import typing
from typing import Literal

import pytest
from absl import flags

from experiments import config_flags


@dataclasses.dataclass(frozen=True)
class Config:
    epochs: int = 10
    """Passes over the
    data."""
    rate: float = 1e-3
    """Step size."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """The optimizer."""
    verbose: Literal[0, 1, 2] = 1
    """0 silent."""
    shuffle: bool = True
    """Shuffle each epoch."""
    margin: float | None = None
    """Margin; None: by loss."""
    heads: tuple[str, ...] = ("digit", "parity")
    """Heads."""
    filters: tuple[int, ...] = (32, 64)
    """Filters per block."""
    steps: int | str = "auto"
    """Steps per call, or auto."""
    options: dict = dataclasses.field(default_factory=dict)
    """Model option."""

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs={self.epochs!r}; expected >= 1")


def _parsed(*argv):
    values = flags.FlagValues()
    config_flags.define(Config, flag_values=values)
    values(["prog", *argv])
    return config_flags.parse(Config, flag_values=values), values


def test_defaults_and_help_come_from_the_dataclass():
    config, values = _parsed()
    assert config == Config()
    assert values["epochs"].help == "Passes over the data."
    assert values["set"].help.startswith("Model option. KEY=VALUE.")
    assert values["optimizer"].flag_type() == "string enum"


def test_each_type_is_parsed_to_the_field_type():
    config, _ = _parsed(
        "--epochs=3", "--rate=0.5", "--optimizer=sgd", "--verbose=2",
        "--noshuffle", "--margin=0.2", "--heads=digit", "--filters=8,16",
        "--steps=4", "--set", "latent_dim=2", "--set", "loss=bce",
    )  # fmt: skip
    assert config == Config(
        epochs=3, rate=0.5, optimizer="sgd", verbose=2, shuffle=False,
        margin=0.2, heads=("digit",), filters=(8, 16), steps="4",
        options={"latent_dim": 2, "loss": "bce"},
    )  # fmt: skip


def test_bad_values_fail_in_absl_or_in_the_config_check():
    with pytest.raises(flags.IllegalFlagValueError):
        _parsed("--optimizer=adagrad")
    with pytest.raises(ValueError, match="epochs=0; expected >= 1"):
        _parsed("--epochs=0")
    with pytest.raises(ValueError, match="--set 'x'; expected KEY=VALUE"):
        _parsed("--set", "x")


def test_a_field_without_docstring_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Bare:
        epochs: int = 1

    with pytest.raises(ValueError, match="Bare.epochs has no docstring"):
        config_flags.define(Bare, flag_values=flags.FlagValues())


@pytest.mark.parametrize(
    "module",
    ["anomaly", "debias", "metric_learning", "multitask", "regularization",
     "train", "transfer"],
)  # fmt: skip
def test_every_experiment_documents_every_flag(module):
    """Each experiment's Config field has a docstring that is its --help
    (the command's own --help: tests/experiments/test_cli.py)."""
    import importlib

    config = importlib.import_module(f"experiments.{module}").Config
    values = flags.FlagValues()
    config_flags.define(config, flag_values=values)
    docs = config_flags.field_docs(config)
    hints = typing.get_type_hints(config)
    for field in dataclasses.fields(config):
        is_dict = typing.get_origin(hints[field.name]) or hints[field.name]
        name = "set" if is_dict is dict else field.name  # --set KEY=VALUE
        assert docs[field.name] in values[name].help, (module, name)
    assert config_flags.parse(config, flag_values=values) == config()
