r"""Transfer learning (Cheat sheet 2.4): feature extraction, fine-tuning.

    python -m experiments.transfer --dataset=idx:../shared/data/mnist
    python -m experiments.transfer --dataset=idx:../shared/data/mnist \
        --per_class=10
    python -m experiments.transfer --help    # every Config field, a flag

1. Pretrain a CNN (batch norm after each convolution) on the source
   digits 0-4, with all their training images.
2. Feature extraction (2.4.2): keep the pretrained convolutional blocks
   (up to the flattened feature maps) as a frozen base, put a new head
   (dropout, dense) on it and train only the head on the target digits
   5-9, `per_class` labelled images each. The pretrained dense layer is
   left out: it is specific to the source digits (cut there, a linear
   head on MNIST reached 0.87 test accuracy with 50 images per class;
   cut at the convolutions, 0.97).
3. Fine-tuning (2.4.1): unfreeze the base and train everything a few more
   epochs at a low learning rate. The base is called with training=False,
   so its BatchNorm layers keep normalizing with the source statistics
   (their moving means and variances do not change); only weights move.
4. From scratch: the same architecture, randomly initialized, trained on
   the same labelled images for as many epochs as steps 2 and 3 together.

Every stage trains with `loops.fit` on `experiments.classification.task()`
and is measured with `classification.evaluate`. The run folder's
metrics.json holds the target test accuracy and cross-entropy of steps 2,
3 and 4 (and the source test accuracy of step 1) with each stage's
history.

The source and target tasks come from `experiments.source_target`
(`split_tasks`); the base (`feature_extractor`) and the model with the
new head (`TransferClassifier`, a subclassed model so that the base
stays in inference mode under Keras 3, keras-team/keras#20285) from
`keras_cheats.models.transfer`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import classification, cli, config_flags, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.source_target import split_tasks  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import cnn  # noqa: E402
from keras_cheats.models.transfer import (  # noqa: E402
    TransferClassifier,
    feature_extractor,
)
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "transfer"
STAGES = ("feature_extraction", "fine_tuning", "scratch")
EVAL_BATCH = 500  # examples per evaluation batch (no effect on results)


@dataclasses.dataclass(frozen=True)
class Config:
    """Every choice of the transfer experiment."""

    dataset: str = "digits"
    """Data set: digits, idx:DIR (MNIST IDX files) or a tensorflow-datasets
    name."""
    source_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Pretraining classes (comma list); the other classes are the
    target."""
    per_class: int = 50
    """Labelled target training images per class: the label budget."""
    pretrain_epochs: int = 5
    """Epochs of pretraining on the source classes."""
    head_epochs: int = 20
    """Feature extraction epochs: the new head on the frozen base."""
    fine_tune_epochs: int = 10
    """Fine-tuning epochs: every weight, at fine_tune_learning_rate."""
    learning_rate: float = 1e-3
    """Adam step of pretraining, of the new head and of the scratch
    model."""
    fine_tune_learning_rate: float = 1e-4
    """Adam step while fine-tuning."""
    batch_size: int = 32
    """Examples per training batch."""
    filters: tuple[int, ...] = (32, 64)
    """Filters of each convolution block of the CNN (batch norm after
    each)."""
    dense_units: int = 128
    """Units of the CNN's dense layer (pretraining and scratch; the
    transferred base stops before it)."""
    dropout: float = 0.25
    """Dropout rate before each classification layer, in [0, 1)."""
    bn_momentum: float = 0.9
    """Momentum of the BatchNorm moving statistics, in [0, 1)
    (`build_source_model` says why not Keras' 0.99)."""
    seed: int = 0
    """Seeds the label budget sample, the initial weights and the
    shuffles."""
    verbose: Literal[0, 1, 2] = 0
    """0 silent, 1 progress bars, 2 one line per epoch."""

    def __post_init__(self):
        classes = tuple(self.source_classes)
        if not classes or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0
            for c in classes
        ):
            listed = ",".join(str(c) for c in classes)
            raise ValueError(
                f"source_classes={listed!r}; expected a non-empty list of "
                "class ids >= 0, e.g. 0,1,2,3,4"
            )
        if len(set(classes)) != len(classes):
            listed = ",".join(str(c) for c in classes)
            raise ValueError(
                f"source_classes={listed!r}; expected each class once"
            )
        object.__setattr__(self, "source_classes", classes)
        for name in ("per_class", "pretrain_epochs", "batch_size"):
            checks.integer(name, getattr(self, name), 1)
        for name in ("head_epochs", "fine_tune_epochs"):
            checks.integer(name, getattr(self, name), 0)
        for name in ("learning_rate", "fine_tune_learning_rate"):
            checks.above(name, getattr(self, name))
        object.__setattr__(
            self, "filters", checks.integers("filters", self.filters)
        )
        checks.integer("dense_units", self.dense_units, 1)
        for name in ("dropout", "bn_momentum"):
            checks.fraction(name, getattr(self, name))
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose={self.verbose!r}; expected 0, 1 or 2")

    def cnn_config(self):
        """The CNN of every stage: batch norm after each convolution."""
        return cnn.CNNConfig(
            filters=self.filters,
            batch_norm=True,
            dense_units=(self.dense_units,),
            dropout=self.dropout,
            output_activation=None,
        )


def build_source_model(image_shape, num_classes, config):
    """The CNN of every stage (logits), BatchNorm momentum
    `config.bn_momentum` (default 0.9).

    With Keras' default momentum of 0.99 the moving statistics still
    weigh their initial values (mean 0, variance 1) by 0.99^n after n
    steps: 0.3 after the 115 steps of 5 epochs on the digits' source
    classes, which ruins inference mode. 0.9 forgets them in ~50 steps.
    """
    model = cnn.build_cnn(
        image_shape, num_classes, config.cnn_config(), name="cnn"
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = config.bn_momentum
    return model


def train_stage(model, split, epochs, learning_rate, config):
    """Trains `model` on `split` with Adam and `loops.fit`; the history."""
    pipeline = data_lib.Pipeline(split, config.batch_size, seed=config.seed)
    return loops.fit(
        model,
        keras.optimizers.Adam(learning_rate),
        classification.task(),
        pipeline,
        options=loops.LoopOptions(epochs=epochs, verbose=config.verbose),
    )


def evaluate(model, split):
    """{"loss", "accuracy"} of a logits model on a split, in inference
    mode (`classification.evaluate`)."""
    data = data_lib.Pipeline(split, EVAL_BATCH, shuffle=False)
    return classification.evaluate(model, data)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Pretrains, transfers three ways, writes and returns metrics.json.

    Args:
      config: the experiment.
      workdir: the run folder ("" for a new one under runs/); the same
        settings rerun there, others are refused (`rundir.open_run`).
      restart: move a `workdir` that holds another run aside first.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    loops.seed_everything(config.seed)
    train, test, info = data_lib.load_splits(config.dataset)
    splits = split_tasks(
        train,
        test,
        info.num_classes,
        config.source_classes,
        config.per_class,
        config.seed,
    )
    n_source, n_target = len(splits.source_classes), len(splits.target_classes)
    history = {}

    source = build_source_model(info.image_shape, n_source, config)
    history["pretrain"] = train_stage(
        source,
        splits.source_train,
        config.pretrain_epochs,
        config.learning_rate,
        config,
    )
    source_test = evaluate(source, splits.source_test)

    # 2.4.2 Feature extraction: frozen base, new head.
    base = feature_extractor(source)
    base.trainable = False
    model = TransferClassifier(base, n_target, config.dropout)
    results = {}
    if config.head_epochs:
        history["feature_extraction"] = train_stage(
            model,
            splits.target_train,
            config.head_epochs,
            config.learning_rate,
            config,
        )
    results["feature_extraction"] = evaluate(model, splits.target_test)

    # 2.4.1 Fine-tuning: unfreeze, low learning rate, BN in inference mode.
    base.trainable = True
    if config.fine_tune_epochs:
        history["fine_tuning"] = train_stage(
            model,
            splits.target_train,
            config.fine_tune_epochs,
            config.fine_tune_learning_rate,
            config,
        )
    results["fine_tuning"] = evaluate(model, splits.target_test)

    # The baseline: the same CNN from random weights, same budget.
    scratch = build_source_model(info.image_shape, n_target, config)
    history["scratch"] = train_stage(
        scratch,
        splits.target_train,
        max(1, config.head_epochs + config.fine_tune_epochs),
        config.learning_rate,
        config,
    )
    results["scratch"] = evaluate(scratch, splits.target_test)

    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(info),
        "source_classes": list(splits.source_classes),
        "target_classes": list(splits.target_classes),
        "num_source_train": len(splits.source_train),
        "num_target_train": len(splits.target_train),
        "num_target_test": len(splits.target_test),
        "source_test_accuracy": source_test["accuracy"],
        "target_test_accuracy": {k: r["accuracy"] for k, r in results.items()},
        "target_test_loss": {k: r["loss"] for k, r in results.items()},
        "history": history,
        "model_dir": str(workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """The lines the command prints: source accuracy, each stage's target
    test accuracy, the run folder."""
    target = result["target_test_accuracy"]
    lines = [
        f"source classes {result['source_classes']}: test accuracy "
        f"{result['source_test_accuracy']:.4f}; target classes "
        f"{result['target_classes']}, {result['num_target_train']} labelled "
        f"images, {result['num_target_test']} test images:"
    ]
    lines += [
        f"  {stage:<20} test accuracy {target[stage]:.4f}" for stage in STAGES
    ]
    lines.append(f"run directory {result['model_dir']}")
    return "\n".join(lines)


FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
