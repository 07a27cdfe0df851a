"""The tuners of `experiments.nas` (cheat sheet 7.7.1) and their search.

    tuner = nas_tuners.make_tuner("hyperband", hypermodel, config, folder)
    found, best_hp = nas_tuners.search(tuner, config, fit, val)

`make_tuner` makes KerasTuner's RandomSearch or Hyperband in
folder/<name>, reloading one already there (overwrite=False), so a rerun
continues a search; each trial's wall time goes to trial_seconds.json
beside KerasTuner's own files. `search` runs it and reads back one
record per trial (its validation accuracy, the epochs it trained, the
hyperparameters it drew) and the budget spent. Needs the `nas` extra
(keras-tuner); `experiments.nas` imports this module only when it runs a
search.
"""

import pathlib
import time
import warnings

import keras_tuner

from experiments.nas_space import chosen
from loops.checkpointing import read_json, write_json_atomic

SECONDS = "trial_seconds.json"  # {trial id: wall seconds}, per tuner


def make_tuner(name, hypermodel, config, directory):
    """The KerasTuner tuner `name` in directory/name; an existing one is
    reloaded (overwrite=False) and continues. Each trial's wall time is
    kept in directory/name/trial_seconds.json."""
    common = dict(
        objective="val_accuracy",
        seed=config.seed,
        directory=str(directory),
        project_name=name,
        overwrite=False,
    )
    if name == "random":
        timed = _timed(keras_tuner.RandomSearch)
        return timed(hypermodel, max_trials=config.max_trials, **common)
    timed = _timed(keras_tuner.Hyperband)
    return timed(
        hypermodel,
        max_epochs=config.epochs,
        factor=config.hyperband_factor,
        hyperband_iterations=config.hyperband_iterations,
        **common,
    )


def _timed(tuner_class):
    class Timed(tuner_class):
        def run_trial(self, trial, *args, **kwargs):
            start = time.perf_counter()
            results = super().run_trial(trial, *args, **kwargs)
            path = pathlib.Path(self.project_dir) / SECONDS
            seconds = read_json(path, {})
            seconds[trial.trial_id] = time.perf_counter() - start
            write_json_atomic(path, seconds)
            return results

    return Timed


def search(tuner, config, fit, val):
    """Runs (or continues) the search of `tuner`, training on `fit` and
    scoring on `val`; returns ({"trials": one record each, "best_trial_id",
    "best_hyperparameters", "best_val_accuracy", "budget": completed
    trials, epochs and seconds}, the best trial's HyperParameters)."""
    with warnings.catch_warnings():  # a continued Hyperband trial loads
        # the weights of the trial it continues, not its optimizer state
        warnings.filterwarnings("ignore", "Skipping variable loading")
        tuner.search(
            fit.x, fit.y, validation_data=(val.x, val.y),
            epochs=config.epochs, verbose=config.verbose,
        )  # fmt: skip
    seconds = read_json(pathlib.Path(tuner.project_dir) / SECONDS, {})
    trials = []
    for trial in sorted(tuner.oracle.trials.values(), key=_trial_order):
        values = trial.hyperparameters.values
        trials.append({
            "trial_id": trial.trial_id,
            "status": trial.status,
            "val_accuracy": trial.score,
            "epochs": values.get("tuner/epochs", config.epochs)
            - values.get("tuner/initial_epoch", 0),
            "model_epochs": values.get("tuner/epochs", config.epochs),
            "continues_trial": values.get("tuner/trial_id"),
            "seconds": seconds.get(trial.trial_id),
            "hyperparameters": chosen(values),
        })  # fmt: skip
    done = [t for t in trials if t["status"] == "COMPLETED"]
    best = tuner.oracle.get_best_trials(1)[0]
    return {
        "trials": trials,
        "best_trial_id": best.trial_id,
        "best_hyperparameters": chosen(best.hyperparameters.values),
        "best_val_accuracy": best.score,
        "budget": {
            "trials": len(done),
            "epochs": sum(t["epochs"] for t in done),
            "seconds": sum(t["seconds"] or 0.0 for t in done),
        },
    }, best.hyperparameters


def _trial_order(trial):
    return int(trial.trial_id) if trial.trial_id.isdigit() else trial.trial_id
