"""Recurrent classifiers of section 7.2 for `experiments.train`.

    python -m experiments.train --model=lstm --dataset=idx:../shared/data/mnist

`--model=rnn|gru|lstm` (7.2.1, 7.2.2, 7.2.3) reads an (H, W, C) image as H
time steps of W * C features: MNIST is 28 rows of 28 pixels.

Options (`--set`): `units=128` (hidden state size), `layers=1` (stacked
recurrent layers), `dropout=0.0` (on the last hidden state).
"""

from experiments import classifier_report
from experiments.registry import ModelSpec, register
from experiments.zoo.classifiers import accuracy, classification_loss
from keras_cheats.models.recurrent import (
    SECTIONS,
    RecurrentConfig,
    build_recurrent_classifier,
)

_NAMES = {"rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}


def recurrent_config(cell, config):
    """The `RecurrentConfig` of `--model=cell` with its `--set` options."""
    options = config.options  # keys checked by experiments.train.Config
    return RecurrentConfig(
        cell=cell,
        units=options.get("units", 128),
        num_layers=options.get("layers", 1),
        dropout=options.get("dropout", 0.0),
    )


def _builder(cell):
    def build(info, config):
        return build_recurrent_classifier(
            info.image_shape, info.num_classes, recurrent_config(cell, config)
        )

    return build


for _cell, _name in _NAMES.items():
    register(
        _cell,
        ModelSpec(
            section=SECTIONS[_cell],
            description=f"{_name} over the image rows (H steps of W*C "
            "features), last state -> dense; --set units=128 --set layers=1",
            build=_builder(_cell),
            loss=classification_loss,
            metrics=accuracy,
            after_training=classifier_report.after_training,
            options=("units", "layers", "dropout"),
        ),
    )
