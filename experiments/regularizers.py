"""The regularizers of Cheat sheet 2.2 as switches on an MLP, and the
disjoint training / validation samples they are compared on.

    reg = Regularization(l2=1e-4, dropout=0.5, early_stopping=True)
    model = build_model((8, 8, 1), 10, reg, hidden_units=(256, 256))
    loops.fit(..., callbacks=make_callbacks(reg))

`experiments.regularization` trains a table of them.
"""

import dataclasses

import keras
import numpy as np

from experiments import data as data_lib
from keras_cheats import checks
from keras_cheats.models import mlp


@dataclasses.dataclass(frozen=True)
class Regularization:
    """One configuration of the switches (all off by default).

    Attributes:
      l1, l2: kernel penalty factors (0 = off): a sum|w| + b sum w^2 on
        every kernel, added to the loss (`model.losses`).
      dropout: dropout rate after each hidden layer, in [0, 1).
      batch_norm: batch normalization before each hidden activation.
      early_stopping: stop on the validation loss, restore the best.
      patience: epochs without improvement before stopping.
    """

    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batch_norm: bool = False
    early_stopping: bool = False
    patience: int = 10

    def __post_init__(self):
        for name in ("l1", "l2"):
            checks.at_least(name, getattr(self, name))
        checks.fraction("dropout", self.dropout)
        for name in ("batch_norm", "early_stopping"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"{name}={getattr(self, name)!r}; expected a bool"
                )
        checks.integer("patience", self.patience, 1)

    @property
    def name(self):
        """E.g. "none", "l2=0.001", "l2=0.001+dropout=0.5+batch_norm"."""
        parts = [
            f"{k}={getattr(self, k):g}"
            for k in ("l1", "l2", "dropout")
            if getattr(self, k)
        ]
        parts += [
            k for k in ("batch_norm", "early_stopping") if getattr(self, k)
        ]
        return "+".join(parts) or "none"


def build_model(image_shape, num_classes, reg, hidden_units=(256, 256)):
    """The MLP with the switches of `reg` (logits output)."""
    return mlp.build_mlp(
        image_shape,
        num_classes,
        mlp.MLPConfig(
            hidden_units=tuple(hidden_units),
            l1=reg.l1,
            l2=reg.l2,
            dropout=reg.dropout,
            batch_norm=reg.batch_norm,
            output_activation=None,
        ),
    )


def make_callbacks(reg):
    """[EarlyStopping on val_loss] when `reg.early_stopping`, else []."""
    if not reg.early_stopping:
        return []
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_loss",
            patience=reg.patience,
            restore_best_weights=True,
        )
    ]


def sample_splits(train, train_size, validation_size, seed):
    """Disjoint random (training, validation) subsets of a Split."""
    if train_size + validation_size > len(train):
        raise ValueError(
            f"train_size={train_size} + validation_size={validation_size} "
            f"exceeds the {len(train)} training images"
        )
    order = np.random.default_rng(seed).permutation(len(train))
    pick = (
        order[:train_size],
        order[train_size : train_size + validation_size],
    )
    return tuple(data_lib.Split(train.x[i], train.y[i]) for i in pick)
