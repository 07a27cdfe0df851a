r"""Seven optimizers on one MLP (cheat sheet section 5).

    python -m experiments.optimizers --dataset=idx:../shared/data/mnist \
        --epochs=5
    python -m experiments.optimizers --epochs=20    # digits, offline

Trains the MLP of `experiments.train --model=mlp` (784-128-10, ReLU,
logits) once per optimizer of `keras_cheats.rule_optimizers` (the update
rules of `keras_cheats.update_rules`, written out), in this order:

    1 sgd, 2 momentum, 3 nesterov, 4 adagrad, 5 rmsprop, 6 adam, 7 adamw

each from the same initial weights on the same batches (`--seed`), through
`loops.fit`, with the learning rate of its flag. The defaults are the
usual ones: 0.1 for plain SGD; 0.01 for momentum and Nesterov (mu = 0.9,
so the same long-run step as SGD's 0.1); 0.01 for Adagrad (Keras' 0.001
barely moves it in a few epochs); Keras' 0.001 for RMSprop, Adam and
AdamW (weight decay 0.004). Each run has its folder MODEL_DIR/NAME. The
run directory gets metrics.json (per optimizer: the learning rate, the
final epoch's mean training loss, the test loss and accuracy, the
per-epoch history and the loss curve) and loss_curves.png: at step 0
the initial weights' loss on the training split (the same for all),
then the mean training loss over each block of `--log_every` steps
(the last block of an epoch may be shorter), log scale, one
colour per optimizer, the legend's numbers being the indices above
(`experiments.optimizer_charts`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402

import keras  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import (  # noqa: E402
    classification,
    cli,
    config_flags,
    images,
    optimizer_charts,
    rundir,
)
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks, rule_optimizers  # noqa: E402
from keras_cheats.models import mlp  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "optimizers"
NAMES = tuple(rule_optimizers.BY_NAME)  # the order of the module docstring
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the optimizer comparison."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    optimizers: str = "all"
    """Comma-separated names of the optimizers to train (of sgd, momentum,
    nesterov, adagrad, rmsprop, adam, adamw), or all."""
    epochs: int = 5
    """Passes over the data, per optimizer."""
    batch_size: int = 64
    """Batch size."""
    lr_sgd: float = 0.1
    """Learning rate of plain SGD."""
    lr_momentum: float = 0.01
    """Learning rate of SGD with momentum 0.9."""
    lr_nesterov: float = 0.01
    """Learning rate of SGD with Nesterov momentum 0.9."""
    lr_adagrad: float = 0.01
    """Learning rate of Adagrad."""
    lr_rmsprop: float = 0.001
    """Learning rate of RMSprop."""
    lr_adam: float = 0.001
    """Learning rate of Adam."""
    lr_adamw: float = 0.001
    """Learning rate of AdamW."""
    weight_decay: float = 0.004
    """AdamW's decoupled weight decay (Keras' default)."""
    log_every: int = 25
    """Steps per point of the loss curves (and per compiled call)."""
    seed: int = 0
    """Seeds the initial weights and the batch order (the same for all)."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        self.names()
        for name in ("epochs", "batch_size", "log_every"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("seed", self.seed, 0)
        checks.choice("verbose", self.verbose, (0, 1, 2))
        for name in NAMES:
            checks.interval(f"lr_{name}", getattr(self, f"lr_{name}"), 0, None,
                            low_open=True)  # fmt: skip
        checks.interval("weight_decay", self.weight_decay, 0, None)

    def names(self):
        """The optimizers to train, in the order of the module docstring."""
        if self.optimizers == "all":
            return NAMES
        names = [n.strip() for n in self.optimizers.split(",")]
        for name in names:
            checks.choice("optimizers", name, (*NAMES, "all"))
        if not names or len(set(names)) != len(names) or "all" in names:
            raise ValueError(
                f"optimizers={self.optimizers!r}; expected 'all' or "
                f"distinct names of {', '.join(NAMES)}, comma-separated"
            )
        return tuple(n for n in NAMES if n in names)

    def optimizer(self, name):
        """A fresh optimizer `name` of `rule_optimizers` at its rate."""
        lr = getattr(self, f"lr_{name}")
        if name == "adamw":
            return rule_optimizers.AdamW(lr, weight_decay=self.weight_decay)
        return rule_optimizers.BY_NAME[name](learning_rate=lr)


class LossCurve(keras.callbacks.Callback):
    """Records (step, mean training loss over the examples since the last
    record) at each compiled call's end, from the engine's running,
    example-weighted epoch mean `logs["loss"]` (an epoch's batches hold
    `batch_size` examples but the last, which holds the rest)."""

    def __init__(self, steps_per_epoch, batch_size, num_examples):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.batch_size, self.num_examples = batch_size, num_examples
        self.steps, self.losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._n, self._sum = epoch, 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        n = batch + 1  # steps so far in this epoch
        count = min(n * self.batch_size, self.num_examples)
        total = float(logs["loss"]) * count  # sum of the per-example losses
        if n <= self._n:
            return
        before = min(self._n * self.batch_size, self.num_examples)
        self.steps.append(self._epoch * self.steps_per_epoch + n)
        self.losses.append((total - self._sum) / (count - before))
        self._n, self._sum = n, total


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the MLP with each optimizer and evaluates it on the test split.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "optimizers": {name: the run of `_one_run`}, "chart"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    train_data = data_lib.Pipeline(
        train, config.batch_size, shuffle=True, seed=config.seed
    )
    test_data = data_lib.Pipeline(test, 256, shuffle=False)
    runs = {
        name: _one_run(config, name, train_data, test_data, info,
                       workdir / name)
        for name in config.names()
    }  # fmt: skip
    chart = images.save_png(
        workdir / "loss_curves.png",
        optimizer_charts.loss_curves(
            [(r["curve"]["steps"], r["curve"]["loss"]) for r in runs.values()],
            [NAMES.index(name) + 1 for name in runs],
        ),
    )
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "order": list(runs),
        "optimizers": runs,
        "chart": str(chart),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _one_run(config, name, train_data, test_data, info, run_dir):
    loops.seed_everything(config.seed)  # the same initial weights for all
    model = mlp.build_mlp(
        info.image_shape,
        info.num_classes,
        mlp.MLPConfig(hidden_units=(128,), output_activation=None),
    )
    curve = LossCurve(
        train_data.steps_per_epoch, config.batch_size, len(train_data.split.y)
    )
    start = classification.evaluate(model, train_data)["loss"]
    curve.steps.append(0)  # the initial weights' mean training loss
    curve.losses.append(float(start))
    history = loops.fit(
        model,
        config.optimizer(name),
        classification.task(),
        train_data,
        options=loops.LoopOptions(
            epochs=config.epochs,
            steps_per_execution=config.log_every,
            seed=config.seed,
            verbose=config.verbose,
        ),
        callbacks=[curve],
        model_dir=run_dir,
    )
    test_metrics = classification.evaluate(model, test_data)
    return {
        "learning_rate": getattr(config, f"lr_{name}"),
        "final_train_loss": history["loss"][-1],
        "test_loss": float(test_metrics["loss"]),
        "test_accuracy": float(test_metrics["accuracy"]),
        "mean_epoch_seconds": sum(history["epoch_seconds"])
        / len(history["epoch_seconds"]),
        "history": history,
        "curve": {"steps": curve.steps, "loss": curve.losses},
    }


def summary(result) -> str:
    """One line per optimizer, in the order of the chart's legend."""
    lines = [
        f"{i} {name:8s} lr {r['learning_rate']:<6g} final train loss "
        f"{r['final_train_loss']:.4f}  test accuracy "
        f"{r['test_accuracy']:.4f}  ({r['mean_epoch_seconds']:.1f} s/epoch)"
        for name, r in result["optimizers"].items()
        for i in [NAMES.index(name) + 1]
    ]
    return "\n".join([*lines, f"loss curves: {result['chart']}"])


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
