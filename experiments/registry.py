"""The `--model` names of `experiments.train`: one `ModelSpec` each.

A spec says which cheat-sheet section a model realizes, how to build it for
a data set, what it learns from (loss or a whole task), how batches of
(images, labels) become its (inputs, targets), and what to write after
training (pictures, extra metrics). Specs live in `experiments/zoo/*.py`,
one family per file, each calling `register`; every module of that package
is imported when the registry is first read.
"""

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How `experiments.train` runs one `--model`.

    Attributes:
      section: the cheat-sheet section, e.g. "7.3.1".
      description: one line for `--help` and the README.
      build: `build(info, config) -> keras.Model` (called in strategy scope).
      loss: `loss(info, config) -> loss` for `loops.supervised`; ignored when
        `task` is given.
      metrics: `metrics(info, config) -> list of Keras metrics`.
      prepare: `prepare(images, labels) -> batch` mapped over the batched
        pipelines (e.g. (x, x) for an autoencoder); None keeps (x, y).
      prepare_factory: `factory(info, config) -> prepare`, for a mapping
        that depends on the data set (e.g. one-hot labels of num_classes).
      task: `task(model, info, config) -> loops.Task` for a custom step
        (e.g. a GAN); its optimizers come from `optimizer`.
      optimizer: `optimizer(model, config, steps_per_epoch) -> optimizer or
        dict` (the steps per epoch for a schedule over the run); None uses
        the `--optimizer` and `--learning_rate` flags.
      train_data: `train_data(model, data, run_dir, config) -> callable
        (epoch, skip_batches) -> Dataset` replacing the training pipeline
        in the loop (e.g. batches redrawn each epoch by the model itself).
      callbacks: `callbacks(model, run_dir, config) -> list` of Keras
        callbacks for the loop (e.g. a sample grid written each epoch).
      after_training: `after(model, data, run_dir, config) -> dict` of extra
        test metrics, e.g. after writing PNG grids to the run directory.
      headline: the test metric printed on the final line.
      options: the `--set` keys the model reads; any other is refused.
      learning_rate: the step size `--learning_rate` defaults to for this
        model: the best measured on MNIST (BUILD.md, "Every --model").
    """

    section: str
    description: str
    build: Callable
    loss: Callable | None = None
    metrics: Callable = lambda info, config: []  # noqa: E731
    prepare: Callable | None = None
    prepare_factory: Callable | None = None
    task: Callable | None = None
    optimizer: Callable | None = None
    train_data: Callable | None = None
    callbacks: Callable | None = None
    after_training: Callable | None = None
    headline: str = "accuracy"
    options: tuple = ()
    learning_rate: float = 1e-3

    def __post_init__(self):
        if self.loss is None and self.task is None:
            raise ValueError(
                f"model spec for section {self.section!r} has neither a loss "
                "nor a task; expected one of them"
            )


_MODELS: dict = {}
_loaded = False


def register(name: str, spec: ModelSpec):
    """Adds `--model=name`; a name can be registered once."""
    if name in _MODELS:
        raise ValueError(f"model name {name!r} is already registered")
    _MODELS[name] = spec


def _load():
    global _loaded
    if not _loaded:
        _loaded = True
        from experiments import zoo

        for module in pkgutil.iter_modules(zoo.__path__):
            importlib.import_module(f"experiments.zoo.{module.name}")


def models() -> dict:
    """{name: ModelSpec}, ordered by cheat-sheet section."""
    _load()
    return dict(sorted(_MODELS.items(), key=lambda kv: (kv[1].section, kv[0])))


def get(name: str) -> ModelSpec:
    specs = models()
    if name not in specs:
        raise ValueError(f"model={name!r}; expected one of {', '.join(specs)}")
    return specs[name]


def describe() -> str:
    return "; ".join(
        f"{name} (section {spec.section}): {spec.description}"
        for name, spec in models().items()
    )
