r"""Vanishing gradients in a deep MLP, by activation (cheat sheet 3).

    python -m experiments.vanishing_gradients \
        --dataset=idx:../shared/data/mnist --depth=20 --epochs=5

Backpropagation (section 2.1) multiplies, from the output layer down to
layer l, one factor W_k^T diag(phi'(a_k)) per layer above it:

    dL/dh_l = W_{l+1}^T diag(phi'(a_{l+1})) ... W_L^T diag(phi'(a_L)) dL/dh_L.

A sigmoid's phi' is at most 1/4 (`keras_cheats.activations`), so with
Glorot weights the gradient shrinks by orders of magnitude toward the input
layers; ReLU's phi' is 1 on active units, and He initialisation keeps the
variance of the signal constant; batch norm before the sigmoid keeps
pre-activations where phi' is largest.

Each network (`--networks`, names in `NETWORKS`) is a Flatten, `depth`
Dense(width) + activation layers and a Dense(classes) output of logits,
trained with SGD + momentum through `loops.fit` from the same seed on the
same data. The norm of the gradient of the mean cross-entropy over a fixed
batch of training images (one `tf.GradientTape`) with respect to each Dense
kernel is taken at initialisation and after training. MODEL_DIR gets
metrics.json (per network: the norms, first_over_last = the input
layer's norm over the output layer's at init and trained, training
loss and test accuracy per epoch), gradient_norms.png (one line per
network, `experiments.activation_charts`) and activations.png (every
activation and its derivative), and one run folder per network.
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
    activation_charts,
    cli,
    config_flags,
    images,
    rundir,
)
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "vanishing_gradients"
FLAGS = flags.FLAGS

# name -> (activation, kernel initializer, batch norm before the activation)
NETWORKS = {
    "sigmoid": ("sigmoid", "glorot_uniform", False),
    "tanh": ("tanh", "glorot_uniform", False),
    "relu": ("relu", "glorot_uniform", False),
    "relu_he": ("relu", "he_normal", False),
    "sigmoid_bn": ("sigmoid", "glorot_uniform", True),
    "selu": ("selu", "lecun_normal", False),
    "gelu": ("gelu", "glorot_uniform", False),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the vanishing-gradients experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    networks: tuple[str, ...] = (
        "sigmoid", "tanh", "relu", "relu_he", "sigmoid_bn",
    )  # fmt: skip
    """Networks to compare: sigmoid, tanh, relu (Glorot init), relu_he,
    sigmoid_bn (batch norm before each sigmoid), selu (LeCun init), gelu."""
    depth: int = 20
    """Hidden Dense layers."""
    width: int = 64
    """Units per hidden layer."""
    epochs: int = 3
    """Passes over the training data, per network."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 0.01
    """SGD step size."""
    momentum: float = 0.9
    """SGD momentum."""
    probe_size: int = 256
    """Training images in the fixed batch whose gradient norms are taken."""
    seed: int = 0
    """Seeds initialisation and batch order (the same for every network)."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        if not self.networks:
            raise ValueError(
                f"networks={self.networks!r}; expected one or more of "
                f"{', '.join(NETWORKS)}"
            )
        for name in self.networks:
            if name not in NETWORKS:
                raise ValueError(
                    f"networks={name!r}; expected one of {', '.join(NETWORKS)}"
                )
        if len(set(self.networks)) != len(self.networks):
            raise ValueError(
                f"networks={self.networks!r}; expected each name once"
            )
        checks.integer("depth", self.depth, 1)
        checks.integer("width", self.width, 1)
        checks.integer("epochs", self.epochs, 1)
        checks.integer("batch_size", self.batch_size, 1)
        checks.integer("probe_size", self.probe_size, 1)
        checks.integer("seed", self.seed, 0)
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose={self.verbose!r}; expected 0, 1 or 2")
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        if not 0 <= self.momentum < 1:
            raise ValueError(
                f"momentum={self.momentum!r}; expected a number in [0, 1)"
            )


def build_mlp(network, image_shape, num_classes, depth, width):
    """Flatten, `depth` x [Dense(width) (+ BatchNorm) + activation], then
    Dense(num_classes) logits; `network` names a row of `NETWORKS`."""
    activation, init, batch_norm = NETWORKS[network]
    inputs = keras.Input(image_shape)
    h = keras.layers.Flatten()(inputs)
    for i in range(depth):
        h = keras.layers.Dense(
            width, kernel_initializer=init, use_bias=not batch_norm,
            name=f"dense_{i + 1}",
        )(h)  # fmt: skip
        if batch_norm:
            h = keras.layers.BatchNormalization(
                momentum=0.9, name=f"bn_{i + 1}"
            )(h)  # moving averages that settle within a few epochs
        h = keras.layers.Activation(activation, name=f"{activation}_{i + 1}")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name=network)


def layer_gradient_norms(model, x, y):
    """||dL/dW_l||_F for every Dense kernel W_l, input layer first, L the
    mean cross-entropy of the logits over the batch (x, y), in training
    mode (batch norm uses the batch's statistics; its moving averages are
    left as they were).

    Returns:
        (number of Dense layers,) float64 norms.
    """
    kernels = [
        layer.kernel
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    ]
    frozen = [v.numpy() for v in model.non_trainable_variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, kernels)
    for v, value in zip(model.non_trainable_variables, frozen, strict=True):
        v.assign(value)
    return np.array([float(tf.norm(g)) for g in grads], np.float64)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains every network of `config.networks` in workdir/NETWORK.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "networks": {name: the run of `_network_run`}}, and saves
    gradient_norms.png and activations.png there.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    probe = slice(0, min(config.probe_size, len(train)))
    probe_x, probe_y = train.x[probe], train.y[probe]
    runs = {
        name: _network_run(config, name, train, test, info, probe_x, probe_y,
                           workdir / name)
        for name in config.networks
    }  # fmt: skip
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "networks": runs,
    }
    chart = activation_charts.gradient_norm_chart(
        {
            name: {"init": r["grad_norms_init"],
                   "trained": r["grad_norms_trained"]}
            for name, r in runs.items()
        }
    )  # fmt: skip
    images.save_png(workdir / "gradient_norms.png", chart)
    images.save_png(
        workdir / "activations.png", activation_charts.activation_panels()
    )
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _network_run(config, name, train, test, info, probe_x, probe_y, run_dir):
    """Gradient norms at initialisation, training, gradient norms again."""
    loops.seed_everything(config.seed)
    model = build_mlp(
        name, info.image_shape, info.num_classes, config.depth, config.width
    )
    init = layer_gradient_norms(model, probe_x, probe_y)
    history = loops.fit(
        model,
        keras.optimizers.SGD(config.learning_rate, momentum=config.momentum),
        loops.supervised(
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
        ),
        data_lib.Pipeline(train, config.batch_size, seed=config.seed),
        validation_data=data_lib.Pipeline(
            test, config.batch_size, shuffle=False
        ),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=run_dir,
    )
    trained = layer_gradient_norms(model, probe_x, probe_y)
    return {
        "grad_norms_init": init.tolist(),
        "grad_norms_trained": trained.tolist(),
        "first_over_last_init": float(init[0] / init[-1]),
        "first_over_last_trained": float(trained[0] / trained[-1]),
        "train_loss": history["loss"],
        "test_loss": history["val_loss"],
        "test_accuracy": history["val_accuracy"],
        "epoch_seconds": history["epoch_seconds"],
    }


def summary(result) -> str:
    """One line per network: the first / last layer gradient-norm ratio
    at init and after training, and the final loss and test accuracy."""
    lines = []
    for name, r in result["networks"].items():
        lines.append(
            f"{name:>10}: grad norm first/last layer "
            f"{r['first_over_last_init']:.2e} at init, "
            f"{r['first_over_last_trained']:.2e} after "
            f"{len(r['train_loss'])} epochs; train loss "
            f"{r['train_loss'][-1]:.4f}, test accuracy "
            f"{r['test_accuracy'][-1]:.4f}"
        )
    lines.append(f"charts: {result['model_dir']}/gradient_norms.png")
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
