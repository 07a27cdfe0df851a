r"""Neural ODE classifiers against a ResNet block (cheat sheet 7.7.3).

    python -m experiments.neural_ode --dataset=idx:../shared/data/mnist \
        --solvers=resnet,rk4,dopri5 --epochs=3

One classifier per solver (`keras_cheats.models.odenet`): the same conv
downsampling, head and dynamics f; only the block differs. "resnet" is
one Euler step h + f(h, 0) (a residual block with the same f, so the
parameter counts are equal); "rk4" takes --steps steps of 4 function
evaluations (NFE); "dopri5" adapts its steps to --rtol/--atol. Gradients
flow by backpropagation through the solver (not the adjoint method).

For each: test accuracy, parameters, NFE per forward pass on the test
set (mean, min, max over batches), the NFE seen over training, and the
seconds per epoch. The run directory gets metrics.json, one folder per
solver, and per ODE solver trajectory_<solver>.png: rows are 8 test
images, columns the image and the channel-mean of h(t) at t = 0, 1/4,
1/2, 3/4, 1 (each row scaled to [0, 1] on its own).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import (  # noqa: E402
    classification,
    cli,
    config_flags,
    images,
    rundir,
)
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import odenet  # noqa: E402
from loops.checkpointing import read_json, write_json_atomic  # noqa: E402

KIND = "neural_ode"
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the neural ODE experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    solvers: tuple[str, ...] = ("resnet", "rk4", "dopri5")
    """Blocks to compare: resnet (one Euler step), euler, rk4 (--steps
    fixed steps) and dopri5 (adaptive)."""
    filters: int = 32
    """Channels of every convolution, the ODE state's included."""
    steps: int = 4
    """Steps of the fixed-step solvers (euler, rk4)."""
    rtol: float = 1e-3
    """Relative tolerance of dopri5."""
    atol: float = 1e-3
    """Absolute tolerance of dopri5."""
    max_steps: int = 64
    """Most step attempts of dopri5 per forward pass."""
    epochs: int = 3
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
        if not self.solvers or len(set(self.solvers)) != len(self.solvers):
            raise ValueError(
                f"solvers={self.solvers!r}; expected distinct names among "
                f"{', '.join(odenet.SOLVERS)}"
            )
        for solver in self.solvers:
            if solver not in odenet.SOLVERS:
                raise ValueError(
                    f"solvers={self.solvers!r}: {solver!r}; expected names "
                    f"among {', '.join(odenet.SOLVERS)}"
                )
        for name in ("filters", "steps", "max_steps", "epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        for name in ("rtol", "atol", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"{name}={getattr(self, name)!r}; expected a number > 0"
                )
        checks.integer("verbose", self.verbose, 0)

    def model_config(self, solver) -> odenet.ODENetConfig:
        return odenet.ODENetConfig(
            solver=solver, filters=self.filters, steps=self.steps,
            rtol=self.rtol, atol=self.atol, max_steps=self.max_steps,
            groups=math.gcd(8, self.filters),
        )  # fmt: skip


class NFELog(keras.callbacks.Callback):
    """The block's mean NFE over each epoch's compiled training calls (read
    after each call: its last step), kept in `path` so that a resumed run
    keeps the epochs before it."""

    def __init__(self, block, path):
        super().__init__()
        self.block, self.path, self._seen = block, path, []
        self.per_epoch = read_json(path, [])

    def on_train_batch_end(self, batch, logs=None):
        self._seen.append(float(self.block.nfe.numpy()))

    def on_epoch_end(self, epoch, logs=None):
        mean = float(np.mean(self._seen)) if self._seen else float("nan")
        self.per_epoch = [*self.per_epoch[:epoch], mean]
        self._seen = []
        write_json_atomic(self.path, self.per_epoch)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains one classifier per solver (in workdir/<solver>).

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "runs": {solver: the result of `_solver_run`}}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    runs = {
        solver: _solver_run(config, solver, train, test, info, workdir)
        for solver in config.solvers
    }
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "runs": runs,
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _solver_run(config, solver, train, test, info, workdir):
    """Trains the classifier with `solver` and tests it: accuracy, NFE
    per forward pass, parameters and seconds per epoch (the mean over the
    epochs after the first, whose time includes tracing the step)."""
    run_dir = workdir / solver
    loops.seed_everything(config.seed)
    model = odenet.build_odenet(
        info.image_shape, info.num_classes, config.model_config(solver)
    )
    block = model.get_layer("ode_block")
    nfe_log = NFELog(block, run_dir / "train_nfe.json")
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        classification.task(),
        data_lib.Pipeline(train, config.batch_size, seed=config.seed),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        callbacks=[nfe_log],
        model_dir=run_dir,
    )
    tested = _test(model, block, test, config.batch_size)
    later = history["epoch_seconds"][1:]  # the first one also traces
    result = {
        "solver": solver,
        "parameters": trainable_parameters(model),
        "block_parameters": trainable_parameters(block),
        **tested,
        "train_nfe_per_epoch": nfe_log.per_epoch,
        "first_epoch_seconds": history["epoch_seconds"][0],
        "seconds_per_epoch": float(np.mean(later or history["epoch_seconds"])),
        "history": history,
    }
    if solver != "resnet":
        path = run_dir.parent / f"trajectory_{solver}.png"
        images.save_png(path, trajectory_image(model, block, test.x[:8]))
        result["trajectory_png"] = str(path)
    write_json_atomic(run_dir / "metrics.json", result)
    return result


def trainable_parameters(layer) -> int:
    """Trainable parameters (the block's NFE counter is not one)."""
    return int(sum(np.prod(v.shape) for v in layer.trainable_weights))


def _test(model, block, test, batch_size):
    """Accuracy and NFE per forward pass over the test split."""
    spec = tf.TensorSpec((None, *test.x.shape[1:]), tf.float32)

    @tf.function(input_signature=[spec])
    def forward(x):
        logits = model(x, training=False)
        return tf.argmax(logits, axis=-1), block.nfe.value

    start, hits, nfes = time.perf_counter(), 0, []
    for i in range(0, len(test.x), batch_size):
        predicted, nfe = forward(tf.constant(test.x[i : i + batch_size]))
        hits += int(np.sum(predicted.numpy() == test.y[i : i + batch_size]))
        nfes.append(float(nfe))
    return {
        "test_accuracy": hits / len(test.x),
        "test_nfe_mean": float(np.mean(nfes)),
        "test_nfe_min": float(np.min(nfes)),
        "test_nfe_max": float(np.max(nfes)),
        "test_seconds": time.perf_counter() - start,
    }


def trajectory_image(model, block, x, points=5):
    """(rows, columns) grid image: per input image, the image then the
    channel-mean of h(t) at `points` times, upsampled to the image size."""
    h0 = keras.Model(model.inputs[0], block.input)(x)  # the block's input
    states = [s.numpy().mean(axis=-1) for s in block.trajectory(h0, points)]
    states = np.stack(states, axis=1)  # (N, points, h, w)
    low = states.min(axis=(1, 2, 3), keepdims=True)
    high = states.max(axis=(1, 2, 3), keepdims=True)
    states = (states - low) / np.maximum(high - low, 1e-8)
    factor = x.shape[1] // states.shape[2]
    states = np.kron(states, np.ones((factor, factor)))[..., None]
    tiles = np.concatenate([x[:, None, ..., :1], states], axis=1)
    return images.grid(tiles.reshape(-1, *tiles.shape[2:]), points + 1)


def summary(result) -> str:
    """One line per solver."""
    return "\n".join(
        f"{s}: test accuracy {r['test_accuracy']:.4f}, {r['parameters']:,} "
        f"parameters ({r['block_parameters']:,} in the block), NFE per "
        f"forward pass {r['test_nfe_mean']:.1f} (min "
        f"{r['test_nfe_min']:.0f}, max {r['test_nfe_max']:.0f}), "
        f"{r['seconds_per_epoch']:.1f} s per epoch after the first "
        f"({r['first_epoch_seconds']:.1f} s, with tracing)"
        for s, r in result["runs"].items()
    )


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
