r"""Multi-task learning (Cheat sheet 2.5): one shared trunk, several heads.

    python -m experiments.multitask --dataset=idx:../shared/data/mnist

One CNN trunk (convolutions, pooling, a dense layer) feeds one dense head
per task; every head's labels derive from the digit:

    digit      the class itself (num_classes-way)
    parity     even (0) or odd (1)
    magnitude  small (0: y < num_classes / 2) or large (1)

The model returns a dict {head: logits}; the loss is the weighted sum

    L = sum_h w_h * L_h,   L_h = cross-entropy of head h

given to `loops.supervised` as a dict of losses with `loss_weights`, and
each head has its own accuracy metric (`<head>_accuracy`), so the history
and metrics.json hold per-head losses (`<head>`) and accuracies, on the
training batches and (prefixed `val_`) on the test split.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import math  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.rundir import open_run, record_of
from keras_cheats.models import cnn  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402
from loops.options import check_int  # noqa: E402


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
class MultitaskConfig:
    """Every choice of the multi-task experiment.

    Attributes:
      dataset: "digits", "idx:DIR" or a tensorflow-datasets name.
      heads: the tasks, names from `HEADS`.
      loss_weights: {head: w_h}; heads not named weigh 1.
      epochs, batch_size, learning_rate (Adam), seed: training.
      filters, dense_units, dropout: the shared CNN trunk.
      model_dir: run directory (default: a new folder under runs/).
      restart: move a model_dir that holds another run aside first.
      verbose: 0 silent, 1 progress bar, 2 one line per epoch.
    """

    dataset: str = "digits"
    heads: tuple = ("digit", "parity", "magnitude")
    loss_weights: dict = dataclasses.field(default_factory=dict)
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    filters: tuple = (32, 64)
    dense_units: int = 128
    dropout: float = 0.25
    seed: int = 0
    model_dir: str = ""
    restart: bool = False
    verbose: int = 0

    def __post_init__(self):
        heads = tuple(self.heads)
        if not heads or len(set(heads)) != len(heads):
            raise ValueError(
                f"heads={self.heads!r}; expected distinct names from "
                f"{', '.join(HEADS)}"
            )
        for head in heads:
            if head not in HEADS:
                raise ValueError(
                    f"heads contains {head!r}; expected names from "
                    f"{', '.join(HEADS)}"
                )
        object.__setattr__(self, "heads", heads)
        weights = dict(self.loss_weights)
        for head, w in weights.items():
            if head not in heads:
                raise ValueError(
                    f"loss_weights has {head!r}, which is not a head; "
                    f"expected names from heads={heads!r}"
                )
            if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
                raise ValueError(
                    f"loss_weights[{head!r}]={w!r}; expected a number >= 0"
                )
        object.__setattr__(
            self, "loss_weights", {h: float(weights.get(h, 1.0)) for h in heads}
        )
        for name in ("epochs", "batch_size"):
            check_int(name, getattr(self, name), 1)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        self.trunk_config()  # CNNConfig checks the trunk fields

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
      config: a `MultitaskConfig` (trunk sizes).

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


def make_task(heads, loss_weights):
    """`loops.supervised` with a loss, a weight and an accuracy per head."""
    return loops.supervised(
        {
            h: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            for h in heads
        },
        loss_weights=dict(loss_weights),
        metrics={
            h: [keras.metrics.SparseCategoricalAccuracy(name=f"{h}_accuracy")]
            for h in heads
        },
    )


def run(config: MultitaskConfig) -> dict:
    """Trains the multi-task model; writes and returns metrics.json."""
    model_dir = open_run(
        config.model_dir, "multitask", record_of("multitask", config),
        dataset=config.dataset, restart=config.restart,
    )  # fmt: skip
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
        model_dir=model_dir,
    )
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(data.info),
        "head_classes": classes,
        "history": history,
        "test": loops.evaluate(model, task, test),
        "model_dir": str(model_dir),
    }
    write_json_atomic(model_dir / "metrics.json", result)
    return result


def parse_weights(pairs):
    """["parity:0.5", "digit:1"] -> {"parity": 0.5, "digit": 1.0}."""
    weights = {}
    for pair in pairs:
        head, sep, value = pair.partition(":")
        try:
            weights[head] = float(value)
        except ValueError:
            sep = ""
        if not sep or not head:
            raise ValueError(
                f"--loss_weights {pair!r}; expected HEAD:WEIGHT, e.g. "
                "parity:0.5"
            )
    return weights


FLAGS = flags.FLAGS


def define_flags():
    """The command-line flags, defined only when this module is the
    program: `experiments.train` and the other experiments define
    flags of the same names (absl allows one definition per name in
    a process, and tests import several of these modules)."""
    defaults = MultitaskConfig()
    flags.DEFINE_string(
        "dataset", defaults.dataset, "digits, idx:DIR or a tfds name."
    )
    flags.DEFINE_list(
        "heads", list(defaults.heads), f"Tasks, from: {', '.join(HEADS)}."
    )
    flags.DEFINE_list(
        "loss_weights", [], "HEAD:WEIGHT pairs, e.g. parity:0.5 (default 1)."
    )
    flags.DEFINE_integer("epochs", defaults.epochs, "Passes over the data.")
    flags.DEFINE_integer("batch_size", defaults.batch_size, "Batch size.")
    flags.DEFINE_float("learning_rate", defaults.learning_rate, "Adam step.")
    flags.DEFINE_integer("seed", defaults.seed, "Seed.")
    flags.DEFINE_string("model_dir", "", "Run directory (resumes if reused).")
    flags.DEFINE_boolean("restart", False, cli.RESTART_HELP)
    flags.DEFINE_integer("verbose", 2, "0 silent, 1 progress bar, 2 per epoch.")


def main(argv):
    del argv
    try:
        config = MultitaskConfig(
            dataset=FLAGS.dataset,
            heads=tuple(FLAGS.heads),
            loss_weights=parse_weights(FLAGS.loss_weights),
            epochs=FLAGS.epochs,
            batch_size=FLAGS.batch_size,
            learning_rate=FLAGS.learning_rate,
            seed=FLAGS.seed,
            model_dir=FLAGS.model_dir,
            restart=FLAGS.restart,
            verbose=FLAGS.verbose,
        )
        result = run(config)
    except (data_lib.DatasetUnavailableError, ValueError) as e:
        raise app.UsageError(str(e)) from None
    test = result["test"]
    print(
        f"{result['dataset']['num_test']} test images, loss {test['loss']:.4f}"
    )
    for head in config.heads:
        print(
            f"  {head:<10} ({result['head_classes'][head]} classes, weight "
            f"{config.loss_weights[head]:g}): test accuracy "
            f"{test[f'{head}_accuracy']:.4f}, loss {test[head]:.4f}"
        )
    print(f"run directory {result['model_dir']}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
