r"""Regularization (Cheat sheet 2.2): its effect on the train/test gap.

    python -m experiments.regularization --dataset=idx:../shared/data/mnist
    python -m experiments.regularization --l2=1e-4 --dropout=0.5 \
        --batch_norm --early_stopping
    python -m experiments.regularization --help   # every Config field

An MLP (two hidden layers of 256 ReLU units) trains on a small training
set (500 images) for many epochs, so that it overfits; each switch is one
regularizer of section 2.2:

    --l1=a, --l2=b     penalties a sum|w| + b sum w^2 on every kernel,
                       added to the loss (`model.losses`)
    --dropout=p        each hidden unit zeroed with probability p while
                       training (kept units scaled by 1 / (1 - p))
    --batch_norm       x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps),
                       y = gamma x_hat + beta, between each hidden Dense
                       layer and its activation
    --early_stopping   stop when the validation loss has not improved for
                       --patience epochs and restore the best weights

With switches the experiment trains the unregularized MLP and the one
configured; without (or with --table), it trains a table: none, each
regularizer alone (--table_l1=1e-5, --table_l2=1e-4, --table_dropout=0.5,
batch norm, early stopping) and all of them but L1 together. The models
and callbacks come from `experiments.regularizers`. For each,
metrics.json reports the train accuracy (on the training images, in
inference mode), the validation and test accuracy, the gap train - test,
the same for the cross-entropy (train loss, test loss, loss_gap = test -
train; without the penalties) and the epochs trained, all measured by
`experiments.classification.evaluate`. The validation set (500 other
training images) drives early stopping; the test split is only measured.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import classification, cli, config_flags, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.regularizers import (  # noqa: E402
    Regularization,
    build_model,
    make_callbacks,
    sample_splits,
)
from keras_cheats import checks  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "regularization"
EVAL_BATCH = 500  # examples per evaluation batch (no effect on results)


@dataclasses.dataclass(frozen=True)
class Config:
    """The data, the training and the regularizers to compare."""

    dataset: str = "digits"
    """Data set: digits, idx:DIR (MNIST IDX files) or a tensorflow-datasets
    name."""
    train_size: int = 500
    """Training images, drawn from the training split by --seed."""
    validation_size: int = 500
    """Other training images: the validation set of early stopping."""
    epochs: int = 100
    """The most epochs any configuration trains."""
    batch_size: int = 32
    """Examples per training batch."""
    learning_rate: float = 1e-3
    """Adam step."""
    hidden_units: tuple[int, ...] = (256, 256)
    """Units of each hidden layer of the MLP (comma list)."""
    l1: float = 0.0
    """L1 penalty factor on every kernel (0: off)."""
    l2: float = 0.0
    """L2 penalty factor on every kernel (0: off)."""
    dropout: float = 0.0
    """Dropout rate after each hidden layer, in [0, 1) (0: off)."""
    batch_norm: bool = False
    """Batch normalization before each hidden activation."""
    early_stopping: bool = False
    """Stop when the validation loss stops improving; keep the best
    weights."""
    patience: int = 10
    """Epochs without a better validation loss before early stopping
    (every configuration that stops early)."""
    table: bool = False
    """Train the whole table even when a switch is given."""
    table_l1: float = 1e-5
    """L1 factor of the table's L1 row."""
    table_l2: float = 1e-4
    """L2 factor of the table's L2 row and of its all-but-L1 row."""
    table_dropout: float = 0.5
    """Dropout rate of the table's dropout row and of its all-but-L1
    row."""
    seed: int = 0
    """Seeds the training / validation sample, the initial weights and
    the shuffles."""
    verbose: Literal[0, 1, 2] = 0
    """0 silent, 1 progress bars, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("train_size", "validation_size", "epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("patience", self.patience, 1)
        checks.above("learning_rate", self.learning_rate)
        units = checks.integers("hidden_units", self.hidden_units)
        object.__setattr__(self, "hidden_units", units)
        for name in ("l1", "l2", "table_l1", "table_l2"):
            checks.at_least(name, getattr(self, name))
        for name in ("dropout", "table_dropout"):
            checks.fraction(name, getattr(self, name))
        for name in ("batch_norm", "early_stopping", "table"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"{name}={getattr(self, name)!r}; expected a bool"
                )
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose={self.verbose!r}; expected 0, 1 or 2")


def configurations(config: Config) -> list:
    """The `Regularization`s to train: [none, the switches given], or the
    table (none, each regularizer alone, all but L1) when no switch is on
    or `config.table`."""
    patience = config.patience
    none = Regularization(patience=patience)
    given = Regularization(
        l1=config.l1,
        l2=config.l2,
        dropout=config.dropout,
        batch_norm=config.batch_norm,
        early_stopping=config.early_stopping,
        patience=patience,
    )
    if given != none and not config.table:
        return [none, given]
    return [
        none,
        Regularization(l1=config.table_l1, patience=patience),
        Regularization(l2=config.table_l2, patience=patience),
        Regularization(dropout=config.table_dropout, patience=patience),
        Regularization(batch_norm=True, patience=patience),
        Regularization(early_stopping=True, patience=patience),
        Regularization(
            l2=config.table_l2,
            dropout=config.table_dropout,
            batch_norm=True,
            early_stopping=True,
            patience=patience,
        ),
    ]


def evaluate(model, split):
    """(accuracy, mean cross-entropy) of a logits model on a split, in
    inference mode. `classification.evaluate`'s loss holds the penalties
    too: loss = CE + sum(model.losses), a constant for fixed weights, so
    CE = loss - sum(model.losses)."""
    data = data_lib.Pipeline(split, EVAL_BATCH, shuffle=False)
    result = classification.evaluate(model, data)
    penalty = float(sum(float(v) for v in model.losses))
    return result["accuracy"], result["loss"] - penalty


def train_one(reg, train, validation, test, info, config):
    """Trains one configuration; returns (its results, its history)."""
    loops.seed_everything(config.seed)  # same initial weights, same order
    model = build_model(
        info.image_shape, info.num_classes, reg, config.hidden_units
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        classification.task(),
        data_lib.Pipeline(train, config.batch_size, seed=config.seed),
        validation_data=data_lib.Pipeline(
            validation, EVAL_BATCH, shuffle=False
        ),
        options=loops.LoopOptions(epochs=config.epochs, verbose=config.verbose),
        callbacks=make_callbacks(reg),
    )
    train_acc, train_loss = evaluate(model, train)
    val_acc, _ = evaluate(model, validation)
    test_acc, test_loss = evaluate(model, test)
    results = {
        "regularization": dataclasses.asdict(reg),
        "train_accuracy": train_acc,
        "validation_accuracy": val_acc,
        "test_accuracy": test_acc,
        "gap": train_acc - test_acc,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "loss_gap": test_loss - train_loss,
        "epochs_trained": len(history["loss"]),
        "best_epoch": int(np.argmin(history["val_loss"])) + 1,
        "penalty": float(sum(float(v) for v in model.losses)),
    }
    return results, history


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains every configuration of `configurations(config)` on the same
    sample; writes and returns metrics.json.

    Args:
      config: the experiment.
      workdir: the run folder ("" for a new one under runs/); the same
        settings rerun there, others are refused (`rundir.open_run`).
      restart: move a `workdir` that holds another run aside first.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    train, validation = sample_splits(
        train, config.train_size, config.validation_size, config.seed
    )
    results, histories = {}, {}
    for reg in configurations(config):
        results[reg.name], histories[reg.name] = train_one(
            reg, train, validation, test, info, config
        )
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(info),
        "results": results,
        "history": histories,
        "model_dir": str(workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def format_table(results):
    """The printed table: one row per configuration (CE: cross-entropy)."""
    width = max(len("configuration"), *(len(n) for n in results))
    header = ("train", "test", "gap", "train CE", "test CE", "epochs")
    lines = [
        f"{'configuration':<{width}}" + "".join(f"{h:>10}" for h in header)
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<{width}}"
            f"{r['train_accuracy']:>10.4f}{r['test_accuracy']:>10.4f}"
            f"{r['gap']:>+10.4f}{r['train_loss']:>10.4f}"
            f"{r['test_loss']:>10.4f}{r['epochs_trained']:>10}"
        )
    return "\n".join(lines)


def summary(result) -> str:
    """The lines the command prints: the sizes, the table, the run
    folder."""
    config = result["config"]
    return "\n".join(
        [
            f"{config['train_size']} training images, "
            f"{result['dataset']['num_test']} test images, up to "
            f"{config['epochs']} epochs:",
            format_table(result["results"]),
            f"run directory {result['model_dir']}",
        ]
    )


FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
