r"""Multi-task learning (Cheat sheet 2.5): one shared trunk, several heads.

    python -m experiments.multitask --dataset=idx:../shared/data/mnist
    python -m experiments.multitask --heads=digit,parity --set parity=0.5

One CNN trunk (convolutions, pooling, a dense layer) feeds one dense head
per task; every head's labels derive from the digit:

    digit      the class itself (num_classes-way)
    parity     even (0) or odd (1)
    magnitude  small (0: y < num_classes / 2) or large (1)

The model returns a dict {head: logits}; the loss is the weighted sum

    L = sum_h w_h * L_h,   L_h = cross-entropy of head h

given to `loops.supervised` as a dict of losses with `loss_weights` (on
the command line `--set HEAD=w_h`, one per weight; heads not named weigh
1), and each head has its own accuracy metric (`<head>_accuracy`), so the
history and metrics.json hold per-head losses (`<head>`) and accuracies,
on the training batches and (prefixed `val_`) on the test split. The run
folder (--model_dir) gets metrics.json and checkpoints; the same folder
again resumes the run.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import math  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import classification, cli, config_flags, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import cnn  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "multitask"


def _digit(y, num_classes):
    return y


def _parity(y, num_classes):
    return y % 2


def _magnitude(y, num_classes):
    return tf.cast(y >= num_classes // 2, y.dtype)


# head name -> (number of classes given the data set's, label function).
HEADS = {
    "digit": (lambda k: k, _digit),
    "parity": (lambda k: 2, _parity),
    "magnitude": (lambda k: 2, _magnitude),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the multi-task experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    heads: tuple[str, ...] = ("digit", "parity", "magnitude")
    """The tasks, one head each, from: digit, parity, magnitude."""
    loss_weights: dict = dataclasses.field(default_factory=dict)
    """Loss weight w_h of a head, e.g. parity=0.5 (heads not named weigh
    1)."""
    epochs: int = 5
    """Passes over the data."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step."""
    filters: tuple[int, ...] = (32, 64)
    """Filters of the shared trunk's convolutions, one layer each."""
    dense_units: int = 128
    """Units of the shared trunk's dense layer, the heads' input."""
    dropout: float = 0.25
    """Dropout rate of the shared trunk."""
    seed: int = 0
    """Seeds init and order."""
    verbose: int = 2
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        heads = tuple(self.heads)
        unknown = [h for h in heads if h not in HEADS]
        if not heads or unknown or len(set(heads)) != len(heads):
            problem = f" ({unknown[0]!r} is not one)" if unknown else ""
            raise ValueError(
                f"heads={self.heads!r}; expected distinct names from "
                f"{', '.join(HEADS)}{problem}"
            )
        object.__setattr__(self, "heads", heads)
        weights = dict(self.loss_weights)
        for head, w in weights.items():
            if head not in heads:
                raise ValueError(
                    f"loss_weights={weights!r}; expected heads as keys, "
                    f"from heads={heads!r} ({head!r} is not one)"
                )
            if isinstance(w, bool) or not (
                isinstance(w, int | float) and math.isfinite(w) and w >= 0
            ):
                raise ValueError(
                    f"loss_weights[{head!r}]={w!r}; expected a number >= 0"
                )
        object.__setattr__(
            self, "loss_weights", {h: float(weights.get(h, 1.0)) for h in heads}
        )
        for name in ("epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        object.__setattr__(
            self, "filters", checks.integers("filters", self.filters)
        )
        checks.integer("dense_units", self.dense_units, 1)
        checks.fraction("dropout", self.dropout)
        self.trunk_config()  # and CNNConfig's own checks

    def trunk_config(self):
        return cnn.CNNConfig(
            filters=tuple(self.filters),
            dense_units=(self.dense_units,),
            dropout=self.dropout,
            output_activation=None,
        )


def head_classes(heads, num_classes):
    """{head: number of classes} for a data set of `num_classes`."""
    return {h: HEADS[h][0](num_classes) for h in heads}


def make_targets(heads, num_classes):
    """A pipeline map (images, labels) -> (images, {head: labels})."""

    def prepare(images, labels):
        return images, {h: HEADS[h][1](labels, num_classes) for h in heads}

    return prepare


def build_multitask_model(image_shape, classes, config):
    """Shared CNN trunk, one dense head per task.

    Args:
      image_shape: (H, W, C).
      classes: {head: number of classes}, e.g. from `head_classes`.
      config: a `Config` (trunk sizes).

    Returns:
      keras.Model mapping (B, H, W, C) to {head: (B, classes[head]) logits}.
      The trunk layers keep `build_cnn`'s names; head layers are named by
      their head.
    """
    # build_cnn's layers up to its last dropout are the trunk; its own
    # output layer is left out of the model.
    single = cnn.build_cnn(image_shape, 2, config.trunk_config())
    features = single.layers[-2].output  # (B, dense_units)
    outputs = {
        head: keras.layers.Dense(k, name=head)(features)
        for head, k in classes.items()
    }
    return keras.Model(single.input, outputs, name="multitask")


def head_metrics(head):
    """`classification.metrics()` of one head, each named
    `<head>_<name>` (e.g. parity_accuracy): the heads' metrics share one
    namespace in the history."""
    return [
        type(m).from_config({**m.get_config(), "name": f"{head}_{m.name}"})
        for m in classification.metrics()
    ]


def make_task(heads, loss_weights):
    """`loops.supervised` with a loss, a weight and metrics per head: the
    classification task's loss and metrics, once per head."""
    return loops.supervised(
        {h: classification.loss() for h in heads},
        loss_weights=dict(loss_weights),
        metrics={h: head_metrics(h) for h in heads},
    )


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the multi-task model and evaluates it on the test split.

    Args:
        config: the run's hyperparameters.
        workdir: the run folder ("" for a new one under runs/); the same
            folder again resumes the run (`experiments.rundir`).
        restart: move a workdir that holds another run aside first.

    Returns:
        {"config", "dataset", "head_classes", "history", "test": {"loss",
        "<head>", "<head>_accuracy" per head}, "model_dir"}, also written
        to metrics.json in the run folder.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    loops.seed_everything(config.seed)
    data = data_lib.load(
        config.dataset, batch_size=config.batch_size, seed=config.seed
    )
    classes = head_classes(config.heads, data.info.num_classes)
    prepare = make_targets(config.heads, data.info.num_classes)
    train, test = data.train.map(prepare), data.test.map(prepare)
    model = build_multitask_model(data.info.image_shape, classes, config)
    task = make_task(config.heads, config.loss_weights)
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        task,
        train,
        validation_data=test,
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir,
    )
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(data.info),
        "head_classes": classes,
        "history": history,
        "test": loops.evaluate(model, task, test),
        "model_dir": str(workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """The lines the command prints: the test loss, then each head's
    classes, weight, test accuracy and loss."""
    test, config = result["test"], result["config"]
    lines = [
        f"{result['dataset']['num_test']} test images, loss {test['loss']:.4f}"
    ]
    for head in config["heads"]:
        lines.append(
            f"  {head:<10} ({result['head_classes'][head]} classes, weight "
            f"{config['loss_weights'][head]:g}): test accuracy "
            f"{test[f'{head}_accuracy']:.4f}, loss {test[head]:.4f}"
        )
    lines.append(f"run directory {result['model_dir']}")
    return "\n".join(lines)


FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
