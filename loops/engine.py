"""The engine: repeat the step (section 2.1, step 5) with what training needs.

`fit` wraps a task's step in `tf.function` (several steps per call), runs it
under any `tf.distribute` strategy, resets and reports metrics per epoch,
validates, calls Keras callbacks, writes TensorBoard scalars and
checkpoints, resumes from the latest checkpoint and stops on a non-finite
loss. The step itself stays in `loops.step`.
"""

import math
import pathlib
import time

import keras
import tensorflow as tf
from absl import logging

from loops import checkpointing
from loops.options import LoopOptions
from loops.task import Task

SUM = tf.distribute.ReduceOp.SUM


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def seed_everything(seed, deterministic=False):
    """One seed for Python, NumPy and TensorFlow; optional op determinism."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _batch_size(batch):
    return tf.shape(tf.nest.flatten(batch)[0])[0]


def _build_optimizers(model, optimizer):
    """Builds each optimizer before the first (distributed) step.

    A Keras 3 optimizer first used inside `strategy.run` fails to create its
    variables (tensorflow issue 72686), so it is built here, in scope. A
    dict of optimizers is keyed by the sub-model attribute each one trains.
    """
    if isinstance(optimizer, dict):
        for name, opt in optimizer.items():
            sub = getattr(model, name, None)
            if sub is None:
                raise ValueError(
                    f"optimizer key {name!r} names no attribute of the model; "
                    "expected the attribute of the sub-model it trains"
                )
            if not opt.built:
                opt.build(sub.trainable_variables)
    elif not optimizer.built:
        optimizer.build(model.trainable_variables)


def make_multi_step(strategy, replica_fn, jit_compile=False, metrics=()):
    """Compiles `run(iterator, num_steps)`: up to num_steps steps in one call.

    The steps run in a `tf.range` loop inside one `tf.function`; the loop
    stops early at the first non-finite result. The iterator's element spec
    has an unknown batch dimension, so the last partial batch does not
    retrace. Returns sums of (value * global batch size), the example count,
    the number of steps run, the last step's values and the results of
    `metrics` (read in the same call, so no eager op per metric follows).
    """
    if jit_compile:
        replica_fn = tf.function(replica_fn, jit_compile=True)

    def one_step(iterator):
        values, n = strategy.run(replica_fn, args=(next(iterator),))
        values = {
            k: strategy.reduce(SUM, v, axis=None) for k, v in values.items()
        }
        return values, strategy.reduce(SUM, n, axis=None)

    def finite(values):
        return tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(v)) for v in values.values()]
        )

    layout = {}  # the order of the packed values, fixed at tracing

    @tf.function
    def run(iterator, num_steps):
        values, n = one_step(iterator)
        sums = {k: v * n for k, v in values.items()}
        count, steps, ok = n, tf.constant(1, tf.int64), finite(values)
        for _ in tf.range(num_steps - 1):
            if not ok:
                break
            values, n = one_step(iterator)
            sums = {k: sums[k] + values[k] * n for k in sums}
            count, steps, ok = count + n, steps + 1, finite(values)
        results = _metric_tensors(metrics)
        layout.update(
            sums=list(sums), values=list(values), results=list(results)
        )
        # One float64 vector, so the host reads one tensor per call.
        parts = [*sums.values(), count, steps, *values.values()]
        parts += list(results.values())
        return tf.stack([tf.cast(tf.reshape(p, []), tf.float64) for p in parts])

    return _MultiStep(run, layout)


class _MultiStep:
    """Calls the compiled function; unpacks its vector into Python numbers:
    (sums, count, steps, last values, metric results)."""

    def __init__(self, run, layout):
        self._run, self._layout = run, layout

    def __call__(self, iterator, num_steps):
        packed = self._run(iterator, num_steps).numpy().tolist()
        sums_keys = self._layout["sums"]
        value_keys = self._layout["values"]
        i = len(sums_keys)
        sums = dict(zip(sums_keys, packed[:i]))
        count, steps = packed[i], int(packed[i + 1])
        j = i + 2 + len(value_keys)
        values = dict(zip(value_keys, packed[i + 2 : j]))
        results = dict(zip(self._layout["results"], packed[j:]))
        return sums, count, steps, values, results

    def experimental_get_tracing_count(self):
        return self._run.experimental_get_tracing_count()


class _Accumulator:
    """Example-weighted means of the step values over an epoch (float64)."""

    def __init__(self):
        self.sums, self.count = {}, 0.0

    def add(self, sums, count):
        for k, v in sums.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += float(count)

    def means(self):
        return {k: v / self.count for k, v in self.sums.items()}


def _metric_tensors(metrics):
    out = {}
    for m in metrics:
        result = m.result()
        out.update(result if isinstance(result, dict) else {m.name: result})
    return out


def _metric_results(metrics):
    return {k: float(v) for k, v in _metric_tensors(metrics).items()}


def _steps_of(dataset, name):
    n = int(dataset.cardinality())
    if n < 0:
        raise ValueError(
            f"{name} has unknown or infinite length; expected a finite "
            "tf.data.Dataset (or a Pipeline) with a known cardinality"
        )
    return n


def _epoch_dataset(data, epoch, skip):
    """`data(epoch, skip)` for a Pipeline-like callable, else the dataset."""
    if callable(data) and not isinstance(data, tf.data.Dataset):
        return data(epoch, skip)
    return data.skip(skip) if skip else data


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker"
        and task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def _learning_rate(optimizer):
    if isinstance(optimizer, dict):
        optimizer = next(iter(optimizer.values()))
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def evaluate(model, task, data, *, strategy=None, evaluator=None):
    """Runs `task.test_step` over `data`; returns {name: mean} at float64."""
    strategy = strategy or tf.distribute.get_strategy()
    if evaluator is None:
        evaluator = _make_evaluator(strategy, model, task)
    for m in task.all_metrics():
        m.reset_state()
    dataset = _epoch_dataset(data, 0, 0)
    steps = _steps_of(dataset, "validation data")
    acc = _Accumulator()
    if steps:
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        sums, count, _, _, _ = evaluator(iterator, tf.constant(steps, tf.int64))
        acc.add(sums, count)
    return {**acc.means(), **_metric_results(task.all_metrics())}


def _make_evaluator(strategy, model, task):
    def replica_test(batch):
        return task.test_step(model, batch), tf.cast(
            _batch_size(batch), tf.float32
        )

    return make_multi_step(strategy, replica_test, metrics=task.all_metrics())


def fit(
    model,
    optimizer,
    task: Task,
    train_data,
    *,
    validation_data=None,
    options: LoopOptions | None = None,
    callbacks=(),
    strategy=None,
    model_dir=None,
):
    """Trains `model` with `task` and returns the per-epoch history.

    Args:
      model: a Keras model created under `strategy.scope()`.
      optimizer: a Keras optimizer (created in the same scope), or a dict of
        them keyed by the sub-model attribute each trains (e.g. a GAN).
      task: a `loops.Task` (`loops.supervised(loss, ...)` for the default).
      train_data: a finite `tf.data.Dataset`, or a callable
        `(epoch, skip_batches) -> Dataset` such as `experiments.data.Pipeline`
        whose order depends only on the epoch (needed for exact resume).
      validation_data: the same kinds, evaluated after each epoch.
      options: `LoopOptions`.
      callbacks: Keras callbacks (EarlyStopping, CSVLogger, ... ).
      strategy: a `tf.distribute.Strategy`; default: the current one.
      model_dir: run directory for checkpoints, TensorBoard logs and
        `history.json`; a rerun with the same directory resumes.

    Returns:
      {metric name: [one float per epoch]}, with "epoch_seconds" and
      "samples_per_second".
    """
    if not isinstance(task, Task):
        raise TypeError(
            f"task={task!r}; expected a loops.Task, e.g. loops.supervised(loss)"
        )
    options = LoopOptions() if options is None else options
    if not isinstance(options, LoopOptions):
        raise TypeError(f"options={options!r}; expected a LoopOptions")
    strategy = strategy or tf.distribute.get_strategy()
    if options.seed is not None:
        seed_everything(options.seed, options.deterministic)
    chief = _is_chief(strategy)
    run_dir = pathlib.Path(model_dir) if model_dir else None
    ckpt_dir = write_dir = None
    if run_dir is not None:
        ckpt_dir = run_dir / "checkpoints"
        if not chief:  # workers write a throwaway copy (TF's requirement)
            task_id = strategy.cluster_resolver.task_id
            write_dir = run_dir / f".worker_{task_id}_checkpoints"

    with strategy.scope():
        _build_optimizers(model, optimizer)
        state = checkpointing.RunState(
            model, optimizer, ckpt_dir, options.max_checkpoints, write_dir
        )

    restored = state.restore_latest()
    start_epoch = int(state.epoch.numpy())
    skip = int(state.step_in_epoch.numpy())
    history_path = run_dir / "history.json" if run_dir else None
    history = {}
    if restored:
        saved = checkpointing.read_json(history_path, {}) if run_dir else {}
        history = {k: v[:start_epoch] for k, v in saved.items()}
        logging.info(
            "Resumed from %s at epoch %d, step %d", restored, start_epoch, skip
        )

    def replica_train(batch):
        values = task.train_step(model, optimizer, batch)
        return values, tf.cast(_batch_size(batch), tf.float32)

    train_many = make_multi_step(
        strategy, replica_train, options.jit_compile, task.all_metrics()
    )
    evaluator = (
        _make_evaluator(strategy, model, task)
        if validation_data is not None and task.test_step is not None
        else None
    )

    first = _epoch_dataset(train_data, start_epoch, 0)
    steps_per_epoch = _steps_of(first, "train_data")
    cbs = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=False,
        add_progbar=options.verbose != 0,
        model=model,
        verbose=options.verbose,
        epochs=options.epochs,
        steps=steps_per_epoch,
    )
    writers = {}
    if run_dir is not None and chief:
        for name in ("train", "validation"):
            writers[name] = tf.summary.create_file_writer(
                str(run_dir / "tensorboard" / name)
            )

    global_step = int(state.global_step.numpy())
    num_steps = {}  # one tensor per call length, made once

    def save(epoch, step):
        state.epoch.assign(epoch)
        state.step_in_epoch.assign(step)
        state.global_step.assign(global_step)
        return state.save()

    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs = {}
    for epoch in range(start_epoch, options.epochs):
        if model.stop_training:
            break
        cbs.on_epoch_begin(epoch)
        for m in task.all_metrics():
            m.reset_state()
        dataset = _epoch_dataset(train_data, epoch, skip)
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        acc, step, t0 = _Accumulator(), skip, time.perf_counter()
        ckpt_every = options.checkpoint_every_steps
        next_ckpt = (step // ckpt_every + 1) * ckpt_every if ckpt_every else 0
        while step < steps_per_epoch and not model.stop_training:
            n = min(options.steps_per_execution, steps_per_epoch - step)
            cbs.on_train_batch_begin(step)
            if n not in num_steps:
                num_steps[n] = tf.constant(n, tf.int64)
            sums, count, done, last, results = train_many(
                iterator, num_steps[n]
            )
            done = int(done)
            if not all(math.isfinite(float(v)) for v in last.values()):
                bad = {k: float(v) for k, v in last.items()}
                at = global_step + done
                raise NonFiniteLossError(
                    f"non-finite loss {bad} at step {step + done} of epoch "
                    f"{epoch + 1} (global step {at}); the last good "
                    f"checkpoint is kept in {ckpt_dir}"
                )
            acc.add(sums, count)
            step += done
            global_step += done
            logs = {**acc.means(), **{k: float(v) for k, v in results.items()}}
            cbs.on_train_batch_end(step - 1, logs)
            if ckpt_every and step >= next_ckpt and step < steps_per_epoch:
                save(epoch, step)
                next_ckpt = (step // ckpt_every + 1) * ckpt_every
        seconds = time.perf_counter() - t0
        epoch_logs = {**acc.means(), **_metric_results(task.all_metrics())}
        if evaluator is not None:
            val = evaluate(
                model,
                task,
                validation_data,
                strategy=strategy,
                evaluator=evaluator,
            )
            epoch_logs.update({f"val_{k}": v for k, v in val.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        epoch_logs["epoch_seconds"] = seconds
        epoch_logs["samples_per_second"] = acc.count / max(seconds, 1e-9)
        epoch_logs["learning_rate"] = _learning_rate(optimizer)
        for k, v in epoch_logs.items():
            history.setdefault(k, []).append(float(v))
        _write_summaries(writers, epoch_logs, epoch)
        skip = 0
        if save(epoch + 1, 0) is None and state.manager is not None:
            logging.warning("epoch %d: weights not finite; not saved", epoch)
        if history_path is not None and chief:
            checkpointing.write_json_atomic(history_path, history)
    cbs.on_train_end(epoch_logs)
    return history


def _write_summaries(writers, logs, epoch):
    if not writers:
        return
    for k, v in logs.items():
        if k.startswith("val_"):
            writer, name = writers["validation"], k[len("val_") :]
        else:
            writer, name = writers["train"], k
        with writer.as_default():
            tf.summary.scalar(name, v, step=epoch)
    for w in writers.values():
        w.flush()


__all__ = ["NonFiniteLossError", "evaluate", "fit", "seed_everything"]
