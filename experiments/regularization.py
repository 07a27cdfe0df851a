r"""Regularization (Cheat sheet 2.2): its effect on the train/test gap.

    python -m experiments.regularization --dataset=idx:../shared/data/mnist
    python -m experiments.regularization --l2=1e-4 --dropout=0.5 \
        --batch_norm --early_stopping

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
configured; without, it trains a table: none, each regularizer alone
(l1 1e-5, l2 1e-4, dropout 0.5, batch norm, early stopping) and all of
them but L1 together. For each, metrics.json reports the train accuracy
(on the training images, in inference mode), the validation and test
accuracy, the gap train - test, the same for the cross-entropy (train
loss, test loss, loss_gap = test - train; without the penalties) and the
epochs trained. The validation set
(500 other training images) drives early stopping; the test split is only
measured.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.rundir import open_run, record_of
from keras_cheats.models import mlp  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

# Strengths used by the table when no switch is given.
TABLE_L1, TABLE_L2, TABLE_DROPOUT = 1e-5, 1e-4, 0.5


@dataclasses.dataclass(frozen=True)
class Regularization:
    """One configuration of the switches (all off by default).

    Attributes:
      l1, l2: kernel penalty factors (0 = off).
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
        # MLPConfig checks l1, l2, dropout and batch_norm.
        mlp.MLPConfig(
            l1=self.l1,
            l2=self.l2,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )
        if not isinstance(self.early_stopping, bool):
            raise ValueError(
                f"early_stopping={self.early_stopping!r}; expected a bool"
            )
        _check_int("patience", self.patience, 1)

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


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """The shared settings of every configuration.

    Attributes:
      dataset: "digits", "idx:DIR" or a tensorflow-datasets name.
      train_size: training images (drawn from the training split by seed).
      validation_size: other training images, for early stopping.
      epochs: the most epochs any configuration trains.
      batch_size, learning_rate (Adam), seed: training.
      hidden_units: the MLP's hidden layers.
      model_dir: run directory (default: a new folder under runs/).
      restart: move a model_dir that holds another run aside first.
      verbose: 0 silent, 1 progress bars, 2 one line per epoch.
    """

    dataset: str = "digits"
    train_size: int = 500
    validation_size: int = 500
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    hidden_units: tuple = (256, 256)
    seed: int = 0
    model_dir: str = ""
    restart: bool = False
    verbose: int = 0

    def __post_init__(self):
        for name in ("train_size", "validation_size", "epochs", "batch_size"):
            _check_int(name, getattr(self, name), 1)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        mlp.MLPConfig(hidden_units=self.hidden_units)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}; expected an integer >= {minimum}")


def configurations(
    l1=0.0,
    l2=0.0,
    dropout=0.0,
    batch_norm=False,
    early_stopping=False,
    patience=10,
    table=False,
):
    """The configurations to train: [none, the switches given], or the
    table (none, each regularizer alone, all but L1) when no switch is on
    or `table` is True."""
    given = Regularization(
        l1, l2, dropout, batch_norm, early_stopping, patience
    )
    none = Regularization(patience=patience)
    if given != none and not table:
        return [none, given]
    return [
        none,
        Regularization(l1=TABLE_L1, patience=patience),
        Regularization(l2=TABLE_L2, patience=patience),
        Regularization(dropout=TABLE_DROPOUT, patience=patience),
        Regularization(batch_norm=True, patience=patience),
        Regularization(early_stopping=True, patience=patience),
        Regularization(
            l2=TABLE_L2,
            dropout=TABLE_DROPOUT,
            batch_norm=True,
            early_stopping=True,
            patience=patience,
        ),
    ]


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


def evaluate_split(model, split, batch_size=500):
    """(accuracy, mean cross-entropy) of a logits model on a split, in
    inference mode (eager; the cross-entropy without the penalties)."""
    hits, total = 0, 0.0
    for i in range(0, len(split), batch_size):
        logits = model(split.x[i : i + batch_size], training=False)
        y = split.y[i : i + batch_size]
        hits += int(np.sum(np.argmax(logits, axis=1) == y))
        total += float(
            np.sum(
                keras.losses.sparse_categorical_crossentropy(
                    y, logits, from_logits=True
                )
            )
        )
    return hits / len(split), total / len(split)


def train_one(reg, train, validation, test, info, config):
    """Trains one configuration; returns (its results, its history)."""
    loops.seed_everything(config.seed)  # same initial weights, same order
    model = build_model(
        info.image_shape, info.num_classes, reg, config.hidden_units
    )
    task = loops.supervised(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        task,
        data_lib.Pipeline(train, config.batch_size, seed=config.seed),
        validation_data=data_lib.Pipeline(validation, 500, shuffle=False),
        options=loops.LoopOptions(epochs=config.epochs, verbose=config.verbose),
        callbacks=make_callbacks(reg),
    )
    train_acc, train_loss = evaluate_split(model, train)
    val_acc, _ = evaluate_split(model, validation)
    test_acc, test_loss = evaluate_split(model, test)
    val_loss = history["val_loss"]
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
        "best_epoch": int(np.argmin(val_loss)) + 1,
        "penalty": float(sum(float(v) for v in model.losses)),
    }
    return results, history


def run(config: ExperimentConfig, regs) -> dict:
    """Trains every configuration; writes and returns metrics.json."""
    regs = list(regs)
    names = [r.name for r in regs]
    if not regs or len(set(names)) != len(names):
        raise ValueError(
            f"configurations {names}; expected at least one, no duplicates"
        )
    model_dir = open_run(
        config.model_dir, "regularization",
        record_of("regularization", config,
                  configurations=[dataclasses.asdict(r) for r in regs]),
        dataset=config.dataset, restart=config.restart,
    )  # fmt: skip
    train, test, info = data_lib.load_splits(config.dataset)
    train, validation = sample_splits(
        train, config.train_size, config.validation_size, config.seed
    )
    results, histories = {}, {}
    for reg in regs:
        results[reg.name], histories[reg.name] = train_one(
            reg, train, validation, test, info, config
        )
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(info),
        "results": results,
        "history": histories,
        "model_dir": str(model_dir),
    }
    write_json_atomic(model_dir / "metrics.json", result)
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


FLAGS = flags.FLAGS


def define_flags():
    """The command-line flags, defined only when this module is the
    program: `experiments.train` and the other experiments define
    flags of the same names (absl allows one definition per name in
    a process, and tests import several of these modules)."""
    defaults = ExperimentConfig()
    flags.DEFINE_string(
        "dataset", defaults.dataset, "digits, idx:DIR or a tfds name."
    )
    flags.DEFINE_float("l1", 0.0, "L1 penalty factor on every kernel.")
    flags.DEFINE_float("l2", 0.0, "L2 penalty factor on every kernel.")
    flags.DEFINE_float("dropout", 0.0, "Dropout rate after each hidden layer.")
    flags.DEFINE_bool("batch_norm", False, "Batch norm before each activation.")
    flags.DEFINE_bool("early_stopping", False, "Stop on the validation loss.")
    flags.DEFINE_integer("patience", 10, "Early stopping patience (epochs).")
    flags.DEFINE_bool(
        "table", False, "Train the whole table even with switches."
    )
    flags.DEFINE_integer("train_size", defaults.train_size, "Training images.")
    flags.DEFINE_integer(
        "validation_size", defaults.validation_size, "Validation."
    )
    flags.DEFINE_integer(
        "epochs", defaults.epochs, "Most epochs per configuration."
    )
    flags.DEFINE_integer("batch_size", defaults.batch_size, "Batch size.")
    flags.DEFINE_float("learning_rate", defaults.learning_rate, "Adam step.")
    flags.DEFINE_integer("seed", defaults.seed, "Seed.")
    flags.DEFINE_string("model_dir", "", "Run directory for metrics.json.")
    flags.DEFINE_boolean("restart", False, cli.RESTART_HELP)
    flags.DEFINE_integer("verbose", 0, "0 silent, 1 progress bar, 2 per epoch.")


def main(argv):
    del argv
    try:
        regs = configurations(
            FLAGS.l1,
            FLAGS.l2,
            FLAGS.dropout,
            FLAGS.batch_norm,
            FLAGS.early_stopping,
            FLAGS.patience,
            FLAGS.table,
        )
        config = ExperimentConfig(
            dataset=FLAGS.dataset,
            train_size=FLAGS.train_size,
            validation_size=FLAGS.validation_size,
            epochs=FLAGS.epochs,
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            seed=FLAGS.seed,
            model_dir=FLAGS.model_dir,
            restart=FLAGS.restart,
            verbose=FLAGS.verbose,
        )
        result = run(config, regs)
    except (data_lib.DatasetUnavailableError, ValueError) as e:
        raise app.UsageError(str(e)) from None
    print(
        f"{config.train_size} training images, "
        f"{result['dataset']['num_test']} test images, up to "
        f"{config.epochs} epochs:"
    )
    print(format_table(result["results"]))
    print(f"run directory {result['model_dir']}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
