r"""Metrics of a trained run on a data set's test split.

    python -m experiments.evaluate --model_dir=runs/mlp-digits-...
    python -m experiments.evaluate --model_dir=RUN --dataset=idx:DIR

Reads RUN/run.json (which model, options and data set) and
RUN/model.keras (the trained model), then evaluates the model's own loss
and metrics, as `experiments.train` reports them.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

from absl import flags  # noqa: E402

from experiments import cli  # noqa: E402


def evaluate(model_dir, dataset=None, batch_size=256) -> dict:
    """{metric: value} of the run in `model_dir` on `dataset`'s test split
    (default: the data set it trained on)."""
    import loops
    from experiments import data as data_lib
    from experiments import registry, train
    from experiments.rundir import RECORD
    from experiments.saving import load_model
    from loops.checkpointing import read_json

    record = read_json(pathlib.Path(model_dir) / RECORD)
    if record is None:
        raise ValueError(
            f"model_dir={str(model_dir)!r} has no {RECORD}; expected the "
            "folder of an experiments.train run"
        )
    config = train.config_of_run(record)
    spec = registry.get(config.model)
    data = data_lib.load(dataset or config.dataset, batch_size=batch_size)
    model = load_model(model_dir)
    expected = tuple(record["image_shape"])
    if tuple(data.info.image_shape) != expected:
        raise ValueError(
            f"dataset={data.info.name!r} has images of shape "
            f"{data.info.image_shape}; expected {expected}, the model's input"
        )
    data = train.prepared(spec, data, config)
    if spec.task is not None:
        task = spec.task(model, data.info, config)
    else:
        task = loops.supervised(
            spec.loss(data.info, config),
            metrics=spec.metrics(data.info, config),
        )
    return loops.evaluate(model, task, data.test)


FLAGS = flags.FLAGS


def main(argv):
    del argv
    from experiments.data import DatasetUnavailableError, IdxFormatError

    try:
        metrics = evaluate(FLAGS.model_dir, FLAGS.dataset, FLAGS.batch_size)
    except (DatasetUnavailableError, IdxFormatError) as e:
        raise ValueError(str(e)) from None
    print(", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run folder of experiments.train.")
    flags.DEFINE_string(
        "dataset", None, "Data set to evaluate on (default: the run's)."
    )
    flags.DEFINE_integer("batch_size", 256, "Examples per batch.")
    flags.mark_flag_as_required("model_dir")
    cli.run(main)
