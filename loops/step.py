"""One training step: the cheat sheet's algorithm (section 2.1), visibly.

1. forward propagation   y_hat = f(W x + b)
2. loss                  L = Loss(y, y_hat)   (+ the L1/L2 penalties)
3. backward propagation  dL/dW, dL/db
4. optimizer step        W <- W - eta dL/dW
5. repeat                (the engine in `loops.engine`)
"""

import keras
import tensorflow as tf

from loops.scaling import regularization_loss


def train_step(model, optimizer, batch, *, loss_fn, metrics=(), clip_norm=None):
    """Steps 1 to 4 on one batch; returns this replica's share of the loss.

    Args:
      model: a Keras model.
      optimizer: a Keras optimizer built on `model.trainable_variables`.
      batch: `(x, y)` or `(x, y, sample_weight)`.
      loss_fn: `(y, y_pred, sample_weight) -> (share, parts)`, as built by
        `loops.scaling.replica_loss` (see there for the scaling rule).
      metrics: Keras metrics updated with `(y, y_pred, sample_weight)`.
      clip_norm: clip the gradients to this global norm, or None.

    Returns:
      {"loss": share, **parts}: scalars the engine sums over replicas.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)  # 1. forward
        task_loss, parts = loss_fn(y, y_pred, sample_weight)  # 2. loss
        loss = task_loss + regularization_loss(model)
        scaled_loss = optimizer.scale_loss(loss)  # mixed precision, if any
    variables = model.trainable_variables
    gradients = tape.gradient(scaled_loss, variables)  # 3. backward
    if clip_norm is not None:
        gradients = clip_by_global_norm(gradients, clip_norm, optimizer)
    optimizer.apply_gradients(zip(gradients, variables))  # 4. update
    update_metrics(metrics, y, y_pred, sample_weight)
    return {"loss": loss, **parts}


def clip_by_global_norm(gradients, clip_norm, optimizer):
    """Scales this replica's gradients so that the summed gradient has a
    global norm of at most `clip_norm`: g <- g * c / max(||g||, c).

    The one place the toolkit clips. Each replica holds a share g_r of the
    gradient g = sum_r g_r (the optimizer sums the shares), so the norm is
    taken of the sum, at the price of one more all-reduce with several
    replicas (clipping each share on its own, as a Keras optimizer's
    `global_clipnorm` does under a strategy, clips another vector). With
    loss scaling the gradients are scaled too: the bound is scaled alike.
    """
    bound = clip_norm * optimizer.scale_loss(tf.constant(1.0))
    present = [g for g in gradients if g is not None]
    ctx = tf.distribute.get_replica_context()
    total = present
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, present)
    factor = bound / tf.maximum(tf.linalg.global_norm(total), bound)
    return [None if g is None else g * factor for g in gradients]


def test_step(model, batch, *, loss_fn, metrics=()):
    """Forward and loss in inference mode (Dropout off, BatchNorm frozen)."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    y_pred = model(x, training=False)
    task_loss, parts = loss_fn(y, y_pred, sample_weight)
    loss = task_loss + regularization_loss(model)
    update_metrics(metrics, y, y_pred, sample_weight)
    return {"loss": loss, **parts}


def update_metrics(metrics, y, y_pred, sample_weight=None):
    """Updates a list of metrics, or a dict {output name: list of metrics}."""
    if isinstance(metrics, dict):
        for key, group in metrics.items():
            sw = (
                sample_weight.get(key)
                if isinstance(sample_weight, dict)
                else sample_weight
            )
            for metric in group:
                metric.update_state(y[key], y_pred[key], sw)
        return
    for metric in metrics:
        metric.update_state(y, y_pred, sample_weight)


def sgd_update(variables, gradients, learning_rate):
    """The cheat sheet's update rule, written out: W <- W - eta * dL/dW."""
    for w, dw in zip(variables, gradients, strict=True):
        w.assign(w - learning_rate * dw)
