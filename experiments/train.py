r"""Train a model of the cheat sheet on MNIST-style data.

    python -m experiments.train                      # CNN on bundled digits
    python -m experiments.train --model=mlp --dataset=idx:../shared/data/mnist
    python -m experiments.train --strategy=mirrored --cpu_replicas=2

The run directory gets metrics.json (history and test metrics), checkpoints
and TensorBoard logs; rerunning with the same --model_dir resumes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
from typing import Literal  # noqa: E402

from absl import app, flags, logging  # noqa: E402

from experiments import cli, config_flags, registry  # noqa: E402
from experiments.strategies import STRATEGIES  # noqa: E402
from keras_cheats.schedules import SCHEDULES  # noqa: E402
from loops.options import check_int  # noqa: E402

OPTIMIZERS = ("adam", "sgd", "rmsprop")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
TRAINERS = ("loop", "fit")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of one run, in one place; each field's
    docstring is its flag's --help (`experiments.config_flags`)."""

    model: str = "cnn"
    """The model (its cheat-sheet section):"""
    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name: mnist, fashion_mnist, kmnist, emnist/digits,
    cifar10."""
    epochs: int = 10
    """Passes over the data; a larger value continues a finished run."""
    batch_size: int = 64
    """Global batch size (over all replicas)."""
    learning_rate: float | None = None
    """Step size eta; default: the model's best measured (1e-3; capsnet
    3e-3; BUILD.md)."""
    optimizer: Literal[OPTIMIZERS] = "adam"
    """The optimizer."""
    lr_schedule: Literal[SCHEDULES] = "constant"
    """Learning rate over the run's steps: constant, cosine (to 0) or
    exponential (to 0.1x); keras_cheats.schedules."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to --learning_rate over this many steps."""
    seed: int = 0
    """Seeds Python, NumPy and TensorFlow."""
    deterministic: bool = False
    """Enable TensorFlow op determinism."""
    trainer: Literal[TRAINERS] = "loop"
    """loops.fit (loop) or model.fit (fit): the same run."""
    strategy: Literal[STRATEGIES] = "auto"
    """tf.distribute strategy."""
    tpu: str = ""
    """TPU name for --strategy=tpu ("" = the local TPU VM)."""
    cpu_replicas: int = 1
    """Split the CPU into N logical devices (--strategy=mirrored)."""
    steps_per_execution: int | str = "auto"
    """Training steps per compiled call: an integer, or auto (32, fewer for
    short epochs)."""
    jit_compile: bool | str = "auto"
    """Compile the step with XLA: true, false or auto (for dense models
    only in the loop; Keras' own rule in model.fit)."""
    clip_norm: float | None = None
    """Clip the gradient (summed over replicas) to this global norm."""
    data_dir: str | None = None
    """tensorflow-datasets data_dir."""
    download: bool = False
    """Let tensorflow-datasets download."""
    verbose: int = 1
    """0 silent, 1 progress bar, 2 one line per epoch."""
    mixed_precision: Literal[PRECISIONS] = "float32"
    """Keras dtype policy; mixed_float16 adds dynamic loss scaling."""
    options: dict = dataclasses.field(default_factory=dict)
    """Model option (the keys each --model reads are in its description),
    e.g. --set latent_dim=2."""

    def __post_init__(self):
        for name, value, allowed in (
            ("model", self.model, tuple(registry.models())),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("trainer", self.trainer, TRAINERS),
            ("lr_schedule", self.lr_schedule, SCHEDULES),
            ("mixed_precision", self.mixed_precision, PRECISIONS),
            ("strategy", self.strategy, STRATEGIES),
        ):
            if value not in allowed:
                raise ValueError(
                    f"{name}={value!r}; expected one of {', '.join(allowed)}"
                )
        object.__setattr__(
            self,
            "steps_per_execution",
            _auto_or_int("steps_per_execution", self.steps_per_execution),
        )
        object.__setattr__(
            self, "jit_compile", _auto_or_bool("jit_compile", self.jit_compile)
        )
        if self.learning_rate is None:
            spec = registry.get(self.model)
            object.__setattr__(self, "learning_rate", spec.learning_rate)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        for name in ("epochs", "batch_size", "cpu_replicas"):
            check_int(name, getattr(self, name), 1)
        check_int("verbose", self.verbose, 0)
        known = registry.get(self.model).options
        unknown = sorted(set(self.options) - set(known))
        if unknown:
            raise ValueError(
                f"--set {unknown[0]}={self.options[unknown[0]]!r}: model="
                f"{self.model!r} has no option {unknown[0]!r}; expected "
                + (f"one of {', '.join(known)}" if known else "no --set")
            )
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(
                f"warmup_steps={self.warmup_steps!r}; expected an integer >= 0"
            )
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ValueError(
                f"clip_norm={self.clip_norm!r}; expected a number > 0"
            )


def _auto_or_int(name, value):
    if value == "auto":
        return value
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1 or str(number) != str(value):
        raise ValueError(
            f"{name}={value!r}; expected 'auto' or an integer >= 1"
        )
    return number


def _auto_or_bool(name, value):
    choices = {"auto": "auto", "true": True, "false": False}
    if isinstance(value, bool):
        return value
    if str(value).lower() not in choices:
        raise ValueError(f"{name}={value!r}; expected auto, true or false")
    return choices[str(value).lower()]


def make_optimizer(config, steps_per_epoch=1):
    """The `--optimizer` at `--learning_rate`, on the `--lr_schedule` over
    the run's epochs * steps_per_epoch steps."""
    import keras

    from keras_cheats.schedules import learning_rate_schedule

    total = config.epochs * steps_per_epoch
    if config.warmup_steps >= total:
        raise ValueError(
            f"warmup_steps={config.warmup_steps}; expected fewer than the "
            f"run's {total} steps ({config.epochs} epochs of "
            f"{steps_per_epoch})"
        )
    cls = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[config.optimizer]
    rate = learning_rate_schedule(
        config.lr_schedule,
        config.learning_rate,
        total,
        warmup_steps=config.warmup_steps,
    )
    optimizer = cls(learning_rate=rate)
    if config.mixed_precision == "mixed_float16":
        # float16 gradients underflow without loss scaling; bfloat16 has
        # float32's exponent range and needs none.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def train_and_evaluate(
    config: Config, workdir="", *, restart=False, strategy=None
) -> dict:
    """Trains and tests one configuration; returns the final metrics.

    Args:
      config: the run's hyperparameters.
      workdir: the run folder ("" for a new one under runs/); the same
        folder resumes the same run (`experiments.rundir`).
      restart: move a `workdir` that holds another run aside first.
      strategy: a `tf.distribute.Strategy`; default: `config.strategy`,
        made here (before any other TensorFlow op, as multi-worker needs).

    Writes `metrics.json` (config, data set, per-epoch history at full
    precision, test metrics) atomically to the run folder.
    """
    import keras

    import loops
    from experiments.rundir import usable_run_dir
    from experiments.strategies import make_strategy
    from loops.interrupt import peers_watched

    if strategy is None:
        strategy = make_strategy(
            config.strategy, cpu_replicas=config.cpu_replicas, tpu=config.tpu
        )
    model_dir = usable_run_dir(workdir, config.model, config.dataset)
    loops.seed_everything(config.seed, config.deterministic)
    previous_policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(config.mixed_precision)
    try:
        checkpoints = model_dir / "checkpoints"
        with peers_watched(strategy, checkpoints):  # a lost worker: 1 line
            return _train_and_evaluate(config, strategy, model_dir, restart)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train_and_evaluate(config, strategy, model_dir, restart):
    import tensorflow as tf

    import loops
    from experiments import data as data_lib
    from experiments.rundir import claim
    from experiments.saving import save_model
    from loops.checkpointing import write_json_atomic
    from loops.run_folder import is_chief

    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    data = data_lib.load(
        config.dataset,
        batch_size=config.batch_size,
        seed=config.seed,
        drop_remainder=tpu,
        data_dir=config.data_dir,
        download=config.download,
    )
    moved = claim(
        model_dir,
        run_record(config, data.info),
        restart=restart,
        write=is_chief(strategy),
    )
    if moved is not None:
        logging.warning("--restart: the previous run is now in %s", moved)
    spec = registry.get(config.model)
    data = prepared(spec, data, config)
    if spec.optimizer is not None and (
        config.lr_schedule != "constant" or config.warmup_steps
    ):
        raise ValueError(
            f"lr_schedule={config.lr_schedule!r}, warmup_steps="
            f"{config.warmup_steps}; model={config.model!r} makes its own "
            "optimizers: expected the constant default"
        )
    with strategy.scope():
        model = spec.build(data.info, config)
        optimizer = (
            spec.optimizer(model, config, data.train.steps_per_epoch)
            if spec.optimizer is not None
            else make_optimizer(config, data.train.steps_per_epoch)
        )
        if spec.task is not None:
            if config.clip_norm is not None:
                raise ValueError(
                    f"clip_norm={config.clip_norm}; model={config.model!r} "
                    "trains with its own step, which does not clip: expected "
                    "no --clip_norm"
                )
            loss = metrics = None
            task = spec.task(model, data.info, config)
        else:
            loss = spec.loss(data.info, config)
            metrics = spec.metrics(data.info, config)
            task = loops.supervised(
                loss, metrics=metrics, clip_norm=config.clip_norm
            )
    options = loops.LoopOptions(
        epochs=config.epochs,
        steps_per_execution=config.steps_per_execution,
        jit_compile=config.jit_compile,
        seed=config.seed,
        deterministic=config.deterministic,
        verbose=config.verbose,
    )
    callbacks = (
        spec.callbacks(model, model_dir, config)
        if spec.callbacks is not None
        else []
    )
    if config.trainer == "loop":
        train_data = (
            spec.train_data(model, data, model_dir, config)
            if spec.train_data is not None
            else data.train
        )
        history = loops.fit(
            model,
            optimizer,
            task,
            train_data,
            validation_data=data.test,
            options=options,
            strategy=strategy,
            model_dir=model_dir,
            callbacks=callbacks,
        )
        test = (
            loops.evaluate(model, task, data.test, strategy=strategy)
            if task.test_step is not None
            else {}
        )
    else:
        if loss is None or spec.train_data is not None:
            raise ValueError(
                f"trainer='fit' needs a model trained by a loss on the "
                f"data set as it is; model={config.model!r} trains with its "
                "own step or data: expected --trainer=loop"
            )
        history, test = _train_with_fit(
            config, strategy, model, optimizer, (loss, metrics), data,
            model_dir, options, callbacks,
        )  # fmt: skip
    if spec.after_training is not None:
        test.update(spec.after_training(model, data, model_dir, config))
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(data.info),
        "history": history,
        "test": test,
        "model_dir": str(model_dir),
    }
    if is_chief(strategy):  # one writer per run folder
        save_model(model, model_dir, classifier=spec.headline == "accuracy")
        write_json_atomic(model_dir / "metrics.json", result)
    return result


def prepare_fn(spec, info, config):
    """The model's batch mapping `(images, labels) -> (inputs, targets)`
    (e.g. (x, x) for an autoencoder), or None."""
    if spec.prepare_factory is not None:
        return spec.prepare_factory(info, config)
    return spec.prepare


def prepared(spec, data, config):
    """`data` with the model's batch mapping applied to both splits."""
    prepare = prepare_fn(spec, data.info, config)
    if prepare is None:
        return data
    return dataclasses.replace(
        data, train=data.train.map(prepare), test=data.test.map(prepare)
    )


def config_of_run(record: dict, **overrides) -> Config:
    """The Config a run.json (`run_record`) describes."""
    return Config(
        model=record["model"],
        options=record["options"],
        optimizer=record["optimizer"],
        learning_rate=record["learning_rate"],
        lr_schedule=record["lr_schedule"],
        warmup_steps=record["warmup_steps"],
        clip_norm=record["clip_norm"],
        mixed_precision=record["mixed_precision"],
        dataset=record["dataset"],
        batch_size=record["global_batch_size"],
        seed=record["seed"],
        **overrides,
    )


def run_record(config, info):
    """What defines the run in `config` (run.json): a rerun into the same
    folder resumes only the same run. --epochs may grow; the trainer,
    verbosity and speed options may change."""
    return {
        "model": config.model,
        "options": config.options,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "lr_schedule": config.lr_schedule,
        "warmup_steps": config.warmup_steps,
        "clip_norm": config.clip_norm,
        "mixed_precision": config.mixed_precision,
        "dataset": config.dataset,
        "split": {"train": info.num_train, "test": info.num_test},
        "image_shape": list(info.image_shape),
        "num_classes": info.num_classes,
        "global_batch_size": config.batch_size,
        "seed": config.seed,
    }


def _train_with_fit(
    config, strategy, model, optimizer, loss_and_metrics, data, model_dir,
    options, callbacks,
):  # fmt: skip
    """`model.fit` making the loop's run: the same step (`loops.StepModel`),
    the same batches in the same order, the same resolved options and the
    same run folder (checkpoints, resume, TensorBoard, history)."""
    import tensorflow as tf

    import loops
    from loops.interrupt import Interrupted, stop_on_signals
    from loops.keras_model import Progbar, RunFolderCallback, epoch_ordered
    from loops.options import device_type
    from loops.run_folder import RunFolder

    loss, metrics = loss_and_metrics
    train = data.train.in_memory()
    steps = train.steps_per_epoch
    run = RunFolder(model_dir, model, optimizer, strategy)
    start_epoch, skip = run.restore()
    if skip:
        raise ValueError(
            f"model_dir={str(model_dir)!r} holds a checkpoint within epoch "
            f"{start_epoch + 1} (step {skip}), which trainer='fit' cannot "
            "resume: expected --trainer=loop"
        )
    resolved = options.resolved(
        model, steps, strategy.num_replicas_in_sync, device_type(strategy)
    )
    with strategy.scope():
        wrapper = loops.StepModel(model, clip_norm=config.clip_norm)
        wrapper.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            steps_per_execution=resolved.steps_per_execution,
            jit_compile=resolved.jit_compile,
        )
    dataset, set_epoch = epoch_ordered(train)
    examples = len(train.indices(0))
    loops.seed_everything(config.seed, config.deterministic)  # as loops.fit
    with stop_on_signals() as signal:
        keep = RunFolderCallback(run, steps, examples, signal)
        callbacks = [set_epoch, keep, *callbacks]
        if config.verbose:
            callbacks.append(Progbar())
        wrapper.fit(
            dataset,
            epochs=config.epochs,
            initial_epoch=start_epoch,
            validation_data=data.test.for_epoch(0),
            callbacks=callbacks,
            shuffle=False,  # the dataset holds the loop's order
            verbose=config.verbose,
        )
    if keep.interrupted_in_epoch is not None:
        epoch = keep.interrupted_in_epoch
        raise Interrupted(
            signal.signum,
            tf.train.latest_checkpoint(str(model_dir / "checkpoints")),
            f"in epoch {epoch + 1} (model.fit resumes from its start)",
        )
    test = wrapper.evaluate(data.test.for_epoch(0), return_dict=True, verbose=0)
    return run.history, {k: float(v) for k, v in test.items()}


FLAGS = flags.FLAGS


def define_flags():
    """The command line: one flag per Config field (the --model one lists
    the models), --model_dir and --restart. Only the entry point calls it,
    so that other experiments with flags of the same names can be imported
    beside this module (absl refuses a flag defined twice)."""
    config_flags.define(
        Config,
        choices={"model": list(registry.models())},
        extra_help={"model": registry.describe()},
    )


def summary(result) -> str:
    """The last line the command prints."""
    test = result["test"]
    headline = registry.get(result["config"]["model"]).headline
    # Nested entries (a classifier's per-class report) stay in metrics.json.
    others = {
        k: v
        for k, v in test.items()
        if k != headline and not isinstance(v, dict)
    }
    return (
        f"test {headline}: {test[headline]:.4f} ("
        + ", ".join(f"{k} {v:.4f}" for k, v in others.items())
        + f"; {result['dataset']['num_test']} test images; run directory "
        f"{result['model_dir']})"
    )


def main(argv):
    del argv
    from experiments.data import DatasetUnavailableError

    try:
        config = config_flags.parse(Config)
        result = train_and_evaluate(
            config, FLAGS.model_dir, restart=FLAGS.restart
        )
    except (DatasetUnavailableError, RuntimeError) as e:
        raise app.UsageError(str(e)) from None  # e.g. --strategy=tpu, no TPU
    print(summary(result))


if __name__ == "__main__":
    define_flags()
    cli.run(main)
