"""The engine: repeat the step (section 2.1, step 5) with what training needs.

`fit` wraps a task's step in `tf.function` (several steps per call), runs it
under any `tf.distribute` strategy, resets and reports metrics per epoch,
validates, calls Keras callbacks, writes TensorBoard scalars and
checkpoints, resumes from the latest checkpoint and stops on a non-finite
loss. The step itself stays in `loops.step`.
"""

import dataclasses
import math
import pathlib
import time

import keras
import tensorflow as tf
from absl import logging

from loops import checkpointing, inputs
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


def make_multi_step(
    strategy, replica_fn, jit_compile=False, metrics=(), *, source
):
    """Compiles `run(inputs, num_steps)`: up to num_steps steps in one call.

    The steps run in a `tf.range` loop inside one `tf.function`; the loop
    stops early at the first non-finite result. `source` (see
    `loops.inputs`) gives each step its batch: the next element of a
    distributed tf.data iterator, a batch of a block of tf.data batches,
    or a gather from tensors in memory. The batch dimension is unknown at
    tracing, so the last partial batch does retrace more than once (a
    concrete trace, then a general one). Returns
    sums of (value * global batch size), the example count, the number of
    steps run, the last step's values and the results of `metrics` (read in
    the same call, so no eager op per metric follows).

    With XLA, one device and a source whose batches share one shape per
    call (in memory, or tf.data read in blocks), XLA compiles every step
    and the metrics of a call: no TensorFlow op runs between steps.
    Otherwise XLA compiles the step and the loop stays a `tf.function`.
    """
    whole_call = (
        jit_compile and source.static_batches and inputs.single_device(strategy)
    )
    if jit_compile and not whole_call:
        replica_fn = tf.function(replica_fn, jit_compile=True)
    replica_fn = source.per_replica(replica_fn)

    def one_step(inputs, i):
        batch = source.next_batch(inputs, i)
        values, n = strategy.run(replica_fn, args=(batch,))
        values = {
            k: strategy.reduce(SUM, v, axis=None) for k, v in values.items()
        }
        return values, strategy.reduce(SUM, n, axis=None)

    def finite(values):
        return tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(v)) for v in values.values()]
        )

    layout = {}  # the order of the packed values, fixed at tracing

    def run_steps(state, num_steps):
        values, n = one_step(state, 0)
        sums = {k: v * n for k, v in values.items()}
        count, steps, ok = n, tf.constant(1, tf.int64), finite(values)
        for i in tf.range(1, num_steps):
            if not ok:
                break
            values, n = one_step(state, i)
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

    if whole_call:
        # The call's batches are gathered by TensorFlow's kernel (XLA's
        # CPU gather halved an MLP's speed), then XLA runs every step.
        run_steps = tf.function(
            run_steps, jit_compile=True, reduce_retracing=True
        )

    @tf.function(reduce_retracing=True)
    def run(inputs, num_steps):
        return run_steps(source.begin_call(inputs, num_steps), num_steps)

    return _MultiStep(run, layout, source)


class _MultiStep:
    """Calls the compiled function; unpacks its vector into Python numbers:
    (sums, count, steps, last values, metric results)."""

    def __init__(self, run, layout, source):
        self._run, self._layout, self.source = run, layout, source

    def __call__(self, inputs, num_steps):
        packed = self._run(inputs, num_steps).numpy().tolist()
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
    """Runs `task.test_step` over `data`; returns {name: mean} at float64.

    `data`: a `loops.InMemory` (or an object with `in_memory()`, such as
    `experiments.data.Pipeline`), a finite `tf.data.Dataset`, or a callable
    `(epoch, skip) -> Dataset`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if evaluator is None:
        evaluator = _make_evaluator(
            strategy,
            model,
            task,
            inputs.source_for(data, strategy, "validation data"),
        )
    source = evaluator.source
    for m in task.all_metrics():
        m.reset_state()
    steps = source.steps_per_epoch(0)
    acc = _Accumulator()
    if steps:
        source.start_epoch(0, 0)
        step = 0
        while step < steps:
            n = source.call_steps(step, steps - step)
            sums, count, done, _, _ = evaluator(
                source.call_inputs(step, n), tf.constant(n, tf.int64)
            )
            acc.add(sums, count)
            step += int(done)
    return {**acc.means(), **_metric_results(task.all_metrics())}


def _make_evaluator(strategy, model, task, source):
    def replica_test(batch):
        return task.test_step(model, batch), tf.cast(
            _batch_size(batch), tf.float32
        )

    return make_multi_step(
        strategy, replica_test, metrics=task.all_metrics(), source=source
    )


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
      train_data: a `loops.InMemory` (or an object with `in_memory()`, such
        as `experiments.data.Pipeline`): batches gathered inside the
        compiled call, the fast path; or a finite `tf.data.Dataset`; or a
        callable `(epoch, skip_batches) -> Dataset` whose order depends only
        on the epoch (needed for exact resume). On one device, batches of
        small dense examples are read a call's worth at a time (see
        `loops.inputs.DatasetBlocksSource`).
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

    source = inputs.source_for(train_data, strategy, "train_data", start_epoch)
    steps_per_epoch = source.steps_per_epoch(start_epoch)
    requested = options
    options = options.resolved(
        model, steps_per_epoch, strategy.num_replicas_in_sync
    )
    source.plan(options.steps_per_execution)
    logging.info(
        "loops.fit: %s input, steps_per_execution=%d, jit_compile=%s",
        type(source).__name__,
        options.steps_per_execution,
        options.jit_compile,
    )

    def compile_steps(jit):
        train = make_multi_step(
            strategy,
            replica_train,
            jit,
            task.all_metrics(),
            source=source,
        )
        evaluate_ = None
        if validation_data is not None and task.test_step is not None:
            evaluate_ = _make_evaluator(
                strategy,
                model,
                task,
                inputs.source_for(validation_data, strategy, "validation"),
            )
        return train, evaluate_

    train_many, evaluator = compile_steps(options.jit_compile)
    # With jit_compile="auto", a step XLA cannot compile falls back to no
    # XLA; the failure comes before any variable changes.
    may_fall_back = requested.jit_compile == "auto" and options.jit_compile

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
        t0 = time.perf_counter()  # the epoch's input set-up counts too
        source.start_epoch(epoch, skip)
        acc, step = _Accumulator(), skip
        ckpt_every = options.checkpoint_every_steps
        next_ckpt = (step // ckpt_every + 1) * ckpt_every if ckpt_every else 0
        while step < steps_per_epoch and not model.stop_training:
            n = source.call_steps(
                step, min(options.steps_per_execution, steps_per_epoch - step)
            )
            cbs.on_train_batch_begin(step)
            if n not in num_steps:
                num_steps[n] = tf.constant(n, tf.int64)
            try:
                sums, count, done, last, results = train_many(
                    source.call_inputs(step, n), num_steps[n]
                )
            except (
                tf.errors.InvalidArgumentError,
                tf.errors.UnimplementedError,
            ) as error:
                if not may_fall_back:
                    raise
                logging.warning(
                    "jit_compile='auto': XLA cannot compile this step (%s); "
                    "training without XLA",
                    str(error).strip().splitlines()[0][:300],
                )
                may_fall_back = False
                options = dataclasses.replace(options, jit_compile=False)
                train_many, evaluator = compile_steps(False)
                source.start_epoch(epoch, step)
                continue
            may_fall_back = False
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
