r"""Anomaly detection with an autoencoder (cheat sheet 7.4.1).

    python -m experiments.anomaly --dataset=idx:../shared/data/mnist \
        --held_out=0 --epochs=10
    python -m experiments.anomaly --held_out=all --epochs=10

The autoencoder trains on the training images of every class but the
held-out one; each test image is scored by its reconstruction error
(`keras_cheats.models.autoencoder.reconstruction_error`), and the ROC AUC
says how well that score ranks the held-out class above the classes seen
in training (1 = perfectly, 0.5 = chance). `--held_out=all` repeats the
run once per class, each in MODEL_DIR/held_out_C. The run directory gets
metrics.json (every held-out class and the mean ROC AUC) and, per
held-out class, a PNG of the 32 test images with the highest scores.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import typing  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, images, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import autoencoder  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "anomaly"
Model = Literal["ae", "conv_ae"]
MODELS = typing.get_args(Model)
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the anomaly-detection experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    held_out: str = "0"
    """Class left out of training (the anomaly), or 'all': one run per
    class, each in MODEL_DIR/held_out_C."""
    model: Model = "ae"
    """Autoencoder: ae (the cheat sheet's MLP) or conv_ae."""
    latent_dim: int = 128
    """Size of the code."""
    noise: float = 0.0
    """Standard deviation of the input noise in training (denoising)."""
    epochs: int = 10
    """Passes over the data."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size."""
    seed: int = 0
    """Seeds initialization and batch order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        held_out_classes(self.held_out)  # the class range: at load time
        if self.model not in MODELS:
            raise ValueError(
                f"model={self.model!r}; expected one of {', '.join(MODELS)}"
            )
        for name in ("latent_dim", "epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        if not self.noise >= 0:
            raise ValueError(f"noise={self.noise!r}; expected a number >= 0")
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )


def held_out_classes(held_out: str, num_classes: int | None = None):
    """The classes `held_out` names: (C,) for a class index, every class
    (0 to num_classes - 1) for "all". Without `num_classes` only the
    spelling is checked (and "all" is ())."""
    if held_out == "all":
        return tuple(range(num_classes or 0))
    try:
        c = int(held_out)
    except (TypeError, ValueError):
        raise ValueError(
            f"held_out={held_out!r}; expected a class index or 'all'"
        ) from None
    if c < 0 or (num_classes is not None and c >= num_classes):
        allowed = (
            ">= 0" if num_classes is None else f"from 0 to {num_classes - 1}"
        )
        raise ValueError(
            f"held_out={c}; expected a class index {allowed} or 'all'"
        )
    return (c,)


def roc_auc(labels, scores):
    """Area under the ROC curve (`sklearn.metrics.roc_auc_score`):

        AUC = P(score of a random positive > score of a random negative)
            + 1/2 P(tie),

    after checks whose errors name the problem.

    Args:
        labels: (N,) booleans or 0/1, True for the positives (anomalies).
        scores: (N,) finite numbers, higher = more likely positive.

    Returns:
        float in [0, 1].
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(
            f"labels of shape {labels.shape} and scores of shape "
            f"{scores.shape}; expected two 1-D arrays of the same length"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be booleans or 0/1")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite; found NaN or inf")
    n_pos = int(labels.astype(bool).sum())
    if n_pos == 0 or n_pos == len(labels):
        raise ValueError(
            f"{n_pos} positives and {len(labels) - n_pos} negatives; the "
            "ROC AUC needs at least one of each"
        )
    return float(roc_auc_score(labels.astype(bool), scores))


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains one autoencoder per held-out class (in workdir/held_out_C)
    and scores the test split with each.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "held_out": {class: the run of `_held_out_run`}, "mean_auroc"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    classes = held_out_classes(config.held_out, info.num_classes)
    runs = {
        str(c): _held_out_run(config, c, train, test, info.image_shape,
                              workdir / f"held_out_{c}")
        for c in classes
    }  # fmt: skip
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "held_out": runs,
        "mean_auroc": float(np.mean([r["auroc"] for r in runs.values()])),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _held_out_run(config, held_out, train, test, image_shape, run_dir):
    """Trains without class `held_out` and scores the test split.

    Returns (and writes to run_dir/metrics.json) "auroc", the mean error
    of the held-out and of the other test images, the mean error per test
    class, and the training history.
    """
    keep = train.y != held_out
    train_data = data_lib.Pipeline(
        data_lib.Split(train.x[keep], train.y[keep]),
        config.batch_size,
        shuffle=True,
        seed=config.seed,
    )
    loops.seed_everything(config.seed)
    model = autoencoder.build_autoencoder(
        image_shape,
        autoencoder.AutoencoderConfig(
            kind="conv" if config.model == "conv_ae" else "mlp",
            latent_dim=config.latent_dim,
            noise=config.noise,
        ),
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(keras.losses.MeanSquaredError()),
        train_data.map(lambda x, y: (x, x)),  # target: the image itself
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=run_dir,
    )
    scores = autoencoder.reconstruction_error(model, test.x)  # (N,)
    is_anomaly = test.y == held_out
    worst = np.argsort(-scores)[:32]
    images.save_grid(
        run_dir / f"most_anomalous_held_out_{held_out}.png",
        test.x[worst],
        columns=8,
    )
    result = {
        "auroc": roc_auc(is_anomaly, scores),
        "num_held_out": int(is_anomaly.sum()),
        "num_normal": int((~is_anomaly).sum()),
        "mean_error_held_out": float(scores[is_anomaly].mean()),
        "mean_error_normal": float(scores[~is_anomaly].mean()),
        "held_out_in_top_32": int(is_anomaly[worst].sum()),
        "mean_error_per_class": {
            int(c): float(scores[test.y == c].mean()) for c in np.unique(test.y)
        },
        "history": history,
    }
    write_json_atomic(run_dir / "metrics.json", result)
    return result


def summary(result) -> str:
    """One line per held-out class, and the mean ROC AUC over several."""
    lines = [
        f"held-out class {c}: ROC AUC {r['auroc']:.4f} (mean "
        f"reconstruction error {r['mean_error_held_out']:.5f} held out vs "
        f"{r['mean_error_normal']:.5f} seen; {r['num_held_out']} held-out "
        f"and {r['num_normal']} other test images)"
        for c, r in result["held_out"].items()
    ]
    if len(result["held_out"]) > 1:
        lines.append(
            f"mean ROC AUC over {len(result['held_out'])} held-out classes: "
            f"{result['mean_auroc']:.4f}"
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
