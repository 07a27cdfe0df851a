r"""Attribution maps of a CNN and their faithfulness (cheat sheet 9).

    python -m experiments.explain --dataset=idx:../shared/data/mnist \
        --epochs=2 --num_images=100 --num_slow=100

Trains the project's CNN (`keras_cheats.models.cnn`), then explains its
predicted class on the first test images with saliency, integrated
gradients, SmoothGrad (`keras_cheats.attribution`), SHAP (expected
gradients, shap.GradientExplainer) and LIME (lime_image on a grid of
square superpixels) (`keras_cheats.shap_lime`). Faithfulness: the
deletion curve (`keras_cheats.faithfulness`): the top-attributed pixels
are set to 0 in `deletion_steps` steps and the probability of the
predicted class followed; its area (lower = more faithful) is averaged
over `num_images` test images for the gradient methods and over the first
`num_slow` of them for SHAP and LIME, each beside a random removal order
on the same images. The run directory gets metrics.json,
attributions.png (`show` digits, one column per method) and
deletion_curves.png (`experiments.explain_charts`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")  # lime's progress bar

import dataclasses  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import experiments.explain_charts as charts  # noqa: E402
import loops  # noqa: E402
from experiments import cli, config_flags, images, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import attribution, checks, faithfulness  # noqa: E402
from keras_cheats import shap_lime as packages  # noqa: E402
from keras_cheats.models import cnn  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "explain"
FAST = ("saliency", "integrated_gradients", "smoothgrad")
SLOW = ("shap", "lime")
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the attribution experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    epochs: int = 2
    """Passes over the training data."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size."""
    num_images: int = 100
    """Test images scored by the gradient methods (and random removal)."""
    num_slow: int = 20
    """The first of them also scored by SHAP and LIME (slower)."""
    show: int = 6
    """Digits drawn in attributions.png."""
    ig_steps: int = 32
    """Trapezoid intervals of integrated gradients."""
    smooth_samples: int = 16
    """Noisy copies averaged by SmoothGrad."""
    smooth_sigma: float = 0.15
    """Noise standard deviation of SmoothGrad (pixels are in [0, 1])."""
    shap_background: int = 64
    """Training images SHAP's expectation runs over."""
    shap_samples: int = 100
    """Expected-gradient draws per image."""
    lime_samples: int = 300
    """Masked copies LIME fits its linear model on, per image."""
    lime_patch: int = 4
    """Side of LIME's square superpixels, in pixels."""
    deletion_steps: int = 20
    """The pixels are removed in this many equal parts."""
    seed: int = 0
    """Seeds initialization, batch order, noise and the random order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in (
            "epochs",
            "batch_size",
            "num_images",
            "ig_steps",
            "smooth_samples",
            "shap_background",
            "shap_samples",
            "lime_samples",
            "lime_patch",
            "deletion_steps",
        ):
            checks.integer(name, getattr(self, name), 1)  # fmt: skip
        for name in ("num_slow", "show", "seed", "verbose"):
            checks.integer(name, getattr(self, name), 0)
        if self.num_slow > self.num_images or self.show > self.num_images:
            raise ValueError(
                f"num_slow={self.num_slow}, show={self.show}; expected both "
                f"<= num_images={self.num_images}"
            )
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        if not self.smooth_sigma >= 0:
            raise ValueError(
                f"smooth_sigma={self.smooth_sigma!r}; expected a number >= 0"
            )


def attributions(config, model, x, target, background):
    """{method: (n, H, W[, C]) maps} and {method: seconds}; SHAP and LIME
    on the first `num_slow` images only (absent when num_slow is 0)."""
    slow_x, slow_t = x[: config.num_slow], target[: config.num_slow]
    jobs = {
        "saliency": lambda: attribution.saliency(model, x, target),
        "integrated_gradients": lambda: attribution.integrated_gradients(
            model, x, target, steps=config.ig_steps
        ),
        "smoothgrad": lambda: attribution.smoothgrad(
            model,
            x,
            target,
            config.smooth_sigma,
            config.smooth_samples,
            seed=config.seed,
        ),  # fmt: skip
        "shap": lambda: packages.shap_gradient(
            model,
            slow_x,
            slow_t,
            background,
            config.shap_samples,
            seed=config.seed,
        ),  # fmt: skip
        "lime": lambda: packages.lime_map(
            _predict(model),
            slow_x,
            slow_t,
            config.lime_patch,
            config.lime_samples,
            seed=config.seed,
        ),  # fmt: skip
    }
    if config.num_slow == 0:
        jobs = {k: v for k, v in jobs.items() if k in FAST}
    maps, seconds = {}, {}
    for method, job in jobs.items():
        start = time.perf_counter()
        maps[method] = np.asarray(job())
        seconds[method] = time.perf_counter() - start
    return maps, seconds


def _predict(model):
    return lambda batch: model.predict_on_batch(batch)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the CNN, explains, scores the deletion curves, draws.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "test_accuracy", "deletion": {method: {"images", "auc", "random_auc",
    "auc_first_num_slow"}}, "seconds": {method: s}, "history"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    loops.seed_everything(config.seed)
    model = cnn.build_cnn(info.image_shape, info.num_classes)
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(keras.losses.SparseCategoricalCrossentropy()),
        data_lib.Pipeline(
            train, config.batch_size, shuffle=True, seed=config.seed
        ),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir / "training",
    )
    probs = model.predict(test.x, batch_size=256, verbose=0)
    accuracy = float((probs.argmax(1) == test.y).mean())
    n = min(config.num_images, len(test))
    x, target = test.x[:n], probs[:n].argmax(1)
    rng = np.random.default_rng(config.seed)
    background = train.x[
        rng.choice(len(train), config.shap_background, replace=False)
    ]
    maps, seconds = attributions(config, model, x, target, background)
    maps["random"] = rng.random(x.shape[:3])
    curves, deletion = {}, {}
    for method, m in maps.items():
        k = len(m)
        fractions, p = faithfulness.deletion_curve(
            _predict(model), x[:k], m, target[:k], config.deletion_steps
        )
        curves[method] = p
        deletion[method] = {
            "images": k,
            "auc": float(faithfulness.area_under_curve(fractions, p).mean()),
        }
    random_auc = faithfulness.area_under_curve(fractions, curves["random"])
    slow = min(config.num_slow, n)
    for method, row in deletion.items():
        row["random_auc"] = float(random_auc[: row["images"]].mean())
        auc = faithfulness.area_under_curve(fractions, curves[method][:slow])
        row["auc_first_num_slow"] = float(auc.mean()) if slow else None
    shown = {k: v for k, v in maps.items() if k != "random"}
    images.save_png(
        workdir / "attributions.png",
        charts.attribution_grid(x[: config.show], shown),
    )
    images.save_png(
        workdir / "deletion_curves.png",
        charts.deletion_chart(
            fractions,
            {k: v.mean(0) for k, v in curves.items()},
            {k: v["auc"] for k, v in deletion.items()},
        ),
    )
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "test_accuracy": accuracy,
        "deletion": deletion,
        "seconds": seconds,
        "history": history,
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """Test accuracy, then one line per method: deletion AUC vs random."""
    lines = [f"test accuracy {result['test_accuracy']:.4f}"]
    for method, row in result["deletion"].items():
        secs = result["seconds"].get(method)
        lines.append(
            f"{method}: deletion AUC {row['auc']:.4f} over {row['images']} "
            f"images (random order {row['random_auc']:.4f})"
            + (f", {secs:.1f} s" if secs is not None else "")
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
