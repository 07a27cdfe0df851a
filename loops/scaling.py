"""How a loss is scaled so that replicas add up to the global-batch mean.

The rule, stated once for the whole toolkit:

Under a `tf.distribute` strategy every replica computes gradients of its
own loss, and the strategy *sums* those gradients across replicas. For the
sum to equal the gradient of the mean loss over the global batch, each
replica must return its *share*:

    share_r = sum_{i in replica r} w_i * loss_i / N_global

where N_global is the number of examples in this step over all replicas.
Three traps follow (verified against Keras 3.15's `keras/src/losses/loss.py`):

1. A Keras `Loss` with its default reduction ("sum_over_batch_size") called
   inside `strategy.run` already divides its local mean by the number of
   replicas (`scale_loss_for_distribution`). That is the right share only
   when every replica holds the same number of examples; on the last
   partial batch (37 examples over 2 replicas: 19 + 18) it is not.
2. A per-example function must be divided by the *global* batch size, as
   `tf.nn.compute_average_loss(per_example, global_batch_size=...)` does,
   not by the local one.
3. `model.losses` (the L1/L2 penalties of section 2.2) are computed once
   per replica, so each replica adds `tf.nn.scale_regularization_loss`,
   i.e. the penalty divided by the number of replicas.

This module therefore never uses a loss's own reduction: it asks every loss
for per-example values (a Keras `Loss` is copied with `reduction=None`),
sums them, and divides by N_global, counted exactly with one all-reduce.
The result is the same on one device, on two replicas and on the last
partial batch; the engine sums the shares across replicas to report the
global-batch mean.
"""

import copy

import keras
import tensorflow as tf


def global_batch_size(batch_size):
    """Examples in this step over all replicas (exact, also when uneven)."""
    ctx = tf.distribute.get_replica_context()
    n = tf.cast(batch_size, tf.float32)
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return n
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, n)


def _per_sample(values):
    """Reduces (B, ...) values to (B,) by the mean over non-batch axes."""
    values = tf.cast(values, tf.float32)
    if values.shape.rank is not None and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def per_example_fn(loss):
    """A callable (y_true, y_pred, sample_weight) -> weighted (B,) values."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        unreduced = copy.copy(loss)
        unreduced.reduction = None  # keeps its dtype, mask, sample weights

        def keras_values(y_true, y_pred, sample_weight=None):
            return _per_sample(unreduced(y_true, y_pred, sample_weight))

        return keras_values
    if callable(loss):

        def values(y_true, y_pred, sample_weight=None):
            v = _per_sample(loss(y_true, y_pred))
            if sample_weight is not None:
                v = v * tf.reshape(tf.cast(sample_weight, v.dtype), [-1])
            return v

        return values
    raise TypeError(
        f"loss={loss!r}; expected a keras.losses.Loss, a loss name or a "
        "callable (y_true, y_pred) -> per-example values"
    )


def _batch_size_of(y_true):
    first = tf.nest.flatten(y_true)[0]
    return tf.shape(first)[0]


def replica_loss(loss, loss_weights=None):
    """Builds `loss_fn(y_true, y_pred, sample_weight) -> this replica's share`.

    Args:
      loss: a Keras `Loss`, a loss name, a per-example callable, or a dict of
        those keyed like the model's dict outputs (multi-task learning).
      loss_weights: for a dict of losses, a dict of floats (default 1.0).

    Returns:
      A function giving `sum_i w_i loss_i / N_global`, a float32 scalar, plus
      for dict losses a second result: the per-output shares (for logging).
    """
    if isinstance(loss, dict):
        fns = {k: per_example_fn(v) for k, v in loss.items()}
        weights = dict(loss_weights or {})
        unknown = set(weights) - set(fns)
        if unknown:
            raise ValueError(
                f"loss_weights has keys {sorted(unknown)} with no loss; "
                f"expected a subset of {sorted(fns)}"
            )

        def loss_fn(y_true, y_pred, sample_weight=None):
            n = global_batch_size(_batch_size_of(y_true))
            parts = {}
            for key, fn in fns.items():
                sw = (
                    sample_weight.get(key)
                    if isinstance(sample_weight, dict)
                    else sample_weight
                )
                values = fn(y_true[key], y_pred[key], sw)
                parts[key] = tf.reduce_sum(values) / n
            total = tf.add_n(
                [weights.get(k, 1.0) * v for k, v in parts.items()]
            )
            return total, parts

        return loss_fn
    if loss_weights is not None:
        raise ValueError(
            f"loss_weights={loss_weights!r} needs a dict of losses"
        )
    fn = per_example_fn(loss)

    def loss_fn(y_true, y_pred, sample_weight=None):
        values = fn(y_true, y_pred, sample_weight)
        share = tf.reduce_sum(values) / global_batch_size(tf.shape(values)[0])
        return share, {}

    return loss_fn


def regularization_loss(model):
    """This replica's share of the model's penalties (`model.losses`)."""
    if not model.losses:
        return tf.constant(0.0)
    total = tf.add_n([tf.cast(v, tf.float32) for v in model.losses])
    return tf.nn.scale_regularization_loss(total)
