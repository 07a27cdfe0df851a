r"""Neural architecture search with KerasTuner (cheat sheet 7.7.1).

    python -m experiments.nas --dataset=idx:../shared/data/mnist \
        --space=mlp --tuner=both --max_trials=10 --epochs=3

The search space is the options of the project's MLP or CNN builders plus
the optimizer and its learning rate (`experiments.nas_space`). Random
search tries --max_trials configurations for --epochs each; Hyperband
(Li et al. 2018) runs brackets of successive halving up to --epochs per
configuration. Both score a trial by its best validation accuracy on a
split carved from the training images (--validation_fraction); the test
images are never seen by the search. The best configuration of each tuner
is then retrained on the whole training split for --epochs and tested,
beside `experiments.train`'s default --model of the space trained alike
(and scored on the validation split as a trial would be).

The run folder gets the tuners' own folders (tuner/random,
tuner/hyperband: rerunning with the same --model_dir continues a search,
and a larger --max_trials extends a random search), metrics.json (each
trial, the best configurations, val and test accuracies, the default's,
the budget) and trials.png (`experiments.nas_chart`). Needs the `nas`
extra (keras-tuner).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import importlib  # noqa: E402
import time  # noqa: E402
from typing import Literal  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags, logging  # noqa: E402

from experiments import (  # noqa: E402
    cli,
    config_flags,
    images,
    nas_chart,
    rundir,
)
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "nas"
SPACES = ("mlp", "cnn")
TUNERS = ("random", "hyperband", "both")
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the search."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    space: Literal[SPACES] = "mlp"
    """The architectures searched: mlp (7.1) or cnn (7.3.1) options."""
    tuner: Literal[TUNERS] = "both"
    """random (random search), hyperband, or both."""
    max_trials: int = 10
    """Configurations random search tries (a larger value continues a
    search)."""
    epochs: int = 3
    """Epochs of a random-search trial, the most of a Hyperband trial,
    and of the retrained best and default models."""
    hyperband_factor: int = 3
    """Hyperband keeps 1/factor of the trials each round."""
    hyperband_iterations: int = 1
    """Passes of Hyperband over all its brackets."""
    validation_fraction: float = 0.2
    """Share of the training images held out to score the trials."""
    batch_size: int = 64
    """Batch size."""
    seed: int = 0
    """Seeds the tuners, the validation split and the initial weights."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch (each model.fit)."""

    def __post_init__(self):
        checks.choice("space", self.space, SPACES)
        checks.choice("tuner", self.tuner, TUNERS)
        for name in ("max_trials", "epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("hyperband_factor", self.hyperband_factor, 2)
        checks.integer("hyperband_iterations", self.hyperband_iterations, 1)
        checks.integer("seed", self.seed, 0)
        checks.integer("verbose", self.verbose, 0)
        checks.interval(
            "validation_fraction", self.validation_fraction, 0, 0.5, True
        )

    def tuners(self):
        both = self.tuner == "both"
        return ("random", "hyperband") if both else (self.tuner,)


def carve_validation(split, fraction, seed):
    """(fit, val): `split` cut at random (fixed by `seed`) into the images
    the trials train on and the `fraction` that scores them."""
    order = np.random.default_rng(seed).permutation(len(split))
    n_val = int(round(fraction * len(split)))
    if not 0 < n_val < len(split):
        raise ValueError(
            f"validation_fraction={fraction}; expected a share that leaves "
            f"images on both sides of {len(split)} training images"
        )
    fit, val = np.sort(order[n_val:]), np.sort(order[:n_val])
    return (
        data_lib.Split(split.x[fit], split.y[fit]),
        data_lib.Split(split.x[val], split.y[val]),
    )


def score_default(hypermodel, config, fit, val):
    """The default model of the space scored as a trial is: trained on
    `fit` for --epochs, its best validation accuracy on `val`."""
    from experiments.nas_space import default_hyperparameters

    model = hypermodel.build(default_hyperparameters(config.space))
    history = hypermodel.fit(
        None, model, fit.x, fit.y, validation_data=(val.x, val.y),
        epochs=config.epochs, verbose=config.verbose,
    )  # fmt: skip
    return max(history.history["val_accuracy"])


def retrain(hypermodel, hp, train, test, config):
    """The configuration `hp` trained on all of `train` for --epochs and
    tested on `test`: {"test_accuracy", "test_loss", "seconds"}."""
    start = time.perf_counter()
    model = hypermodel.build(hp)
    model.fit(
        train.x, train.y, batch_size=config.batch_size, shuffle=True,
        epochs=config.epochs, verbose=config.verbose,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    test_metrics = model.evaluate(
        test.x, test.y, batch_size=256, verbose=0, return_dict=True
    )
    return {
        "test_accuracy": float(test_metrics["accuracy"]),
        "test_loss": float(test_metrics["loss"]),
        "seconds": seconds,
    }


def default_model(config, workdir):
    """`experiments.train`'s default --model=<space> trained for --epochs
    in workdir/default: {"test_accuracy", "test_loss", "seconds"}."""
    from experiments import train

    start = time.perf_counter()
    result = train.train_and_evaluate(
        train.Config(
            model=config.space, dataset=config.dataset, epochs=config.epochs,
            batch_size=config.batch_size, seed=config.seed, verbose=0,
        ),
        workdir / "default",
    )  # fmt: skip
    return {
        "test_accuracy": float(result["test"]["accuracy"]),
        "test_loss": float(result["test"]["loss"]),
        "seconds": time.perf_counter() - start,
    }


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Searches with each tuner, retrains each best configuration, trains
    the default model; writes metrics.json and trials.png to the run
    folder and returns what metrics.json holds."""
    import loops

    space_lib, tuners = _needs_keras_tuner()  # before claiming the folder
    path = rundir.usable_run_dir(workdir, KIND, config.dataset)
    record = rundir.record_of(KIND, config)
    record.pop("max_trials")  # a larger one continues the search
    moved = rundir.claim(
        path, {**record, "epochs": config.epochs}, restart=restart
    )
    if moved is not None:
        logging.warning("--restart: the previous run is now in %s", moved)
    train, test, info = data_lib.load_splits(config.dataset)
    fit, val = carve_validation(train, config.validation_fraction, config.seed)
    hypermodel = space_lib.SearchSpace(
        config.space, info.image_shape, info.num_classes,
        batch_size=config.batch_size, seed=config.seed,
    )  # fmt: skip
    searches = {}
    for name in config.tuners():
        start = time.perf_counter()
        tuner = tuners.make_tuner(name, hypermodel, config, path / "tuner")
        found, best_hp = tuners.search(tuner, config, fit, val)
        found["budget"]["seconds_this_run"] = time.perf_counter() - start
        loops.seed_everything(config.seed)
        found["best"] = retrain(hypermodel, best_hp, train, test, config)
        searches[name] = found
    loops.seed_everything(config.seed)
    default = default_model(config, path)
    loops.seed_everything(config.seed)
    default["val_accuracy"] = score_default(hypermodel, config, fit, val)
    result = {
        "model_dir": str(path),
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(info),
        "split": {"fit": len(fit), "validation": len(val), "test": len(test)},
        "searches": searches,
        "default": default,
        # The searches, each retrained best and the default's two runs.
        "total_training_epochs": sum(
            s["budget"]["epochs"] + config.epochs for s in searches.values()
        )
        + 2 * config.epochs,
    }
    chart = nas_chart.trials_chart(searches, default["val_accuracy"])
    images.save_png(path / "trials.png", chart)
    write_json_atomic(path / "metrics.json", result)
    return result


def _needs_keras_tuner():
    """(`experiments.nas_space`, `experiments.nas_tuners`), or a one-line
    error naming the extra to install when keras-tuner is missing."""
    try:
        space = importlib.import_module("experiments.nas_space")
        tuners = importlib.import_module("experiments.nas_tuners")
    except ModuleNotFoundError as e:
        if e.name != "keras_tuner":
            raise
        raise ValueError(
            "experiments.nas needs keras-tuner, which is not installed; "
            "expected the nas extra: pip install 'keras-cheats[nas]'"
        ) from None
    return space, tuners


def summary(result) -> str:
    """Per tuner: its budget, best val and test accuracy, then the
    default model's test accuracy."""
    config, split = result["config"], result["split"]
    lines = [
        f"search on {split['fit']} training images, scored on "
        f"{split['validation']} held out; tested on {split['test']}"
    ]
    for name, s in result["searches"].items():
        b = s["budget"]
        lines.append(
            f"{name}: {b['trials']} trials, {b['epochs']} epochs, "
            f"{b['seconds']:.0f} s; best trial {s['best_trial_id']} val "
            f"accuracy {s['best_val_accuracy']:.4f}, retrained test "
            f"accuracy {s['best']['test_accuracy']:.4f}"
        )
        lines.append(f"  {name} best: {_short(s['best_hyperparameters'])}")
    lines.append(
        f"default {config['space']} ({config['epochs']} epochs): val "
        f"accuracy {result['default']['val_accuracy']:.4f}, test "
        f"accuracy {result['default']['test_accuracy']:.4f}; "
        f"{result['total_training_epochs']} training epochs in all"
    )
    return "\n".join(lines)


def _short(values):
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in values.items()
    )


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
