"""Training a self-organizing map through `loops` (cheat sheet 7.9).

    model = som_task.som_model((28, 28, 1), rows=12, cols=12)
    optimizer = som_task.som_optimizer(model, 0.5, 0.01, total_steps)
    loops.fit(model, optimizer, som_task.som_task(6.0, 0.5, total_steps),
              data)

Kohonen's update is not the gradient of a loss; no GradientTape runs.
The step computes this replica's sum of the per-example updates
(`keras_cheats.layers.som.update_numerator`, with the BMUs and sigma(t) of
this step) and hands the optimizer its negation over the global batch
size as the "gradient" of the (non-trainable) prototypes,

    g_j = -sum_{i in replica} h_{j,c(x_i)} (x_i - w_j) / B_global,

so that plain SGD, whose learning rate is the schedule eta(t), performs

    w_j <- w_j + eta(t) / B sum_i h_{j,c(x_i)} (x_i - w_j),

the batched Kohonen rule, and the shares of several replicas add up to
the global batch's update exactly as the loss shares of `loops.scaling`
do (the optimizer sums them). The step counter t is
`optimizer.iterations` (checkpointed with the optimizer: a resumed run
continues both schedules where it stopped). eta(t) is
`keras.optimizers.schedules.ExponentialDecay`; sigma(t) is the same
formula (`keras_cheats.layers.som.exponential_decay`).

The optimizer is built on the prototypes by `som_optimizer` before
`loops.fit`: the engine builds an unbuilt optimizer on the model's
trainable variables, and a map has none.
"""

import math

import keras
import tensorflow as tf

import loops
from keras_cheats.layers.som import (
    SelfOrganizingMap,
    best_matching_unit,
    exponential_decay,
    update_numerator,
)
from loops.scaling import global_batch_size


def som_model(input_shape, rows, cols, name="som", **layer_kwargs):
    """keras.Model x (B, *input_shape) -> the map's dict of BMUs: flattens
    the inputs, then one `SelfOrganizingMap`."""
    inputs = keras.Input(tuple(input_shape), name="inputs")
    flat = keras.layers.Flatten(name="flatten")(inputs)
    outputs = SelfOrganizingMap(rows, cols, name="map", **layer_kwargs)(flat)
    return keras.Model(inputs, outputs, name=name)


def som_of(model):
    """The `SelfOrganizingMap` of `model` (the model itself if it is one)."""
    if isinstance(model, SelfOrganizingMap):
        return model
    found = [x for x in model.layers if isinstance(x, SelfOrganizingMap)]
    if len(found) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(found)} SelfOrganizingMap "
            "layers; expected exactly one (see som_model)"
        )
    return found[0]


def total_steps(num_examples, batch_size, epochs):
    """T: the steps of `epochs` passes in batches (the last one partial)."""
    return epochs * math.ceil(num_examples / batch_size)


def som_optimizer(model, eta_start, eta_end, steps):
    """SGD with learning rate eta(t) = eta_start (eta_end /
    eta_start)^(t / steps), built on the map's prototypes.

    Create it in the strategy's scope, like the model.
    """
    schedule = keras.optimizers.schedules.ExponentialDecay(
        eta_start, decay_steps=steps, decay_rate=eta_end / eta_start
    )
    optimizer = keras.optimizers.SGD(schedule)
    optimizer.build([som_of(model).prototypes])
    return optimizer


def _inputs(batch, som):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(batch)
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], som.prototypes.shape[1]])


def _shares(som, x, n_global):
    """This replica's shares of the mean quantization and topographic
    errors over the global batch."""
    quantization, topographic = som.errors(x)  # (B,), (B,)
    return {
        "quantization_error": tf.reduce_sum(quantization) / n_global,
        "topographic_error": tf.reduce_sum(topographic) / n_global,
    }


def som_task(sigma_start, sigma_end, steps):
    """The batched Kohonen rule as a `loops.Task` (7.9).

    Args:
      sigma_start: sigma(0), the neighbourhood width in grid units.
      sigma_end: sigma(steps).
      steps: T, the steps over which sigma (and eta) decay.

    Returns:
      A `loops.Task` on batches `x` or `(x, ...)` with x of shape (B, D)
      or (B, ...) flattening to D; both steps return
      {"quantization_error", "topographic_error"} of the batch (in
      training, before the prototypes move).
    """
    if not 0 < sigma_end <= sigma_start:
        raise ValueError(
            f"sigma_start={sigma_start!r}, sigma_end={sigma_end!r}; "
            "expected 0 < sigma_end <= sigma_start"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps={steps!r}; expected an integer >= 1")

    def train_step(model, optimizer, batch):
        som = som_of(model)
        x = _inputs(batch, som)
        n_global = global_batch_size(tf.shape(x)[0])
        sigma = exponential_decay(
            sigma_start, sigma_end, optimizer.iterations, steps
        )
        shares = _shares(som, x, n_global)  # before the prototypes move
        w = tf.convert_to_tensor(som.prototypes)
        bmu = best_matching_unit(x, w)
        numerator = update_numerator(w, som.positions, x, bmu, sigma)
        optimizer.apply_gradients([(-numerator / n_global, som.prototypes)])
        return shares

    def test_step(model, batch):
        som = som_of(model)
        x = _inputs(batch, som)
        return _shares(som, x, global_batch_size(tf.shape(x)[0]))

    return loops.Task(train_step=train_step, test_step=test_step)
