r"""Zero-shot learning of digits from attributes (cheat sheet 8.1).

    python -m experiments.zero_shot --dataset=idx:../shared/data/mnist
    python -m experiments.zero_shot --unseen=2,5,8 --epochs=5

A CNN (section 7.3.1) with one sigmoid output per attribute of
`experiments.digit_attributes.TABLE` learns, by binary cross-entropy per
attribute, to predict the attributes of the training images of the SEEN
classes only (all but --unseen, default 7, 8, 9). A test image x is then
given the class c whose attribute vector a_c is most likely under the
predicted independent Bernoulli probabilities p(x):

    c* = argmax_c sum_a [a_ca log p_a(x) + (1 - a_ca) log(1 - p_a(x))]

- conventional ZSL: c among the unseen classes, scored on the unseen
  classes' test images (chance 1 / number of unseen classes);
- generalized ZSL: c among all ten classes, scored on the unseen and on
  the seen classes' test images, with their harmonic mean (chance 1/10);
  unseen images given a seen class show the bias towards the classes seen
  in training.

metrics.json also holds each attribute's accuracy on the unseen classes'
test images (p_a > 1/2 against the table), where a zero-shot error starts.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, digit_attributes, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models.cnn import CNNConfig, build_cnn  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "zero_shot"
FLAGS = flags.FLAGS
TABLE = digit_attributes.TABLE


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the zero-shot experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name (ten digit classes)."""
    unseen: tuple[int, ...] = (7, 8, 9)
    """Classes kept out of training, named only by their attributes."""
    epochs: int = 5
    """Passes over the seen classes' training images."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size."""
    seed: int = 0
    """Seeds initialization and batch order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        n = digit_attributes.NUM_CLASSES
        object.__setattr__(
            self, "unseen", checks.integers("unseen", self.unseen, 0)
        )
        if max(self.unseen) >= n or len(set(self.unseen)) != len(self.unseen):
            raise ValueError(
                f"unseen={self.unseen}; expected distinct classes from 0 "
                f"to {n - 1}"
            )
        if not 2 <= len(self.unseen) <= n - 2:
            raise ValueError(
                f"unseen={self.unseen}; expected 2 to {n - 2} classes (two "
                "to choose between, two seen to learn from)"
            )
        for name in ("epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )


def class_log_likelihood(probs, table, eps=1e-6):
    """log P(a_c | x) under independent Bernoulli attributes, each class.

        score[n, c] = sum_a a_ca log p_na + (1 - a_ca) log(1 - p_na)

    Args:
        probs: (N, A) predicted attribute probabilities.
        table: (C, A) binary attribute vectors.
        eps: p is clipped to [eps, 1 - eps].

    Returns:
        (N, C) float64 scores.
    """
    p = np.clip(np.asarray(probs, np.float64), eps, 1 - eps)
    a = np.asarray(table, np.float64)
    return np.log(p) @ a.T + np.log1p(-p) @ (1 - a).T


def predict_classes(probs, table, candidates):
    """The candidate class with the highest `class_log_likelihood`: (N,)
    labels from `candidates` (ties: the first candidate listed)."""
    candidates = np.asarray(candidates)
    scores = class_log_likelihood(probs, table[candidates])
    return candidates[scores.argmax(axis=1)]


def evaluate_zero_shot(
    probs, labels, unseen, table=TABLE, names=digit_attributes.NAMES
):
    """Conventional and generalized zero-shot accuracy, the share of unseen
    images given a seen class, and per-attribute accuracy on the unseen
    classes' images (see the module docstring)."""
    labels = np.asarray(labels)
    num = len(table)
    seen = [c for c in range(num) if c not in unseen]
    is_unseen = np.isin(labels, unseen)
    zsl = predict_classes(probs[is_unseen], table, unseen)
    gzsl = predict_classes(probs, table, range(num))
    u = float((gzsl[is_unseen] == labels[is_unseen]).mean())
    s = float((gzsl[~is_unseen] == labels[~is_unseen]).mean())
    truth = table[labels[is_unseen]]
    per_attribute = ((probs[is_unseen] > 0.5) == (truth > 0.5)).mean(axis=0)
    return {
        "zsl_accuracy": float((zsl == labels[is_unseen]).mean()),
        "zsl_chance": 1.0 / len(unseen),
        "gzsl_unseen_accuracy": u,
        "gzsl_seen_accuracy": s,
        "gzsl_harmonic_mean": 2 * u * s / (u + s) if u + s > 0 else 0.0,
        "gzsl_chance": 1.0 / num,
        "unseen_given_a_seen_class": float(
            np.isin(gzsl[is_unseen], seen).mean()
        ),
        "num_unseen_test": int(is_unseen.sum()),
        "num_seen_test": int((~is_unseen).sum()),
        "per_attribute_accuracy_unseen": {
            name: float(v) for name, v in zip(names, per_attribute, strict=True)
        },
        "zsl_per_class_accuracy": {
            int(c): float((zsl[labels[is_unseen] == c] == c).mean())
            for c in unseen
        },
        # Where each unseen class goes in GZSL: {class: {predicted: count}}.
        "gzsl_unseen_predicted_as": {
            int(c): {
                int(k): int(n)
                for k, n in zip(
                    *np.unique(gzsl[labels == c], return_counts=True),
                    strict=True,
                )
            }
            for c in unseen
        },
    }


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the attribute model on the seen classes and scores zero-shot
    classification on the test split.

    Returns (and writes to workdir/metrics.json) {"config", "dataset",
    "attributes", "history", "test": `evaluate_zero_shot`'s dict,
    "model_dir"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    if info.num_classes != len(TABLE):
        raise ValueError(
            f"dataset={config.dataset!r} has {info.num_classes} classes; "
            f"the attribute table describes the {len(TABLE)} digits"
        )
    seen = ~np.isin(train.y, config.unseen)
    loops.seed_everything(config.seed)
    model = build_cnn(
        info.image_shape, TABLE.shape[1], CNNConfig(output_activation="sigmoid")
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(keras.losses.BinaryCrossentropy()),
        data_lib.Pipeline(
            data_lib.Split(train.x[seen], TABLE[train.y[seen]]),
            config.batch_size,
            seed=config.seed,
        ),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir,
    )
    probs = model.predict(test.x, batch_size=512, verbose=0)
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(info),
        "attributes": {
            c: digit_attributes.describe(c) for c in range(len(TABLE))
        },
        "history": history,
        "test": evaluate_zero_shot(probs, test.y, config.unseen),
        "model_dir": str(workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """The lines the command prints: ZSL and GZSL accuracy with chance."""
    t, unseen = result["test"], result["config"]["unseen"]
    worst = min(
        t["per_attribute_accuracy_unseen"].items(), key=lambda kv: kv[1]
    )
    return "\n".join([
        f"zero-shot, unseen classes {unseen} ({t['num_unseen_test']} test "
        f"images): accuracy {t['zsl_accuracy']:.2%} (chance "
        f"{t['zsl_chance']:.2%})",
        f"generalized zero-shot (all 10 classes; chance "
        f"{t['gzsl_chance']:.2%}): unseen {t['gzsl_unseen_accuracy']:.2%}, "
        f"seen {t['gzsl_seen_accuracy']:.2%}, harmonic mean "
        f"{t['gzsl_harmonic_mean']:.2%}; "
        f"{t['unseen_given_a_seen_class']:.2%} of unseen images given a "
        "seen class",
        f"least accurate attribute on unseen images: {worst[0]} "
        f"{worst[1]:.2%}; run directory {result['model_dir']}",
    ])  # fmt: skip


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
