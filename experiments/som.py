r"""A self-organizing map of the digits (cheat sheet 7.9).

    python -m experiments.som --dataset=idx:../shared/data/mnist \
        --rows=12 --cols=12 --epochs=10

Trains a rows x cols Kohonen map on the training images with the batched
Kohonen rule of `experiments.som_task` (eta and sigma decaying
exponentially), then measures on the test images the quantization error
(mean distance to the best-matching unit) and the topographic error
(share of images whose two nearest units are not grid neighbours), and,
as a bonus, the accuracy of the map as a classifier: each unit takes the
majority label of the training images it wins (a unit that wins none,
the label of the training image nearest to it) and a test image gets the
label of its best-matching unit. The run directory gets metrics.json and
three PNGs: prototypes.png (each unit's prototype as an image, laid out
on the grid), u_matrix.png (each unit's mean distance to its grid
neighbours, scaled from its minimum (black) to its maximum (white):
light = far apart, the borders between clusters) and
hit_map.png (each unit in the colour of its majority label, paler the
fewer training images it wins; white = none; matplotlib's tab10 colours
for 0 to 9: blue, orange, green, red, purple, brown, pink, grey, olive,
cyan).

eta and sigma decay over the T steps of --epochs; a rerun that continues
a finished run with a larger --epochs stretches both schedules to the
new T, so they rise again where it resumes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
from typing import Literal  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, images, rundir, som_task  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.linear_probe import PALETTE  # noqa: E402
from keras_cheats import checks  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "som"
FLAGS = flags.FLAGS
CELL = 16  # pixels per unit in u_matrix.png and hit_map.png


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the self-organizing map experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    rows: int = 12
    """Rows of the map's grid."""
    cols: int = 12
    """Columns of the map's grid."""
    init: Literal["samples", "uniform"] = "samples"
    """Initial prototypes: random training images, or uniform in [0, 1)."""
    eta_start: float = 0.5
    """Learning rate eta at the first step."""
    eta_end: float = 0.01
    """Learning rate eta after the last step (exponential decay)."""
    sigma_start: float = 4.0
    """Neighbourhood width sigma at the first step, in grid units."""
    sigma_end: float = 0.5
    """Neighbourhood width sigma after the last step (exponential decay)."""
    epochs: int = 10
    """Passes over the training images."""
    batch_size: int = 32
    """Images per step; their updates are averaged."""
    seed: int = 0
    """Seeds the initial prototypes and the batch order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("rows", "cols", "epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        if self.rows * self.cols < 2:
            raise ValueError(
                f"rows={self.rows}, cols={self.cols}; expected a grid of "
                "at least 2 units"
            )
        checks.choice("init", self.init, ("samples", "uniform"))
        checks.interval("eta_start", self.eta_start, 0, 1, low_open=True)
        checks.interval("eta_end", self.eta_end, 0, self.eta_start, True)
        checks.above("sigma_start", self.sigma_start)
        checks.interval(
            "sigma_end", self.sigma_end, 0, self.sigma_start, low_open=True
        )
        checks.integer("seed", self.seed, 0)


def u_matrix(prototypes, rows, cols):
    """U_j = mean ||w_j - w_k|| over the grid neighbours k of unit j (the
    8-neighbourhood, as for the topographic error): (K, D) -> (rows, cols).
    """
    w = np.asarray(prototypes, np.float64).reshape(rows, cols, -1)
    total, count = np.zeros((rows, cols)), np.zeros((rows, cols))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            # unit (r, c) and its neighbour (r + dr, c + dc), where both exist
            r0, r1 = max(0, -dr), rows - max(0, dr)
            c0, c1 = max(0, -dc), cols - max(0, dc)
            here = w[r0:r1, c0:c1]
            there = w[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
            total[r0:r1, c0:c1] += np.linalg.norm(here - there, axis=-1)
            count[r0:r1, c0:c1] += 1
    return total / count


def unit_labels(train_bmu, train_y, prototypes, train_x, num_classes):
    """Each unit's majority label among the training images it wins; a unit
    that wins none takes the label of the training image nearest to it.

    Returns (labels (K,), hits (K,) training images won per unit).
    """
    k = len(prototypes)
    votes = np.zeros((k, num_classes), np.int64)
    np.add.at(votes, (train_bmu, train_y), 1)
    hits = votes.sum(axis=1)
    labels = votes.argmax(axis=1)
    for j in np.flatnonzero(hits == 0):
        nearest = np.argmin(((train_x - prototypes[j]) ** 2).sum(axis=1))
        labels[j] = train_y[nearest]
    return labels, hits


def save_pictures(workdir, prototypes, labels, hits, config, image_shape):
    """prototypes.png, u_matrix.png and hit_map.png (see the module doc)."""
    rows, cols = config.rows, config.cols
    images.save_grid(
        workdir / "prototypes.png",
        prototypes.reshape(-1, *image_shape),
        columns=cols,
    )
    u = u_matrix(prototypes, rows, cols).reshape(-1)
    u = (u - u.min()) / max(u.max() - u.min(), 1e-12)  # dark = close
    tiles = np.broadcast_to(u[:, None, None, None], (len(u), CELL, CELL, 1))
    # No white lines between the cells: white means far apart here.
    images.save_png(workdir / "u_matrix.png", images.grid(tiles, cols, pad=0))
    alpha = np.where(hits > 0, 0.35 + 0.65 * hits / max(hits.max(), 1), 0)
    alpha = alpha[:, None]  # (K, 1)
    colours = alpha * PALETTE[labels % len(PALETTE)] + (1 - alpha)
    tiles = np.broadcast_to(colours[:, None, None, :], (len(u), CELL, CELL, 3))
    images.save_grid(workdir / "hit_map.png", tiles, columns=cols)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the map and measures it on the test split.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "quantization_error", "topographic_error", "bmu_accuracy" (test),
    "initial_quantization_error", "initial_topographic_error" (test,
    before training), "units_hit" (units that win a training image),
    "num_test", "history"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    train_x = train.x.reshape(len(train.x), -1)
    loops.seed_everything(config.seed)
    model = som_task.som_model(info.image_shape, config.rows, config.cols)
    som = som_task.som_of(model)
    if config.init == "samples":  # restored from a checkpoint on a rerun
        pick = np.random.default_rng(config.seed).choice(
            len(train_x), som.units, replace=len(train_x) < som.units
        )
        som.prototypes.assign(train_x[pick])
    test_x = test.x.reshape(len(test.x), -1)
    initial = [float(np.mean(e)) for e in som.errors(test_x)]
    data = data_lib.Pipeline(train, config.batch_size, seed=config.seed)
    steps = som_task.total_steps(len(train_x), config.batch_size, config.epochs)
    history = loops.fit(
        model,
        som_task.som_optimizer(model, config.eta_start, config.eta_end, steps),
        som_task.som_task(config.sigma_start, config.sigma_end, steps),
        data,
        validation_data=data_lib.Pipeline(test, 256, shuffle=False),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir,
    )
    prototypes = np.asarray(som.prototypes)
    quantization, topographic = (np.asarray(e) for e in som.errors(test_x))
    labels, hits = unit_labels(
        np.asarray(som(train_x)["bmu"]), train.y, prototypes, train_x,
        info.num_classes,
    )  # fmt: skip
    predicted = labels[np.asarray(som(test_x)["bmu"])]
    save_pictures(workdir, prototypes, labels, hits, config, info.image_shape)
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "quantization_error": float(quantization.mean()),
        "topographic_error": float(topographic.mean()),
        "initial_quantization_error": initial[0],
        "initial_topographic_error": initial[1],
        "bmu_accuracy": float((predicted == test.y).mean()),
        "units_hit": int((hits > 0).sum()),
        "num_test": len(test_x),
        "history": history,
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """Two lines: the map's quality and its accuracy as a classifier."""
    c = result["config"]
    return (
        f"{c['rows']}x{c['cols']} map: test quantization error "
        f"{result['quantization_error']:.4f} (initial "
        f"{result['initial_quantization_error']:.4f}), topographic error "
        f"{result['topographic_error']:.4f} (initial "
        f"{result['initial_topographic_error']:.4f}) over "
        f"{result['num_test']} test images\nBMU-majority-label accuracy "
        f"{result['bmu_accuracy']:.4f}; "
        f"{result['units_hit']} of {c['rows'] * c['cols']} units win a "
        "training image"
    )


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
