r"""Compilation and compression of the CNN (cheat sheet 10.2, 10.3).

    python -m experiments.compression --dataset=idx:../shared/data/mnist \
        --epochs=3 --finetune_epochs=1

Trains the project's CNN (`experiments.train --model=cnn`) through
`loops.fit`, then measures, side by side in one process, on the test
split: the float32 model; the same model under XLA
(tf.function(jit_compile=True)); Keras' post-training int8 quantization
(`model.quantize("int8")`: Dense layers only, Conv2D stays float32),
saved and reloaded; magnitude pruning to each --sparsities, fine-tuned
through `loops.fit` with the masks re-applied after every optimizer step
(`compression_rows.masked_task`); and a smaller student CNN trained alone
and by distillation from the CNN (`keras_cheats.losses.distillation`),
with the same epochs. Prints one markdown table and writes metrics.json.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import warnings  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import classification, cli, config_flags, rundir  # noqa: E402
from experiments import compression_rows as rows  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks, pruning  # noqa: E402
from keras_cheats.losses.distillation import DistillationLoss  # noqa: E402
from keras_cheats.models import cnn  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "compression"
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the compression experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    epochs: int = 3
    """Training epochs of the CNN and of each student."""
    finetune_epochs: int = 1
    """Fine-tuning epochs of each pruned CNN."""
    sparsities: tuple[float, ...] = (0.5, 0.8, 0.9)
    """Fractions of the kernel weights set to 0, one pruned model each."""
    prune_scope: Literal["global", "layer"] = "global"
    """global: one magnitude threshold over all kernels; layer: each
    kernel pruned to the sparsity on its own."""
    student_filters: tuple[int, ...] = (8, 16)
    """Convolution filters of the student CNN."""
    student_dense: tuple[int, ...] = (32,)
    """Dense units of the student CNN."""
    temperature: float = 4.0
    """Distillation temperature T."""
    alpha: float = 0.1
    """Weight of the hard-label cross-entropy in the distillation loss."""
    batch_size: int = 64
    """Training batch size."""
    learning_rate: float = 1e-3
    """Adam step size (training and fine-tuning)."""
    timing_runs: int = 20
    """Timed inference calls per model (batch 256; the median is kept)."""
    seed: int = 0
    """Seeds initialization and batch order."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("epochs", "batch_size", "timing_runs"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("finetune_epochs", self.finetune_epochs, 0)
        for s in self.sparsities:
            checks.interval("sparsities", s, 0.0, 1.0)
        checks.choice("prune_scope", self.prune_scope, pruning.SCOPES)
        checks.positive_ints("student_filters", self.student_filters)
        checks.positive_ints("student_dense", self.student_dense)
        checks.interval("temperature", self.temperature, 0.0, low_open=True)
        checks.interval("alpha", self.alpha, 0.0, 1.0)
        checks.interval("learning_rate", self.learning_rate, 0.0, low_open=True)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the CNN, its pruned copies and the two students; measures
    every row. Returns (and writes to workdir/metrics.json) {"model_dir",
    "config", "int8_quantized_layers", "rows": {name: {"accuracy",
    "parameters", "nonzero_parameters", "bytes", "gzip_bytes",
    "seconds_per_batch", ...}}}."""
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    models, extra = {}, {}

    def fit(model, task, data, epochs, name):
        loops.fit(
            model,
            keras.optimizers.Adam(config.learning_rate),
            task,
            data,
            options=loops.LoopOptions(
                epochs=epochs, seed=config.seed, verbose=config.verbose
            ),
            model_dir=workdir / name,
        )
        return model

    def build(cnn_config):
        loops.seed_everything(config.seed)
        return cnn.build_cnn(info.image_shape, info.num_classes, cnn_config)

    data = data_lib.Pipeline(train, config.batch_size, seed=config.seed)
    teacher = fit(
        build(cnn.CNNConfig(output_activation=None)),
        classification.task(),
        data,
        config.epochs,
        "float32",
    )
    models["float32"] = teacher

    # 10.3 post-training int8 quantization: a copy, saved and reloaded.
    quantized = _copy(teacher)
    with warnings.catch_warnings():  # "Conv2D does not have `quantize`"
        warnings.simplefilter("ignore", UserWarning)
        quantized.quantize("int8")
    path = workdir / "int8.keras"
    quantized.save(path)
    models["int8"] = keras.saving.load_model(path)
    extra["int8_quantized_layers"] = [
        layer.name
        for layer in models["int8"].layers
        if getattr(layer, "quantization_mode", None) == "int8"
    ]

    # 10.3 magnitude pruning, fine-tuned with the masks kept.
    for s in config.sparsities:
        name = f"pruned {round(100 * s)}%"
        model = _copy(teacher)
        variables = pruning.prunable_variables(model)
        masks = pruning.magnitude_masks(
            [v.numpy() for v in variables], s, config.prune_scope
        )
        pruning.apply_masks(variables, masks)
        before = rows.accuracy(rows.logits_fn(model), test.x, test.y)
        if config.finetune_epochs:
            task = rows.masked_task(classification.task(), masks)
            fit(model, task, data, config.finetune_epochs,
                f"pruned_{round(100 * s)}")  # fmt: skip
        models[name] = model
        extra[name] = {
            "accuracy_before_finetuning": before,
            "kernel_sparsity": pruning.sparsity_of(
                [v.numpy() for v in variables]
            ),
        }

    # 10.3 distillation: the same student alone and taught by the CNN.
    student = cnn.CNNConfig(
        filters=config.student_filters,
        dense_units=config.student_dense,
        output_activation=None,
    )
    models["student alone"] = fit(
        build(student), classification.task(), data, config.epochs, "student"
    )
    teacher_logits = np.asarray(teacher.predict(train.x, verbose=0))
    packed = np.concatenate(
        [train.y[:, None].astype(np.float32), teacher_logits], axis=1
    )
    soft = data_lib.Pipeline(
        data_lib.Split(train.x, packed), config.batch_size, seed=config.seed
    )
    loss = DistillationLoss(config.alpha, config.temperature)
    models["student distilled"] = fit(
        build(student), loops.supervised(loss), soft, config.epochs,
        "student_distilled",
    )  # fmt: skip

    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "int8_quantized_layers": extra.pop("int8_quantized_layers"),
        "rows": _measure(models, extra, test, config, workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _copy(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _measure(models, extra, test, config, workdir):
    """Every row's accuracy, sizes and median time per batch of 256."""
    fns = {name: rows.logits_fn(m) for name, m in models.items()}
    fns["float32 + XLA"] = rows.logits_fn(models["float32"], jit_compile=True)
    times = rows.time_side_by_side(
        fns, rows.timing_batch(test.x), runs=config.timing_runs
    )
    table = {}
    for name in ["float32", "float32 + XLA", *list(models)[1:]]:
        model = models[name.removesuffix(" + XLA")]
        file = workdir / (name.replace(" ", "_").replace("%", "") + ".keras")
        table[name] = {
            "accuracy": rows.accuracy(fns[name], test.x, test.y),
            **rows.sizes(model, file),
            "seconds_per_batch": times[name],
            **extra.get(name, {}),
        }
    return table


def summary(result) -> str:
    """The markdown table of the rows, and what int8 quantized."""
    lines = [
        "| model | test accuracy | parameters | nonzero | .keras bytes "
        "| gzip bytes | ms / batch of 256 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        lines.append(
            f"| {name} | {r['accuracy']:.4f} | {r['parameters']:,} "
            f"| {r['nonzero_parameters']:,} | {r['bytes']:,} "
            f"| {r['gzip_bytes']:,} | {1000 * r['seconds_per_batch']:.2f} |"
        )
    lines.append(
        "int8 quantized layers: "
        + (", ".join(result["int8_quantized_layers"]) or "none")
    )
    for name, r in result["rows"].items():
        if "accuracy_before_finetuning" in r:
            lines.append(
                f"{name}: kernel sparsity {r['kernel_sparsity']:.4f}, "
                f"accuracy {r['accuracy_before_finetuning']:.4f} before "
                f"fine-tuning"
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
