r"""A deep belief network: greedy RBM pretraining, then fine-tuning
(cheat sheet 7.4.5).

    python -m experiments.dbn --dataset=idx:../shared/data/mnist \
        --hidden_units=500,500 --labels_per_class=10,100,all

1. Pretraining (Hinton, Osindero and Teh 2006): RBM 1 learns the training
   images (all of them, no labels) by CD-k (`experiments.rbm.rbm_task`,
   through `loops.fit`, SGD with one momentum throughout: the guide's
   switch from 0.5 to 0.9 after 5 epochs is not made); RBM 2 learns RBM
   1's hidden probabilities; and so on. Each RBM's mean-field
   reconstruction error on the test split (of its own input) is reported
   before and after training, with the free-energy gap mean F(test) -
   mean F(as many training vectors) (the guide's overfitting monitor: it
   grows when the RBM prefers its training data).
2. Fine-tuning: the sigmoid MLP initialised from the RBMs' (W, c) with a
   new softmax head (`keras_cheats.models.dbn.dbn_classifier`) against the
   same MLP from a random initialisation (the same head), trained with
   backpropagation (`loops.supervised` cross-entropy) with the same
   optimizer, steps, labelled images and seed, per seed of --seeds and
   per --labels_per_class: a few labelled images per class (pretraining
   still used every image), or all. Reports both test accuracies and
   their paired difference with a 95% t interval over the seeds.

The run folder gets metrics.json, rbm_filters.png (RBM 1's first 64
weight vectors W_:j as images, each scaled to [0, 1]), reconstructions.png
(rows: test images, RBM 1's reconstruction p(v | p(h | v)), the whole
stack's up-down reconstruction) and each RBM's run folder rbm_L.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import typing  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import classification, cli, config_flags, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments import rbm as rbm_lib  # noqa: E402
from experiments.images import save_grid  # noqa: E402
from experiments.paired import paired_difference  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import dbn, mlp  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "dbn"
Optimizer = Literal["sgd", "adam"]
FLAGS = flags.FLAGS
EPOCH_EXAMPLES = 1000  # a fine-tuning epoch's examples, at least


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the DBN experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    hidden_units: tuple[int, ...] = (500, 500)
    """Hidden units of each RBM, input side first."""
    rbm_epochs: int = 20
    """CD passes over the training images per RBM."""
    cd_k: int = 1
    """Gibbs steps of CD-k."""
    rbm_learning_rate: float = 0.1
    """SGD step size of the CD statistics (per example)."""
    rbm_momentum: float = 0.9
    """SGD momentum of the RBMs."""
    weight_cost: float = 2e-4
    """L2 weight-cost on each RBM's W."""
    finetune_optimizer: Optimizer = "sgd"
    """Fine-tuning optimizer of both arms: sgd (momentum 0.9) or adam."""
    finetune_learning_rate: float = 0.1
    """Fine-tuning step size of both arms."""
    finetune_steps: int = 1000
    """Fine-tuning batches per arm, at least (whole epochs)."""
    labels_per_class: tuple[str, ...] = ("10", "100", "all")
    """Labelled training images per class for fine-tuning, or all."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """One paired fine-tuning (DBN vs scratch) per seed and label count:
    the seed draws the labelled images, the initial weights, the order."""
    batch_size: int = 100
    """Batch size of pretraining and fine-tuning."""
    seed: int = 0
    """Seeds the pretraining (initial weights, order, Gibbs samples)."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        object.__setattr__(self, "hidden_units", tuple(self.hidden_units))
        checks.integers("hidden_units", self.hidden_units, minimum=1)
        for name in ("rbm_epochs", "cd_k", "finetune_steps", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("seed", self.seed, 0)
        checks.above("rbm_learning_rate", self.rbm_learning_rate)
        checks.above("finetune_learning_rate", self.finetune_learning_rate)
        checks.fraction("rbm_momentum", self.rbm_momentum)
        checks.at_least("weight_cost", self.weight_cost)
        optimizers = typing.get_args(Optimizer)
        if self.finetune_optimizer not in optimizers:
            raise ValueError(
                f"finetune_optimizer={self.finetune_optimizer!r}; expected "
                f"one of {', '.join(optimizers)}"
            )
        object.__setattr__(self, "seeds", tuple(self.seeds))
        checks.integers("seeds", self.seeds, minimum=0)
        if len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"seeds={self.seeds!r}; expected different ones")
        labels = tuple(str(n) for n in self.labels_per_class)
        object.__setattr__(self, "labels_per_class", labels)
        if not labels or not all(
            n == "all" or (n.isdigit() and int(n) >= 1) for n in labels
        ):
            raise ValueError(
                f"labels_per_class={','.join(labels)!r}; expected a list of "
                "integers >= 1 or 'all'"
            )


def labelled_subset(y, per_class, seed):
    """Indices of `per_class` random examples of each class (sorted), or
    of all examples for "all"; a class with fewer gives all it has."""
    if per_class == "all":
        return np.arange(len(y))
    rng = np.random.default_rng([seed, 5003])
    picks = [
        rng.permutation(np.flatnonzero(y == c))[: int(per_class)]
        for c in np.unique(y)
    ]
    return np.sort(np.concatenate(picks))


def pretrain(config, train_x, test_x, workdir):
    """Greedy layer-wise CD training; returns (RBM layers, per-layer
    results). Each layer is trained on the one below's p(h | v)."""
    rbms, layers = [], []
    below_train, below_test = train_x, test_x
    for layer, units in enumerate(config.hidden_units, start=1):
        loops.seed_everything(config.seed + layer)
        model = rbm_lib.rbm_model(below_train.shape[1], units)
        rbm = rbm_lib.rbm_of(model)
        rbm.set_visible_bias_from_data(below_train.mean(axis=0))
        task = rbm_lib.rbm_task(
            config.cd_k, seed=config.seed + layer,
            weight_cost=config.weight_cost,
        )  # fmt: skip
        test_data = loops.InMemory((below_test,), config.batch_size)
        before = loops.evaluate(model, task, test_data)
        history = loops.fit(
            model,
            keras.optimizers.SGD(
                config.rbm_learning_rate, momentum=config.rbm_momentum
            ),
            task,
            loops.InMemory(
                (below_train,),
                config.batch_size,
                order=loops.shuffled(config.seed + layer),
            ),
            options=loops.LoopOptions(
                epochs=config.rbm_epochs,
                seed=config.seed + layer,
                verbose=config.verbose,
            ),
            model_dir=workdir / f"rbm_{layer}",
        )
        after = loops.evaluate(model, task, test_data)
        sample = below_train[: len(below_test)]  # as many as the test split
        gap = float(
            np.mean(rbm.free_energy(below_test))
            - np.mean(rbm.free_energy(sample))
        )
        layers.append(
            {
                "visible": int(below_train.shape[1]),
                "hidden": units,
                "reconstruction_error_before": before["reconstruction_error"],
                "reconstruction_error_after": after["reconstruction_error"],
                "free_energy_gap": gap,
                "history": history,
            }
        )
        rbms.append(rbm)
        below_train, below_test = (
            dbn.up_pass([rbm], s)[0] for s in (below_train, below_test)
        )
    return rbms, layers


def finetune(config, rbms, train, test, info, per_class, seed):
    """Test accuracy of the DBN and of the scratch MLP, one seed.

    A small labelled set is repeated to at least EPOCH_EXAMPLES per epoch
    (each image as often in an epoch; fewer per-epoch costs); "passes"
    counts the passes over the labelled images.
    """
    keep = labelled_subset(train.y, per_class, seed)
    repeats = -(-EPOCH_EXAMPLES // len(keep))
    tiled = np.tile(keep, repeats)
    data = data_lib.Pipeline(
        data_lib.Split(train.x[tiled], train.y[tiled]),
        config.batch_size,
        seed=seed,
    )
    epochs = -(-config.finetune_steps // data.steps_per_epoch)
    test_data = data_lib.Pipeline(test, 256, shuffle=False)
    result = {"num_labelled": len(keep), "passes": epochs * repeats}
    shape, classes = info.image_shape, info.num_classes
    for arm in ("dbn", "scratch"):
        loops.seed_everything(seed)  # the same head in both
        if arm == "dbn":
            model = dbn.dbn_classifier(shape, classes, rbms)
        else:
            same = dbn.mlp_config(config.hidden_units)
            model = mlp.build_mlp(shape, classes, same, name="scratch")
        loops.fit(
            model,
            _optimizer(config),
            classification.task(),
            data,
            options=loops.LoopOptions(epochs=epochs, seed=seed, verbose=0),
        )
        result[arm] = classification.evaluate(model, test_data)["accuracy"]
    return result


def _optimizer(config):
    if config.finetune_optimizer == "adam":
        return keras.optimizers.Adam(config.finetune_learning_rate)
    return keras.optimizers.SGD(config.finetune_learning_rate, momentum=0.9)


def save_pictures(rbms, test_x, image_shape, workdir):
    """rbm_filters.png and reconstructions.png (see the module doc)."""
    w = np.asarray(rbms[0].kernel).T[:64]  # (64, D): W_:j per row
    low = w.min(axis=1, keepdims=True)
    w = (w - low) / np.maximum(w.max(axis=1, keepdims=True) - low, 1e-12)
    save_grid(
        workdir / "rbm_filters.png", w.reshape(-1, *image_shape), columns=8
    )
    x = test_x[:16]
    one = rbms[0].gibbs_step(x)
    stack = dbn.down_pass(rbms, dbn.up_pass(rbms, x)[-1])
    rows = np.concatenate([x, np.asarray(one), stack]).reshape(-1, *image_shape)
    save_grid(workdir / "reconstructions.png", rows, columns=16)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Pretrains the RBMs, fine-tunes both arms per label count and seed.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "rbms": [per layer], "finetune": {labels_per_class: {"num_labelled",
    "passes", "dbn", "scratch" (accuracy per seed), "mean_dbn",
    "mean_scratch", "difference" (paired, dbn - scratch)}}}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    flat = [s.x.reshape(len(s.x), -1) for s in (train, test)]
    rbms, layers = pretrain(config, *flat, workdir)
    save_pictures(rbms, flat[1], info.image_shape, workdir)
    finetuned = {}
    for per_class in config.labels_per_class:
        runs = [
            finetune(config, rbms, train, test, info, per_class, s)
            for s in config.seeds
        ]
        arms = {a: [r[a] for r in runs] for a in ("dbn", "scratch")}
        finetuned[per_class] = {
            "num_labelled": runs[0]["num_labelled"],
            "passes": runs[0]["passes"],
            **arms,
            "mean_dbn": float(np.mean(arms["dbn"])),
            "mean_scratch": float(np.mean(arms["scratch"])),
            "difference": paired_difference(arms["dbn"], arms["scratch"]),
        }
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "rbms": layers,
        "finetune": finetuned,
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """One line per RBM and one per label count."""
    lines = [
        f"RBM {i} ({r['visible']}-{r['hidden']}): test reconstruction error "
        f"{r['reconstruction_error_before']:.5f} -> "
        f"{r['reconstruction_error_after']:.5f}, free-energy gap "
        f"{r['free_energy_gap']:.2f}"
        for i, r in enumerate(result["rbms"], start=1)
    ]
    for per_class, f in result["finetune"].items():
        d = f["difference"]
        spread = (
            f" [{d['low']:+.4f}, {d['high']:+.4f}] (95%)" if d["n"] > 1 else ""
        )
        lines.append(
            f"{per_class} labels per class ({f['num_labelled']} images, "
            f"{f['passes']} passes): test accuracy DBN {f['mean_dbn']:.4f} "
            f"vs scratch {f['mean_scratch']:.4f}, difference "
            f"{d['mean']:+.4f}{spread} over {d['n']} seeds"
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
