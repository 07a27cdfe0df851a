"""The measurements of `experiments.compression` (cheat sheet 10.2, 10.3):
a pruning task for `loops.fit`, and per model its test accuracy,
parameters, nonzero parameters, bytes on disk and inference time.

    task = masked_task(classification.task(), masks)  # re-masks each step
    row = measure(model, "float32", test, run_dir)     # accuracy, sizes
    times = time_side_by_side({"float32": fn, ...}, x)  # median s/batch
"""

import dataclasses
import gzip
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from keras_cheats import pruning


def masked_task(task, masks):
    """`task` whose train step re-applies the binary `masks` after each
    optimizer step: w <- w * m for the kernels of
    `pruning.prunable_variables(model)` (in that order), so a pruned
    weight stays 0 whatever its gradient and the optimizer's moments."""
    masks = [tf.constant(m, tf.float32) for m in masks]

    def train_step(model, optimizer, batch):
        values = task.train_step(model, optimizer, batch)
        pruning.apply_masks(pruning.prunable_variables(model), masks)
        return values

    return dataclasses.replace(task, train_step=train_step)


def logits_fn(model, jit_compile=False):
    """x -> model(x, training=False) as one tf.function (XLA when
    `jit_compile`: cheat sheet 10.2)."""
    return tf.function(
        lambda x: model(x, training=False),
        jit_compile=jit_compile,
        reduce_retracing=not jit_compile,
    )


def accuracy(fn, x, y, batch_size=256):
    """Fraction of `x` whose argmax of fn(batch) equals `y`."""
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = np.asarray(fn(tf.constant(x[start : start + batch_size])))
        correct += int(
            (logits.argmax(-1) == y[start : start + batch_size]).sum()
        )
    return correct / len(x)


def sizes(model, path):
    """Parameters, nonzero parameters, bytes of the saved .keras file and
    of that file gzipped (zeros compress: how sparsity shows on disk).
    The weights only: a model trained by `loops.fit` holds its optimizer,
    whose moments would be saved too, so such a model is saved as a
    clone."""
    if getattr(model, "optimizer", None) is not None:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        model = clone
    model.save(path)
    raw = path.read_bytes()
    weights = [np.asarray(w) for w in model.weights]
    return {
        "parameters": int(sum(w.size for w in weights)),
        "nonzero_parameters": int(sum(np.count_nonzero(w) for w in weights)),
        "bytes": len(raw),
        "gzip_bytes": len(gzip.compress(raw, compresslevel=9)),
    }


def time_side_by_side(fns, x, runs=20, warmup=3):
    """Median seconds per call of each fn(x), {name: seconds}.

    Every fn is first called `warmup` times (tracing, XLA compilation);
    then `runs` rounds call each fn once in turn, so that a busy machine
    slows every row alike. Each call waits for its result (`.numpy()`).
    """
    x = tf.constant(x)
    for fn in fns.values():
        for _ in range(warmup):
            np.asarray(fn(x))
    seconds = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            np.asarray(fn(x))
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in seconds.items()}


def timing_batch(x, batch_size=256):
    """The first `batch_size` images of `x`, repeated when fewer."""
    reps = -(-batch_size // len(x))
    return np.concatenate([x] * reps)[:batch_size]
