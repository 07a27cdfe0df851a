"""The controller: repeat the step (section 2.1, step 5) with what training
needs, in the shape of Orbit's `Controller`.

`fit` owns the epochs, the Keras callbacks and progress bar, validation,
the run folder (checkpoints, resume, TensorBoard, history.json) and the
stop on a non-finite loss. A `loops.trainer.Trainer` runs the steps, several
per compiled call; a `loops.inputs` source hands each call its batches.
"""

import dataclasses
import math
import time
import weakref

import keras
import tensorflow as tf
from absl import logging

from loops import inputs
from loops.interrupt import (
    Interrupted,
    agreed_signal,
    peers_watched,
    stop_on_signals,
)
from loops.options import LoopOptions, device_type
from loops.run_folder import RunFolder, learning_rate
from loops.task import Task
from loops.trainer import (
    Evaluator,
    Totals,
    Trainer,
    metric_results,
    num_steps,
)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def seed_everything(seed, deterministic=False):
    """One seed for Python, NumPy and TensorFlow; optional op determinism."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


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
        as `experiments.data.Pipeline`): batches gathered per call, the
        fast path; or a finite `tf.data.Dataset`; or a callable
        `(epoch, skip_batches) -> Dataset` whose order depends only on the
        epoch (needed for exact resume); or a `loops.inputs.Source`.
      validation_data: the same kinds, evaluated after each epoch.
      options: `LoopOptions`.
      callbacks: Keras callbacks (EarlyStopping, LearningRateScheduler, ...).
      strategy: a `tf.distribute.Strategy`; default: the current one.
      model_dir: run folder (`loops.run_folder`); a rerun resumes.

    Returns:
      {name: [one float per epoch]}: the task's values and metrics, "val_"
      ones, "epoch_seconds", "samples_per_second" and "learning_rate".
    """
    options, strategy = _checked(task, options, strategy)
    if options.seed is not None:
        seed_everything(options.seed, options.deterministic)
    run = RunFolder(
        model_dir, model, optimizer, strategy, options.max_checkpoints
    )
    start_epoch, skip = run.restore()
    source = inputs.source_for(train_data, strategy, "train_data")
    steps_per_epoch = source.steps_per_epoch(start_epoch)
    trainer, options = _trainer(
        model, optimizer, task, strategy, source, options,
        steps_per_epoch, first_call=(start_epoch, skip),
    )  # fmt: skip
    evaluator = None
    if validation_data is not None and task.test_step is not None:
        evaluator = _evaluator(model, task, validation_data, strategy)
    cbs = keras.callbacks.CallbackList(
        list(callbacks), add_history=False, add_progbar=options.verbose != 0,
        model=model, verbose=options.verbose, epochs=options.epochs,
        steps=steps_per_epoch,
    )  # fmt: skip
    every = options.checkpoint_every_steps
    model.stop_training, logs = False, {}
    cbs.on_train_begin()
    stops = stop_on_signals()  # SIGINT, SIGTERM: stop cleanly
    peers = peers_watched(strategy, run.checkpoint_dir)  # a lost worker
    with stops as signal, peers:
        for epoch in range(start_epoch, options.epochs):  # 5. repeat
            cbs.on_epoch_begin(epoch)
            for m in trainer.metrics:
                m.reset_state()
            t0, totals, step = time.perf_counter(), Totals(), skip
            if skip:  # resumed within this epoch: its steps so far count
                t0 -= run.resume_epoch(totals, trainer.metrics)
            calls = source.calls(epoch, skip, options.steps_per_execution)
            for n, call_inputs in calls:
                cbs.on_train_batch_begin(step)
                result = trainer.train(call_inputs, num_steps(n))
                _check_finite(result, step, epoch, run)
                totals.add(result)
                step, before = step + result.steps, step
                run.global_step += result.steps
                logs = {**totals.means(), **result.metrics}
                cbs.on_train_batch_end(step - 1, logs)
                so_far = (totals, trainer.metrics, time.perf_counter() - t0)
                signum = agreed_signal(strategy, signal.signum)
                if signum is not None:
                    where = f"at step {step} of epoch {epoch + 1}"
                    saved = run.save(epoch, step, so_far)
                    raise Interrupted(signum, saved, where)
                crossed = every and before // every < step // every
                if crossed and step < steps_per_epoch:
                    run.save(epoch, step, so_far)  # within the epoch
                if model.stop_training:
                    break
            seconds = time.perf_counter() - t0
            logs = {**totals.means(), **metric_results(trainer.metrics)}
            if evaluator is not None:
                val = evaluator.evaluate()
                logs.update({f"val_{k}": v for k, v in val.items()})
            cbs.on_epoch_end(epoch, logs)
            logs["epoch_seconds"] = seconds
            logs["samples_per_second"] = totals.count / max(seconds, 1e-9)
            logs["learning_rate"] = learning_rate(optimizer)
            run.end_epoch(epoch, logs)
            skip = 0
            if model.stop_training:
                break
    cbs.on_train_end(logs)
    return run.history


def evaluate(model, task, data, *, strategy=None):
    """Runs `task.test_step` over `data`; returns {name: mean} at float64.

    `data`: the kinds `fit` takes for `validation_data`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    return _evaluator(model, task, data, strategy).evaluate()


# model -> {(task, data, strategy) ids: Evaluator}: the evaluation after
# `fit` reuses its validation's compiled loop instead of tracing another.
_EVALUATORS = weakref.WeakKeyDictionary()


def _evaluator(model, task, data, strategy):
    cache = _EVALUATORS.setdefault(model, {})
    key = (id(task), id(data), id(strategy))
    if key not in cache:  # the Evaluator keeps task and data alive
        source = inputs.source_for(data, strategy, "validation data")
        cache[key] = (Evaluator(model, task, strategy, source), data)
    return cache[key][0]


def _checked(task, options, strategy):
    if not isinstance(task, Task):
        raise TypeError(
            f"task={task!r}; expected a loops.Task, e.g. loops.supervised(loss)"
        )
    options = LoopOptions() if options is None else options
    if not isinstance(options, LoopOptions):
        raise TypeError(f"options={options!r}; expected a LoopOptions")
    return options, strategy or tf.distribute.get_strategy()


def _trainer(
    model, optimizer, task, strategy, source, options, steps_per_epoch,
    first_call,
):  # fmt: skip
    """The Trainer, with "auto" options resolved once, before the first
    step; an XLA that "auto" picked but that cannot compile the call is
    dropped here, with a warning (asked for explicitly, its error stands).
    """
    resolved = options.resolved(
        model, steps_per_epoch, strategy.num_replicas_in_sync,
        device_type(strategy), whole_calls=source.static_shapes,
    )  # fmt: skip
    jit = resolved.jit_compile
    trainer = Trainer(model, optimizer, task, strategy, source, jit)
    if jit and options.jit_compile == "auto":
        n, first = next(source.calls(*first_call, resolved.steps_per_execution))
        error = trainer.xla_error(first, num_steps(n))
        if error is not None:
            logging.warning(
                "jit_compile='auto': XLA cannot compile this step (%s); "
                "training without XLA", error,
            )  # fmt: skip
            resolved = dataclasses.replace(resolved, jit_compile=False)
            object.__setattr__(resolved, "jit_reason", "XLA cannot compile")
            trainer = Trainer(model, optimizer, task, strategy, source, False)
    logging.info(
        "loops.fit: %s, %d steps per call, jit_compile=%s (%s)",
        type(source).__name__, resolved.steps_per_execution,
        resolved.jit_compile, resolved.jit_reason,
    )  # fmt: skip
    return trainer, resolved


def _check_finite(result, step, epoch, run):
    bad = {k: v for k, v in result.last.items() if not math.isfinite(v)}
    if not bad:
        return
    at = step + result.steps
    saved = tf.train.latest_checkpoint(str(run.checkpoint_dir or ""))
    kept = (
        f"the last good checkpoint is {saved}"
        if saved
        else "no checkpoint was saved before it"
    )
    raise NonFiniteLossError(
        f"non-finite loss {bad} at step {at} of epoch {epoch + 1} (global "
        f"step {run.global_step + result.steps}); {kept}"
    )


__all__ = ["NonFiniteLossError", "evaluate", "fit", "seed_everything"]
