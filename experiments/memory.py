r"""Memory-augmented networks on the copy task (cheat sheet 7.7.2).

    python -m experiments.memory --epochs=10
    python -m experiments.memory --models=ntm --max_length=10 \
        --eval_lengths=10,20,30,40,60

A neural Turing machine (`keras_cheats.models.ntm.build_ntm`) and an LSTM
with about as many parameters (`build_lstm`, --lstm_units=0 matches them)
learn to copy sequences of 1 to --max_length random 8-bit vectors
(`experiments.algorithmic.copy_task`), through `loops.fit` with a
per-bit sigmoid cross-entropy masked to the output steps and gradients
clipped to --clip_norm. Each is then scored at --eval_lengths, most of
them longer than any training sequence: the share of output bits right
and of sequences copied without a single wrong bit. The run directory
gets metrics.json, accuracy_vs_length.png (NTM blue, LSTM red, dashed:
the longest training length) and ntm_weightings.png (write and read
weightings on one sequence of --trace_length).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import (  # noqa: E402
    algorithmic,
    cli,
    config_flags,
    images,
    memory_charts,
    rundir,
)
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import ntm  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "memory"
MODELS = ("ntm", "lstm")
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the memory experiment."""

    dataset: str = "copy"
    """The algorithmic task, generated in code: copy (Graves et al. 2014)."""
    models: tuple[str, ...] = MODELS
    """Models to train, of ntm and lstm (comma-separated)."""
    bits: int = 8
    """Size of each vector to copy."""
    min_length: int = 1
    """Shortest training sequence."""
    max_length: int = 10
    """Longest training sequence."""
    eval_lengths: tuple[int, ...] = (10, 20, 30, 40, 60)
    """Lengths scored after training (comma-separated)."""
    eval_sequences: int = 200
    """Sequences scored per length."""
    train_sequences: int = 32000
    """Training sequences generated (one epoch is one pass over them)."""
    epochs: int = 10
    """Passes over the training sequences."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size."""
    clip_norm: float = 10.0
    """Gradients are clipped to this global norm."""
    units: int = 100
    """NTM controller LSTM size."""
    memory_rows: int = 128
    """NTM memory locations N (a copy of length L needs L of them)."""
    memory_width: int = 20
    """NTM memory location size M."""
    lstm_units: int = 0
    """LSTM baseline size; 0 picks the size with as many parameters as
    the NTM."""
    max_minutes: float = 0.0
    """Stops a model's training at the end of the first epoch that ends
    past this many minutes of this process (0: no limit)."""
    trace_length: int = 20
    """Length of the sequence whose NTM weightings are drawn."""
    seed: int = 0
    """Seeds initialization, the training sequences and batch order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        checks.choice("dataset", self.dataset, ("copy",))
        if not self.models or any(m not in MODELS for m in self.models):
            raise ValueError(
                f"models={','.join(self.models)!r}; expected one or more "
                f"of {', '.join(MODELS)}"
            )
        for name in (
            "bits", "min_length", "eval_sequences", "train_sequences",
            "epochs", "batch_size", "units", "memory_rows", "memory_width",
            "trace_length",
        ):  # fmt: skip
            checks.integer(name, getattr(self, name), 1)
        checks.integer("max_length", self.max_length, self.min_length)
        checks.integer("lstm_units", self.lstm_units, 0)
        checks.integer("seed", self.seed, 0)
        if not self.eval_lengths:
            raise ValueError("eval_lengths=''; expected lengths >= 1")
        for length in self.eval_lengths:
            checks.integer("eval_lengths", length, 1)
        checks.interval("learning_rate", self.learning_rate, 0, low_open=True)
        checks.interval("clip_norm", self.clip_norm, 0, low_open=True)
        checks.interval("max_minutes", self.max_minutes, 0)


def build(name, config, params=None):
    """The model `name` for this config; `params` sizes a matched LSTM."""
    d, o = config.bits + 1, config.bits
    if name == "ntm":
        return ntm.build_ntm(
            d,
            o,
            units=config.units,
            memory_rows=config.memory_rows,
            memory_width=config.memory_width,
        )
    units = config.lstm_units or ntm.lstm_units_for(params, d, o)
    return ntm.build_lstm(d, o, units=units)


def evaluate_lengths(model, config):
    """{length: `algorithmic.bit_scores`} on fresh sequences per length."""
    spec = tf.TensorSpec((None, None, config.bits + 1), tf.float32)
    predict = tf.function(
        lambda x: model(x, training=False), input_signature=[spec]
    )  # one trace for every length
    scores = {}
    for length in config.eval_lengths:
        x, y, _ = algorithmic.copy_task(
            config.eval_sequences, length, length, config.bits,
            seed=config.seed + 1000 + length,
        )  # fmt: skip
        scores[str(length)] = algorithmic.bit_scores(y, predict(x))
    return scores


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains each model in workdir/<model> and scores it per length.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "models": {name: {"params", "history", "epochs_trained",
    "seconds_per_epoch", "lengths": {length: scores}}}}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    x, y, _ = algorithmic.copy_task(
        config.train_sequences, config.min_length, config.max_length,
        config.bits, seed=config.seed,
    )  # fmt: skip
    data = loops.InMemory(
        (x, y), config.batch_size, order=loops.shuffled(config.seed)
    )
    task = loops.supervised(
        algorithmic.masked_bit_loss, clip_norm=config.clip_norm
    )
    loops.seed_everything(config.seed)
    ntm_params = build("ntm", config).count_params()
    runs, trained = {}, {}
    for name in config.models:
        loops.seed_everything(config.seed)
        model = build(name, config, ntm_params)
        timer = EpochTimer(config.max_minutes)
        history = loops.fit(
            model,
            keras.optimizers.Adam(config.learning_rate),
            task,
            data,
            options=loops.LoopOptions(
                epochs=config.epochs, seed=config.seed, verbose=config.verbose
            ),
            callbacks=[timer],
            model_dir=workdir / name,
        )
        trained[name] = model
        runs[name] = {
            "params": int(model.count_params()),
            "history": history,
            "epochs_trained": len(history["loss"]),
            "seconds_per_epoch": timer.seconds,
            "lengths": evaluate_lengths(model, config),
        }
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "models": runs,
    }
    write_json_atomic(workdir / "metrics.json", result)
    draw(result, trained, config, workdir)
    return result


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch (of this process); stops training
    after the first epoch that ends past `max_minutes` (0: never)."""

    def __init__(self, max_minutes=0.0):
        super().__init__()
        self.seconds = []
        self.max_minutes = max_minutes

    def on_epoch_begin(self, epoch, logs=None):
        self._start = tf.timestamp().numpy()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(float(tf.timestamp().numpy() - self._start))
        if self.max_minutes and sum(self.seconds) > 60 * self.max_minutes:
            self.model.stop_training = True


def draw(result, trained, config, workdir):
    """accuracy_vs_length.png, and ntm_weightings.png with an NTM."""
    lengths = [int(n) for n in config.eval_lengths]
    accuracies = {
        name: [run["lengths"][str(n)]["bit_accuracy"] for n in lengths]
        for name, run in result["models"].items()
    }
    order = np.argsort(lengths)
    images.save_png(
        workdir / "accuracy_vs_length.png",
        memory_charts.accuracy_chart(
            np.asarray(lengths)[order],
            {k: np.asarray(v)[order] for k, v in accuracies.items()},
            config.max_length,
        ),
    )
    if "ntm" in trained:
        x, _, _ = algorithmic.copy_task(
            1, config.trace_length, config.trace_length, config.bits,
            seed=config.seed + 999,
        )  # fmt: skip
        traced = ntm.trace(trained["ntm"], x[0])
        images.save_png(
            workdir / "ntm_weightings.png",
            memory_charts.weightings_picture(
                traced["write"], traced["read"][:, 0]
            ),
        )


def summary(result) -> str:
    """A table: per length, each model's bit accuracy and exact matches."""
    names = list(result["models"])
    max_length = result["config"]["max_length"]
    header = "length " + " ".join(
        f"{n + ' bits':>10} {n + ' exact':>10}" for n in names
    )
    lines = [header]
    for length in result["config"]["eval_lengths"]:
        cells = " ".join(
            f"{s['bit_accuracy']:>10.4f} {s['exact_match']:>10.3f}"
            for s in (
                result["models"][n]["lengths"][str(length)] for n in names
            )
        )
        seen = " (trained)" if length <= max_length else ""
        lines.append(f"{length:>6} {cells}{seen}")
    lines.append(
        "parameters: "
        + ", ".join(f"{n} {result['models'][n]['params']}" for n in names)
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
