r"""Interaction bias: retraining on what users submit (cheat sheet 11.3).

    python -m experiments.interaction_bias \
        --dataset=idx:../shared/data/mnist --favoured=0,1,2,3,4 --skew=0.95

The cheat sheet's example: a MNIST-like classifier re-trained with data
given by its users, who draw some things far more than others. An MLP
is trained on a class-balanced developer split (half of the training
images, the same count per class), then fine-tuned round after round on a
stream of user images drawn from the other half: a share --skew of each
round's images comes from the --favoured classes, the rest from the
others (`stream_shares`, `sample_stream`). After each round the per-class
test accuracy is measured: the classes the users rarely submit drift
down. Each counter-measure starts from the same developer model:

- none: fine-tune on the stream as it comes;
- replay: the stream plus as many images again drawn class-balanced from
  the developer split;
- reweight: each stream image weighted by 1 / (K * share of its class in
  the stream), so every class weighs the same in the loss.

MODEL_DIR gets metrics.json (per-class accuracy per round and
counter-measure) and interaction_bias.png
(`experiments.limits_charts.per_class_chart`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import typing  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, images, limits_charts, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.random_labels import accuracy  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import mlp  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "interaction_bias"
Counter = Literal["none", "replay", "reweight"]
COUNTERS = typing.get_args(Counter)
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the interaction-bias experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    favoured: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Classes the users submit most."""
    skew: float = 0.95
    """Share of each round's stream from the favoured classes."""
    rounds: int = 5
    """Rounds of retraining on the user stream."""
    stream_size: int = 1000
    """User images per round."""
    counter: tuple[str, ...] = COUNTERS
    """Counter-measures to compare: none, replay, reweight."""
    hidden_units: tuple[int, ...] = (128,)
    """Hidden layers of the MLP."""
    epochs: int = 5
    """Passes over the developer split."""
    round_epochs: int = 3
    """Passes over each round's images."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size (a fresh Adam each round)."""
    seed: int = 0
    """Seeds the splits, the stream, initialization and order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        checks.integers("favoured", self.favoured, 0)
        checks.interval("skew", self.skew, 0.0, 1.0)
        if not self.counter:
            raise ValueError("counter=(); expected some of none, replay, ...")
        for c in self.counter:
            if c not in COUNTERS:
                raise ValueError(
                    f"counter={c!r}; expected one of {', '.join(COUNTERS)}"
                )
        checks.positive_ints("hidden_units", self.hidden_units)
        for name in ("rounds", "stream_size", "epochs", "round_epochs",
                     "batch_size"):  # fmt: skip
            checks.integer(name, getattr(self, name), 1)
        checks.above("learning_rate", self.learning_rate)
        checks.integer("seed", self.seed, 0)
        checks.choice("verbose", self.verbose, (0, 1, 2))


def stream_shares(num_classes, favoured, skew):
    """Each class's share of the stream: skew / F for each of the F
    favoured classes, (1 - skew) / (K - F) for each of the others.

    Example: 4 classes, favoured (0,), skew 0.7 -> [0.7, 0.1, 0.1, 0.1].
    """
    favoured = sorted(set(favoured))
    if not favoured or favoured[-1] >= num_classes:
        raise ValueError(
            f"favoured={tuple(favoured)}; expected classes in 0 to "
            f"{num_classes - 1}"
        )
    others = num_classes - len(favoured)
    is_fav = np.isin(np.arange(num_classes), favoured)
    if others == 0:
        return np.full(num_classes, 1.0 / num_classes)
    return np.where(is_fav, skew / len(favoured), (1 - skew) / others)


def class_counts(shares, size):
    """Integer counts summing to `size`, as close to shares * size as
    can be (largest remainders)."""
    exact = np.asarray(shares, float) * size
    counts = np.floor(exact).astype(int)
    rest = size - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return counts


def sample_stream(labels, shares, size, rng):
    """Indices of `size` images of `labels` with class k drawn
    `class_counts(shares, size)[k]` times: without replacement while the
    pool has enough of class k, with replacement beyond."""
    labels = np.asarray(labels)
    picked = []
    for k, n in enumerate(class_counts(shares, size)):
        pool = np.flatnonzero(labels == k)
        if n == 0:
            continue
        if len(pool) == 0:
            raise ValueError(f"class {k} has no image to draw from")
        picked.append(rng.choice(pool, n, replace=n > len(pool)))
    return rng.permutation(np.concatenate(picked))


def balanced_split(labels, num_classes, rng):
    """(developer, user pool) index arrays: half of each class's images
    go to the pool, the developer split keeps the same number of each
    class (the smallest class's other half)."""
    labels = np.asarray(labels)
    dev, pool = [], []
    for k in range(num_classes):
        idx = rng.permutation(np.flatnonzero(labels == k))
        half = len(idx) // 2
        dev.append(idx[:half])
        pool.append(idx[half:])
    per_class = min(len(d) for d in dev)
    developer = np.concatenate([d[:per_class] for d in dev])
    return rng.permutation(developer), np.concatenate(pool)


def balancing_weights(labels, num_classes):
    """w_i = 1 / (K' * share of class y_i in `labels`), K' the classes
    present: every present class weighs the same in total (N / K') and
    the weights average 1. Returns (N,) float32."""
    labels = np.asarray(labels)
    seen = np.bincount(labels, minlength=num_classes) / len(labels)
    present = int((seen > 0).sum())
    return (1.0 / (present * seen[labels])).astype(np.float32)


def per_class_accuracy(model, x, y, num_classes):
    """[accuracy on the test images of class k for each k]."""
    return [
        accuracy(model, x[y == k], y[y == k]) if (y == k).any() else 0.0
        for k in range(num_classes)
    ]


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the developer model, then each counter-measure's rounds.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "shares", "developer_split", "counter": {name: {"per_class": [[acc
    of each class] per round, round 0 first], "favoured_mean",
    "others_mean", "overall": [per round]}}}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    k = info.num_classes
    shares = stream_shares(k, config.favoured, config.skew)
    rng = np.random.default_rng(config.seed)
    dev, pool = balanced_split(train.y, k, rng)
    streams = [
        sample_stream(train.y[pool], shares, config.stream_size, rng)
        for _ in range(config.rounds)
    ]  # the same user images for every counter-measure
    replays = [
        sample_stream(train.y[dev], np.full(k, 1 / k), config.stream_size, rng)
        for _ in range(config.rounds)
    ]
    model = _build(config, info)
    _fit(config, model, train.x[dev], train.y[dev], None, config.epochs,
         workdir / "developer")  # fmt: skip
    start = model.get_weights()
    results = {}
    for name in config.counter:
        model.set_weights(start)
        rows = [per_class_accuracy(model, test.x, test.y, k)]
        for r, picked in enumerate(streams):
            x, y = train.x[pool][picked], train.y[pool][picked]
            weight = None
            if name == "replay":
                x = np.concatenate([x, train.x[dev][replays[r]]])
                y = np.concatenate([y, train.y[dev][replays[r]]])
            elif name == "reweight":
                weight = balancing_weights(y, k)
            _fit(config, model, x, y, weight, config.round_epochs,
                 workdir / name / f"round_{r + 1}")  # fmt: skip
            rows.append(per_class_accuracy(model, test.x, test.y, k))
        results[name] = _groups(rows, config.favoured, test.y)
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "shares": shares.tolist(),
        "developer_split": int(len(dev)),
        "counter": results,
    }
    images.save_png(
        workdir / "interaction_bias.png",
        limits_charts.per_class_chart(results, config.favoured),
    )
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _groups(rows, favoured, test_y):
    """Per round: the per-class rows, the mean over favoured and other
    classes, and the accuracy over the whole test set."""
    acc = np.asarray(rows)  # (rounds + 1, K)
    is_fav = np.isin(np.arange(acc.shape[1]), favoured)
    freq = np.bincount(test_y, minlength=acc.shape[1]) / len(test_y)
    return {
        "per_class": acc.tolist(),
        "favoured_mean": acc[:, is_fav].mean(1).tolist(),
        "others_mean": acc[:, ~is_fav].mean(1).tolist(),
        "overall": (acc @ freq).tolist(),
    }


def _build(config, info):
    loops.seed_everything(config.seed)
    return mlp.build_mlp(
        info.image_shape,
        info.num_classes,
        mlp.MLPConfig(hidden_units=config.hidden_units, output_activation=None),
    )


def _fit(config, model, x, y, weight, epochs, run_dir):
    """One loops.fit with a fresh Adam; (x, y[, weight]) batches."""
    tensors = (x, y) if weight is None else (x, y, weight)
    loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(
            keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
        loops.InMemory(
            tensors, config.batch_size, order=loops.shuffled(config.seed)
        ),
        options=loops.LoopOptions(
            epochs=epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=run_dir,
    )


def summary(result) -> str:
    """Per counter-measure: the group means before and after the rounds."""
    lines = []
    for name, r in result["counter"].items():
        fav, oth = r["favoured_mean"], r["others_mean"]
        lines.append(
            f"{name}: favoured classes {fav[0]:.4f} -> {fav[-1]:.4f}, "
            f"other classes {oth[0]:.4f} -> {oth[-1]:.4f}, overall "
            f"{r['overall'][0]:.4f} -> {r['overall'][-1]:.4f} "
            f"(after {len(fav) - 1} rounds)"
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
