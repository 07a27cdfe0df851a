"""Every `--model` of `experiments.train` at its defaults: BUILD.md's table.

    python -m benchmarks.defaults --dataset=idx:../shared/data/mnist

Runs `python -m experiments.train --model=NAME --dataset=DATASET
--verbose=0 --model_dir=OUT/NAME` for each model, one after another, each
in a process of its own (the command users type, with nothing else), then
prints one Markdown row per model: the default learning rate and epochs it
ran with (from its run.json), its headline test metric and the other test
metrics, and the wall time of the command. OUT/defaults.json holds the
rows. `--flags=--epochs=3` passes flags to every run.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
    """The command's flags (defined only when it runs, so that importing
    this module beside benchmarks.speed defines nothing twice)."""
    flags.DEFINE_string("dataset", "idx:../shared/data/mnist", "Data set.")
    flags.DEFINE_list("models", [], "Models to run (default: every one).")
    flags.DEFINE_list("flags", [], "Extra flags for every run.")
    flags.DEFINE_string("out", "runs/defaults", "Folder of the runs.")


REPO = pathlib.Path(__file__).resolve().parents[1]


def run_model(name, dataset, out, extra=()):
    """Runs one model's command; its row (see `table`)."""
    from experiments import registry

    folder = pathlib.Path(out) / name
    command = [
        sys.executable, "-m", "experiments.train", f"--model={name}",
        f"--dataset={dataset}", "--verbose=0", f"--model_dir={folder}",
        "--restart", *extra,
    ]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {done.returncode}: "
            f"{done.stderr.strip().splitlines()[-1:]}"
        )
    record = json.loads((folder / "run.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    return {
        "model": name,
        "learning_rate": record["learning_rate"],
        "epochs": len(metrics["history"]["epoch_seconds"]),
        "batch_size": record["global_batch_size"],
        "optimizer": record["optimizer"],
        "test": metrics["test"],
        "headline": registry.get(name).headline,
        # A model with its own optimizer (the DCGAN) ignores --optimizer
        # and --learning_rate: its --set options say.
        "own_optimizer": registry.get(name).optimizer is not None,
        "seconds": round(seconds, 1),
    }


def table(rows):
    """Markdown: | model | optimizer, lr, batch | epochs | headline | other
    test metrics | wall |."""
    lines = [
        "| `--model` | optimizer, learning rate, batch | epochs | test "
        "headline | other test metrics | wall |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        test, headline = row["test"], row["headline"]
        others = ", ".join(
            f"{k} {v:.4f}"
            for k, v in test.items()
            if k != headline and not isinstance(v, dict)
        )
        settings = (
            "its own (`--set`)"
            if row["own_optimizer"]
            else f"{row['optimizer']}, {row['learning_rate']:g}"
        )
        lines.append(
            f"| `{row['model']}` | {settings}, {row['batch_size']} | "
            f"{row['epochs']} | {headline} **{test[headline]:.4f}** | "
            f"{others} | {row['seconds']:.0f} s |"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    from experiments import registry

    names = FLAGS.models or list(registry.models())
    rows = []
    for name in names:
        rows.append(run_model(name, FLAGS.dataset, FLAGS.out, FLAGS.flags))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    out = pathlib.Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "defaults.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    define_flags()
    app.run(main)
