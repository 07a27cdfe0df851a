r"""Anomaly detection with an autoencoder (cheat sheet 7.4.1).

    python -m experiments.anomaly --dataset=idx:../shared/data/mnist \
        --held_out=0 --epochs=10

The autoencoder trains on the training images of every class but the
held-out one(s); each test image is scored by its reconstruction error
(`keras_cheats.models.autoencoder.reconstruction_error`), and the ROC AUC
says how well that score ranks the held-out class above the classes seen
in training (1 = perfectly, 0.5 = chance). `--held_out=all` repeats the
run once per class. The run directory gets metrics.json and, per held-out
class, a PNG of the 32 test images with the highest scores.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import pathlib  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from experiments import cli  # noqa: E402


def roc_auc(labels, scores):
    """Area under the ROC curve, as the Mann-Whitney rank statistic.

    AUC = P(score of a random positive > score of a random negative)
        + 1/2 P(tie)
        = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg),

    with R_pos the sum of the positives' ranks among all scores (tied
    scores share their average rank).

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
    positive = labels.astype(bool)
    n_pos = int(positive.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"{n_pos} positives and {n_neg} negatives; the ROC AUC needs "
            "at least one of each"
        )
    _, inverse, counts = np.unique(
        scores, return_inverse=True, return_counts=True
    )
    last = np.cumsum(counts)  # 1-based rank of each distinct value's last
    average_rank = last - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float(
        (ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    )


@dataclasses.dataclass(frozen=True)
class AnomalyConfig:
    """One anomaly-detection run."""

    dataset: str = "digits"
    held_out: int = 0
    model: str = "ae"  # "ae" (the cheat sheet's MLP) or "conv_ae"
    latent_dim: int = 128
    noise: float = 0.0
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    verbose: int = 0

    def __post_init__(self):
        if self.model not in ("ae", "conv_ae"):
            raise ValueError(
                f"model={self.model!r}; expected 'ae' or 'conv_ae'"
            )
        if not isinstance(self.held_out, int) or self.held_out < 0:
            raise ValueError(
                f"held_out={self.held_out!r}; expected a class index >= 0"
            )


def run(config: AnomalyConfig, model_dir) -> dict:
    """Trains without the held-out class and scores the test split.

    Returns (and writes to model_dir/metrics.json) a dict with "auroc",
    the mean error of the held-out and of the other test images, the mean
    error per test class, and the training history.
    """
    import keras

    import loops
    from experiments import data as data_lib
    from experiments import images
    from keras_cheats.models import autoencoder
    from loops.checkpointing import write_json_atomic

    model_dir = pathlib.Path(model_dir)
    held_out = config.held_out

    def without_held_out(split_name, split):
        if split_name != "train":
            return split
        keep = split.y != held_out
        return data_lib.Split(split.x[keep], split.y[keep])

    data = data_lib.load(
        config.dataset,
        batch_size=config.batch_size,
        seed=config.seed,
        transform=without_held_out,
    )
    if held_out >= data.info.num_classes:
        raise ValueError(
            f"held_out={held_out}; {config.dataset} has classes 0 to "
            f"{data.info.num_classes - 1}"
        )
    loops.seed_everything(config.seed)
    model = autoencoder.build_autoencoder(
        data.info.image_shape,
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
        data.train.map(lambda x, y: (x, x)),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=model_dir,
    )
    test = data.test.split
    scores = autoencoder.reconstruction_error(model, test.x)
    is_anomaly = test.y == held_out
    worst = np.argsort(-scores)[:32]
    images.save_grid(
        model_dir / f"most_anomalous_held_out_{held_out}.png",
        test.x[worst],
        columns=8,
    )
    result = {
        "config": dataclasses.asdict(config),
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
    write_json_atomic(model_dir / "metrics.json", result)
    return result


FLAGS = flags.FLAGS


def define_flags():
    """Defines the command line. Called only when this module runs as a
    program: other experiments define flags of the same names (absl
    refuses a name defined twice), and tests import several modules."""
    defaults = AnomalyConfig()
    flags.DEFINE_string(
        "dataset", defaults.dataset, "digits or idx:DIR (see train)."
    )
    flags.DEFINE_string(
        "held_out",
        str(defaults.held_out),
        "Class left out of training, or 'all'.",
    )
    flags.DEFINE_enum(
        "model", defaults.model, ["ae", "conv_ae"], "Autoencoder."
    )
    flags.DEFINE_integer("latent_dim", defaults.latent_dim, "Size of the code.")
    flags.DEFINE_float(
        "noise", defaults.noise, "Input noise in training (denoising)."
    )
    flags.DEFINE_integer("epochs", defaults.epochs, "Passes over the data.")
    flags.DEFINE_integer("batch_size", defaults.batch_size, "Batch size.")
    flags.DEFINE_float(
        "learning_rate", defaults.learning_rate, "Adam step size."
    )
    flags.DEFINE_integer("seed", defaults.seed, "Seed.")
    flags.DEFINE_string(
        "model_dir", "", "Run directory (default: a new folder under runs/)."
    )
    flags.DEFINE_boolean("restart", False, cli.RESTART_HELP)


def held_out_classes(flag):
    """The classes `--held_out` names: one index, or 0 to 9 for "all".
    A ValueError names the flag, as the configs' own errors do."""
    if flag == "all":
        return range(10)
    try:
        return [int(flag)]
    except ValueError:
        raise ValueError(
            f"held_out={flag!r}; expected a class index or 'all'"
        ) from None


def main(argv):
    del argv
    from experiments.rundir import open_run, record_of

    fields = ("dataset", "model", "latent_dim", "noise", "epochs")
    fields += ("batch_size", "learning_rate", "seed")
    base = {name: FLAGS[name].value for name in fields}
    try:
        classes = held_out_classes(FLAGS.held_out)
        record = record_of(
            "anomaly", AnomalyConfig(**base), held_out=[int(c) for c in classes]
        )
        folder = open_run(
            FLAGS.model_dir, "anomaly", record, dataset=FLAGS.dataset,
            restart=FLAGS.restart,
        )  # fmt: skip
        summary = {}
        for c in classes:
            result = run(
                AnomalyConfig(held_out=c, **base),
                folder / f"held_out_{c}",
            )
            summary[c] = result["auroc"]
            print(
                f"held-out class {c}: ROC AUC {result['auroc']:.4f} (mean "
                f"reconstruction error {result['mean_error_held_out']:.5f} "
                f"held out vs {result['mean_error_normal']:.5f} seen; "
                f"{result['num_held_out']} held-out and "
                f"{result['num_normal']} other test images)"
            )
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    if len(summary) > 1:
        print(
            f"mean ROC AUC over {len(summary)} held-out classes: "
            f"{np.mean(list(summary.values())):.4f}"
        )


if __name__ == "__main__":
    define_flags()
    cli.run(main)
