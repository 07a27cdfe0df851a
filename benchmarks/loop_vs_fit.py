r"""The loop beside `model.fit`, each trainer in a fresh process.

    python -m benchmarks.loop_vs_fit [--model=mlp|cnn] [--epochs=3]

Same model, data (8,000 MNIST images from ../shared/data/mnist, or random
images of that shape when absent), batch size 128 and Adam for every
trainer. Each trainer gets one warm-up epoch (tracing), then `--epochs`
timed epochs; the table gives samples/s and the ratio to `model.fit` with
Keras' defaults. Absolute numbers depend on the machine; read the ratios.

Each trainer runs in its own subprocess (`--only=INDEX`), one after the
other: in one shared process a trainer's figure depended on its place in
the run (the last one was up to 2x slower), which biased the comparison.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import loops  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments import registry  # noqa: E402
from experiments.train import Config  # noqa: E402

flags.DEFINE_enum("model", "mlp", ["mlp", "cnn"], "Workload.")
flags.DEFINE_integer("epochs", 3, "Timed epochs per trainer.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer(
    "only", -1, "Run only trainer INDEX here and print its rate (internal)."
)
FLAGS = flags.FLAGS

MNIST = (
    pathlib.Path(__file__).resolve().parents[1].parent
    / "shared"
    / ("data/mnist")
)


def _data():
    if (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        train, _, info = data_lib.load_splits(f"idx:{MNIST}")
        return train.x, train.y, info
    rng = np.random.default_rng(0)
    x = rng.random((8000, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 8000)
    info = data_lib.DatasetInfo("random", (28, 28, 1), 10, 8000, 0)
    return x, y, info


def _dataset(x, y, batch_size):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, for loops.fit and model.fit alike."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)


def _rate(timer, n):
    timed = timer.seconds[1:]  # the first epoch traces and warms up
    return n * len(timed) / sum(timed)


def _build(info):
    spec, config = registry.get(FLAGS.model), Config(model=FLAGS.model)
    return (
        spec.build(info, config),
        spec.loss(info, config),
        spec.metrics(info, config),
    )


def run_loop(x, y, info, spe, jit):
    keras.utils.set_random_seed(0)
    model, loss, metrics = _build(info)
    task = loops.supervised(loss, metrics=metrics)
    optimizer = keras.optimizers.Adam()
    ds = _dataset(x, y, FLAGS.batch_size)
    options = loops.LoopOptions(
        epochs=FLAGS.epochs + 1,
        steps_per_execution=spe,
        jit_compile=jit,
        verbose=0,
    )
    timer = EpochTimer()
    loops.fit(model, optimizer, task, ds, options=options, callbacks=[timer])
    return _rate(timer, len(y))


def run_fit(x, y, info, spe, jit):
    keras.utils.set_random_seed(0)
    model, loss, metrics = _build(info)
    kwargs = (
        {} if spe is None else dict(steps_per_execution=spe, jit_compile=jit)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(), loss=loss, metrics=metrics, **kwargs
    )
    ds = _dataset(x, y, FLAGS.batch_size)
    timer = EpochTimer()
    model.fit(ds, epochs=FLAGS.epochs + 1, verbose=0, callbacks=[timer])
    return _rate(timer, len(y))


ROWS = [
    ("model.fit, Keras defaults", "fit", None, None),
    ("loops.fit, defaults", "loop", 1, False),
    ("loops.fit, steps_per_execution=32", "loop", 32, False),
    ("model.fit, jit_compile + steps_per_execution=32", "fit", 32, True),
    ("loops.fit, jit_compile + steps_per_execution=32", "loop", 32, True),
]


def _in_subprocess(index):
    args = [
        sys.executable,
        "-m",
        "benchmarks.loop_vs_fit",
        f"--only={index}",
        f"--model={FLAGS.model}",
        f"--epochs={FLAGS.epochs}",
        f"--batch_size={FLAGS.batch_size}",
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if FLAGS.only >= 0:
        x, y, info = _data()
        _, kind, spe, jit = ROWS[FLAGS.only]
        print((run_fit if kind == "fit" else run_loop)(x, y, info, spe, jit))
        return
    rates = [_in_subprocess(i) for i in range(len(ROWS))]
    print(
        f"{FLAGS.model}, batch {FLAGS.batch_size}, Adam, {FLAGS.epochs} "
        "timed epochs, one process per trainer"
    )
    for (name, *_), rate in zip(ROWS, rates):
        print(f"  {name:<50} {rate:10.0f} samples/s  {rate / rates[0]:5.2f}x")


if __name__ == "__main__":
    app.run(main)
