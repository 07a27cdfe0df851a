r"""Self-supervised learning with SimCLR (cheat sheet 7.10), judged by a
linear probe with few labels.

    python -m experiments.simclr --dataset=idx:../shared/data/mnist \
        --epochs=15 --label_seeds=2 --supervised_steps=200

1. Pre-training, no labels: each training image gets two random views
   (`experiments.augment`; model and step in
   `experiments.simclr_model`); the encoder f (the CNN of
   `keras_cheats.models.cnn` without its output layer: h = f(x), 128-d)
   and a projection head g (an MLP: z = g(h)) are trained through
   `loops.fit` to pick out each view's partner among the 2N views of the
   batch (`keras_cheats.losses.nt_xent`). Under a `tf.distribute`
   strategy the step gathers the projections of every replica, so the
   negatives are the whole global batch.
2. Linear probe: the encoder is frozen and a logistic regression
   (scikit-learn, `experiments.linear_probe`) is trained on h, before the
   projection head as in the paper, with 1% and 10% of the training
   labels (class-balanced subsets; `--label_seeds` draws) and with all of
   them; the test accuracy is reported against
   (a) the same probe on raw pixels and
   (b) the same encoder architecture trained end to end, from scratch, on
       the same labelled images with the same augmentations.

The run directory gets metrics.json, views.png (rows: 16 test digits,
their view a, their view b), tsne.png (t-SNE of 1,000 test images, raw
pixels left, frozen SimCLR features right, each point drawn as its digit
in its class colour) and neighbours.png (8 test queries, each followed by
its 7 nearest training images in SimCLR feature space).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import augment, cli, config_flags, images, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments import linear_probe as probe  # noqa: E402
from experiments.simclr_model import (  # noqa: E402
    build_encoder,
    build_simclr,
    simclr_task,
)
from keras_cheats import checks  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "simclr"
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the SimCLR experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    epochs: int = 20
    """Passes of self-supervised pre-training over the training images."""
    batch_size: int = 256
    """Images per pre-training batch (2x as many views); the last partial
    batch is dropped."""
    temperature: float = 0.5
    """NT-Xent temperature tau."""
    learning_rate: float = 1e-3
    """Adam step size (pre-training and the supervised baseline)."""
    projection_dim: int = 64
    """Size of the projection z = g(h) the loss sees."""
    crop_min: float = 0.7
    """Smallest crop side, as a fraction of the image side (zoom <= 1/it)."""
    max_rotation: float = 15.0
    """Largest rotation of a view, in degrees."""
    max_translate: float = 0.12
    """Largest shift of a view, as a fraction of the image side."""
    erase_prob: float = 0.5
    """Chance that a view has a random rectangle erased (cutout)."""
    noise_std: float = 0.1
    """Largest standard deviation of the Gaussian noise added to a view."""
    label_fractions: tuple[float, ...] = (0.01, 0.1)
    """Fractions of the training labels the probe and the supervised
    baseline get (class-balanced; 1.0, all labels, is always probed)."""
    label_seeds: int = 3
    """Labelled subsets drawn per fraction (seeds 0, 1, ...)."""
    supervised_steps: int = 300
    """Batches of 64 the supervised baseline trains for per subset."""
    seed: int = 0
    """Seeds initialization, batch order and views."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("epochs", "projection_dim", "label_seeds",
                     "supervised_steps"):  # fmt: skip
            checks.integer(name, getattr(self, name), 1)
        checks.integer("batch_size", self.batch_size, 2)  # >= 1 negative
        checks.integer("seed", self.seed, 0)
        checks.above("temperature", self.temperature)
        checks.above("learning_rate", self.learning_rate)
        self.views()  # checks the augmentation fields
        fractions = self.label_fractions
        if not isinstance(fractions, tuple) or not fractions or not all(
            isinstance(f, int | float) and not isinstance(f, bool) and
            0 < f <= 1 for f in fractions
        ):  # fmt: skip
            raise ValueError(
                f"label_fractions={fractions!r}; expected a non-empty list "
                "of numbers in (0, 1]"
            )

    def views(self):
        return augment.ViewConfig(
            crop_min=self.crop_min,
            max_rotation=self.max_rotation,
            max_translate=self.max_translate,
            erase_prob=self.erase_prob,
            noise_std=self.noise_std,
        )


def augmented_supervised(config):
    """Cross-entropy on one random view of each labelled image."""
    base = loops.supervised(
        keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    views = config.views()

    def train_step(model, optimizer, batch):
        x, y = batch
        seed = augment.view_seeds(config.seed + 1, optimizer.iterations)[0]
        x = augment.random_view(x, seed, views)
        return base.train_step(model, optimizer, (x, y))

    return loops.Task(train_step, base.test_step, base.metrics)


def _batched(model, x, batch=512):
    """model(x) in inference mode, 512 images at a time, as NumPy."""
    return np.concatenate([
        np.asarray(model(x[i : i + batch], training=False))
        for i in range(0, len(x), batch)
    ])  # fmt: skip


def features(encoder, x):
    """Frozen representations h = f(x), (N, 128), inference mode."""
    return _batched(encoder, x)


def supervised_accuracy(config, train, test, info, subset):
    """The encoder trained end to end with a softmax layer on the labelled
    images `subset` alone; returns its test accuracy."""
    batch = min(64, len(subset))
    repeats = math.ceil(config.supervised_steps * batch / len(subset))
    labelled = data_lib.Split(
        np.tile(train.x[subset], (repeats, 1, 1, 1)),
        np.tile(train.y[subset], repeats),
    )
    loops.seed_everything(config.seed)
    encoder = build_encoder(info.image_shape)
    model = keras.Sequential(
        [encoder, keras.layers.Dense(info.num_classes, activation="softmax")]
    )
    loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        augmented_supervised(config),
        data_lib.Pipeline(labelled, batch, seed=config.seed),
        options=loops.LoopOptions(epochs=1, seed=config.seed, verbose=0),
    )
    predicted = _batched(model, test.x).argmax(-1)
    return float(np.mean(predicted == test.y))


def _evaluate(config, train, test, info, encoder):
    """Probe accuracies of SimCLR features and raw pixels, and the
    supervised baseline's, per label fraction and seed."""
    h_train, h_test = features(encoder, train.x), features(encoder, test.x)
    by_fraction = {}
    for fraction in sorted(set(config.label_fractions) | {1.0}):
        per_class = probe.per_class_count(
            fraction, info.num_train, info.num_classes
        )
        seeds = 1 if fraction == 1.0 else config.label_seeds
        runs = {"simclr": [], "pixels": [], "supervised": []}
        for s in range(seeds):
            subset = (
                np.arange(len(train))
                if fraction == 1.0
                else probe.balanced_subset(train.y, per_class, s)
            )
            y = train.y[subset]
            runs["simclr"].append(
                probe.probe_accuracy(
                    h_train[subset], y, h_test, test.y, unlabelled=h_train
                )
            )
            runs["pixels"].append(
                probe.probe_accuracy(
                    train.x[subset], y, test.x, test.y, unlabelled=train.x
                )
            )
            if fraction < 1.0:
                accuracy = supervised_accuracy(
                    config, train, test, info, subset
                )
                runs["supervised"].append(accuracy)
        by_fraction[f"{fraction:g}"] = {
            "labelled_images": int(len(subset)),
            **{
                f"{name}_accuracy": {
                    "mean": float(np.mean(accs)),
                    "std": float(np.std(accs)),
                    "runs": accs,
                }
                for name, accs in runs.items()
                if accs
            },
        }
    return by_fraction, h_train, h_test


def _pictures(workdir, config, train, test, h_train, h_test):
    """views.png, tsne.png and neighbours.png (module docstring)."""
    views = augment.two_views(test.x[:16], config.seed, 0, config.views())
    images.save_grid(
        workdir / "views.png",
        np.concatenate([test.x[:16], *(v.numpy() for v in views)]),
        columns=16,
    )
    shown = np.arange(min(1000, len(test)))
    pixels = probe.tsne_canvas(test.x[shown], test.x[shown], test.y[shown])
    learned = probe.tsne_canvas(h_test[shown], test.x[shown], test.y[shown])
    probe.save_side_by_side(workdir / "tsne.png", pixels, learned)
    queries = np.arange(8) * max(1, len(test) // 8)
    images.save_grid(
        workdir / "neighbours.png",
        probe.neighbours(test.x[queries], train.x, h_test[queries], h_train),
        columns=8,
    )


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Pre-trains SimCLR, probes the frozen encoder and the baselines.

    Returns (and writes to workdir/metrics.json) "model_dir", "config",
    "final_loss" (NT-Xent of the last epoch), "history", and "probe":
    {fraction: {"labelled_images", "simclr_accuracy", "pixels_accuracy",
    "supervised_accuracy" (not for 1): {"mean", "std", "runs"}}}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    if config.batch_size > len(train):
        raise ValueError(
            f"batch_size={config.batch_size}; expected at most the "
            f"{len(train)} training images"
        )
    loops.seed_everything(config.seed)
    model = build_simclr(info.image_shape, config.projection_dim)
    t0 = time.perf_counter()
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        simclr_task(config),
        data_lib.Pipeline(
            train, config.batch_size, seed=config.seed, drop_remainder=True
        ),  # fmt: skip
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir / "pretraining",
    )
    encoder = model.get_layer("encoder")
    t1 = time.perf_counter()
    by_fraction, h_train, h_test = _evaluate(config, train, test, info, encoder)
    t2 = time.perf_counter()
    _pictures(workdir, config, train, test, h_train, h_test)
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "num_train": info.num_train,
        "num_test": info.num_test,
        "final_loss": float(history["loss"][-1]),
        "history": history,
        "probe": by_fraction,
        "seconds": {
            "pretraining": t1 - t0,
            "probes_and_baselines": t2 - t1,
            "pictures": time.perf_counter() - t2,
        },
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """One line per label fraction: probe and baselines, test accuracy."""
    lines = [
        f"SimCLR NT-Xent after {len(result['history']['loss'])} epochs: "
        f"{result['final_loss']:.4f} (test accuracy, mean +- std over "
        "label subsets:)"
    ]
    for fraction, r in result["probe"].items():
        parts = [
            f"{name} {r[key]['mean']:.4f} +- {r[key]['std']:.4f}"
            for name, key in (
                ("SimCLR probe", "simclr_accuracy"),
                ("pixel probe", "pixels_accuracy"),
                ("supervised", "supervised_accuracy"),
            )
            if key in r
        ]
        lines.append(
            f"labels {float(fraction):.0%} ({r['labelled_images']} images): "
            + ", ".join(parts)
        )
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
