r"""Rethinking generalization: fitting random labels (cheat sheet 11.1).

    python -m experiments.random_labels --dataset=idx:../shared/data/mnist \
        --corruption=0,0.2,0.5,0.8,1 --epochs=60

Zhang et al. (2017): the same network, without regularization, trained on
the training images with a share p of their labels replaced by random
ones (p = 0, 0.2, ..., 1; the test labels stay true), and on random
pixels (Gaussian noise with the training images' mean and standard
deviation, the true labels kept, as in the paper). The network fits every
training set, train accuracy -> 1, while the test accuracy falls toward
chance (1 / classes): capacity alone says nothing of generalization.

One run per case, each in MODEL_DIR/<case>. The corrupted labels are
built once per seed: one permutation of the images and one random label
per image, the first round(p N) images of the permutation relabelled, so
the corrupted sets are nested. A run stops early once its epoch's
(running) train accuracy reaches --stop_at. MODEL_DIR gets metrics.json
and random_labels.png (`experiments.limits_charts.random_label_chart`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, images, limits_charts, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import mlp  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "random_labels"
PIXELS = "random_pixels"
FIT_LEVEL = 0.99  # "epochs to fit": first epoch with train accuracy >= this
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the random-labels experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    corruption: tuple[float, ...] = (0.0, 0.2, 0.5, 0.8, 1.0)
    """Shares of the training labels replaced by random ones, one run each."""
    random_pixels: bool = True
    """Also one run on Gaussian-noise images with the true labels."""
    hidden_units: tuple[int, ...] = (1024, 1024)
    """Hidden layers of the MLP (ReLU, no regularization)."""
    epochs: int = 60
    """Most passes over the data per run."""
    stop_at: float = 0.995
    """Stop a run once an epoch's train accuracy reaches this (1 = never
    before --epochs unless it is exactly 1)."""
    batch_size: int = 128
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size."""
    seed: int = 0
    """Seeds the corrupted labels, the noise, initialization and order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        if not self.corruption:
            raise ValueError("corruption=(); expected at least one share")
        for p in self.corruption:
            checks.interval("corruption", p, 0.0, 1.0)
        checks.positive_ints("hidden_units", self.hidden_units)
        for name in ("epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        checks.interval("stop_at", self.stop_at, 0.0, 1.0, low_open=True)
        checks.above("learning_rate", self.learning_rate)
        checks.integer("seed", self.seed, 0)
        checks.choice("verbose", self.verbose, (0, 1, 2))


def corrupt_labels(labels, share, num_classes, seed):
    """Replaces the labels of exactly round(share N) images (Zhang et al.).

    The images relabelled are the first round(share N) of one permutation
    drawn from `seed`, and each gets the label drawn for it from `seed`,
    uniform over the classes (so about 1 / num_classes of them keep their
    true label by chance, as in the paper): for one seed the relabelled
    sets of growing shares are nested.

    Args:
        labels: (N,) integer labels in [0, num_classes).
        share: p in [0, 1].
        num_classes: number of classes.
        seed: seeds the permutation and the random labels.

    Returns:
        (new labels (N,) int64, relabelled (N,) bool).
    """
    labels = np.asarray(labels, np.int64)
    checks.interval("share", share, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    random = rng.integers(0, num_classes, len(labels))
    relabelled = np.zeros(len(labels), bool)
    relabelled[order[: int(round(share * len(labels)))]] = True
    return np.where(relabelled, random, labels), relabelled


def random_pixels(images, seed):
    """Gaussian noise images with the mean and standard deviation of
    `images` (over every pixel): x' ~ N(mean(x), std(x)^2), same shape,
    float32, not clipped (the paper's "Gaussian" case)."""
    images = np.asarray(images, np.float32)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(images.shape, np.float32)
    return images.mean() + images.std() * noise


def fit_epoch(train_accuracy, level=FIT_LEVEL):
    """The first epoch (1-based) whose train accuracy is >= level, or None."""
    hits = np.flatnonzero(np.asarray(train_accuracy) >= level)
    return int(hits[0]) + 1 if len(hits) else None


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains one MLP per case (in workdir/<case>) and evaluates each.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "chance", "runs": {case: `_run`'s result}}, cases "corrupt_P" (P the
    share in percent) and "random_pixels".
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    cases = {}
    for p in config.corruption:
        y, relabelled = corrupt_labels(
            train.y, p, info.num_classes, config.seed
        )
        cases[f"corrupt_{round(100 * p):d}"] = (p, train.x, y, relabelled)
    if config.random_pixels:
        x = random_pixels(train.x, config.seed)
        cases[PIXELS] = (None, x, train.y, np.zeros(len(train.y), bool))
    runs = {
        name: _run(config, info, x, y, relabelled, train.y, test,
                   workdir / name) | {"corruption": p}
        for name, (p, x, y, relabelled) in cases.items()
    }  # fmt: skip
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "chance": 1.0 / info.num_classes,
        "runs": runs,
    }
    images.save_png(
        workdir / "random_labels.png",
        limits_charts.random_label_chart(runs, result["chance"]),
    )
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _run(config, info, x, y, relabelled, true_y, test, run_dir):
    """Trains on (x, y) and evaluates on (x, y) and on the true test set."""
    loops.seed_everything(config.seed)
    model = mlp.build_mlp(
        info.image_shape,
        info.num_classes,
        mlp.MLPConfig(hidden_units=config.hidden_units, output_activation=None),
    )
    task = loops.supervised(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        task,
        loops.InMemory(
            (x, y), config.batch_size, order=loops.shuffled(config.seed)
        ),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        callbacks=[StopAt(config.stop_at)],
        model_dir=run_dir,
    )
    train_accuracy = accuracy(model, x, y)
    return {
        "relabelled": float(relabelled.mean()),
        "wrong_labels": float((y != true_y).mean()),
        "epochs_run": len(history["accuracy"]),
        "epochs_to_fit": fit_epoch(history["accuracy"]),
        "train_accuracy": train_accuracy,
        "test_accuracy": accuracy(model, test.x, test.y),
        "history": history,
    }


def accuracy(model, x, y, batch_size=1000):
    """Share of (x, y) the model classifies right (inference mode)."""
    logits = np.concatenate([
        np.asarray(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ])  # fmt: skip
    return float((logits.argmax(-1) == np.asarray(y)).mean())


class StopAt(keras.callbacks.Callback):
    """Stops training once an epoch's "accuracy" reaches `level`."""

    def __init__(self, level):
        super().__init__()
        self.level = level

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("accuracy", 0.0) >= self.level:
            self.model.stop_training = True


def summary(result) -> str:
    """One line per case."""
    lines = []
    for name, r in result["runs"].items():
        fit = r["epochs_to_fit"]
        fitted = (
            f"train accuracy {FIT_LEVEL} at epoch {fit}"
            if fit is not None
            else f"train accuracy {FIT_LEVEL} not within {r['epochs_run']}"
        )
        lines.append(
            f"{name}: train accuracy {r['train_accuracy']:.4f}, test "
            f"accuracy {r['test_accuracy']:.4f} ({fitted}; "
            f"{r['wrong_labels']:.1%} wrong labels)"
        )
    lines.append(f"chance: {result['chance']:.4f}")
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
