"""Kohonen's self-organizing map (Cheat sheet 7.9).

A grid of rows x cols units; unit j (j = row * cols + col) sits at the grid
position r_j = (row, col) and holds a prototype w_j in input space (D,).
An input x is mapped to its best-matching unit (BMU)

    c(x) = argmin_j ||x - w_j||

and training pulls the BMU and its grid neighbours towards x:

    w_j <- w_j + eta(t) h_{j,c(x)}(t) (x - w_j)
    h_{j,c}(t) = exp(-||r_j - r_c||^2 / (2 sigma(t)^2))

with a learning rate eta(t) and a neighbourhood width sigma(t) that both
decay exponentially over the T steps of training (`exponential_decay`):

    eta(t) = eta_0 (eta_T / eta_0)^(t / T),  likewise sigma(t).

On a batch of B inputs the per-example updates are averaged (the online
rule above, batched; with B = 1 it is Kohonen's rule exactly):

    w_j <- w_j + eta(t) / B sum_i h_{j,c(x_i)}(t) (x_i - w_j)

The sum (`update_numerator`) splits over replicas: each replica sums its
own examples, and numerators and counts add up across replicas.

Quality (Kiviluoto 1996): the quantization error is the mean distance
||x - w_c(x)|| of the inputs to their BMUs; the topographic error is the
share of inputs whose first and second BMUs are not grid neighbours
(units whose row and column both differ by at most 1: the 8-neighbourhood,
diagonals included, as MiniSom counts them).
"""

import keras
import numpy as np
from keras import ops

from keras_cheats import checks


def grid_positions(rows, cols):
    """r_j = (row, col) of unit j = row * cols + col: (K, 2) float32."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.stack([r.ravel(), c.ravel()], axis=-1).astype("float32")


def exponential_decay(start, end, step, total_steps):
    """start (end / start)^(step / total_steps): start at step 0, end at T."""
    fraction = ops.cast(step, "float32") / float(total_steps)
    return start * ops.power(end / start, fraction)


def squared_distances(x, prototypes):
    """||x_i - w_j||^2: (B, D), (K, D) -> (B, K), clipped at 0."""
    cross = ops.matmul(x, ops.transpose(prototypes))  # (B, K)
    x2 = ops.sum(ops.square(x), axis=-1, keepdims=True)  # (B, 1)
    w2 = ops.sum(ops.square(prototypes), axis=-1)  # (K,)
    return ops.maximum(x2 - 2.0 * cross + w2, 0.0)


def neighbourhood(positions, bmu, sigma):
    """h_{j,c_i} = exp(-||r_j - r_{c_i}||^2 / (2 sigma^2)).

    Args:
        positions: (K, 2) grid positions r_j (`grid_positions`).
        bmu: (B,) int BMU indices c_i.
        sigma: the width, a scalar > 0.

    Returns:
        (B, K): row i is the neighbourhood of example i's BMU.
    """
    centre = ops.take(positions, bmu, axis=0)  # (B, 2)
    gap = ops.sum(ops.square(centre[:, None, :] - positions[None]), axis=-1)
    return ops.exp(-gap / (2.0 * ops.square(sigma)))


def best_matching_unit(x, prototypes):
    """c(x_i) = argmin_j ||x_i - w_j||: (B, D), (K, D) -> (B,) int32."""
    return ops.cast(ops.argmin(squared_distances(x, prototypes), -1), "int32")


def update_numerator(prototypes, positions, x, bmu, sigma):
    """sum_i h_{j,c_i} (x_i - w_j) for every unit j: (K, D).

    = H^T X - (sum_i h_{j,c_i}) w_j with H (B, K) the neighbourhoods of
    the BMUs c_i = `bmu` (B,).
    """
    h = neighbourhood(positions, bmu, sigma)  # (B, K)
    pulled = ops.matmul(ops.transpose(h), x)  # (K, D)
    return pulled - ops.sum(h, axis=0)[:, None] * prototypes


def som_update(prototypes, positions, x, eta, sigma):
    """One batch of the map's training, a pure function (7.9).

        w_j <- w_j + eta / B sum_i h_{j,c(x_i)} (x_i - w_j)

    Args:
        prototypes: (K, D) the w_j.
        positions: (K, 2) their grid positions r_j.
        x: (B, D) inputs.
        eta: the learning rate eta(t).
        sigma: the neighbourhood width sigma(t).

    Returns:
        (K, D) the new prototypes.

    Example: one unit per cell of a 1 x 2 grid, w = [[0, 0], [1, 0]],
    x = [[0, 1]], eta = 0.5, sigma = 1: the BMU is unit 0, h = (1,
    e^-0.5), and w becomes [[0, 0.5], [1 - 0.5 e^-0.5, 0.5 e^-0.5]] =
    [[0, 0.5], [0.6967, 0.3033]].
    """
    n = ops.cast(ops.shape(x)[0], prototypes.dtype)
    bmu = best_matching_unit(x, prototypes)
    numerator = update_numerator(prototypes, positions, x, bmu, sigma)
    return prototypes + eta * numerator / n


def are_grid_neighbours(first, second, cols):
    """True where units `first` and `second` (int arrays of indices) differ
    by at most 1 in both row and column (8-neighbourhood)."""
    dr = ops.abs(first // cols - second // cols)
    dc = ops.abs(first % cols - second % cols)
    return ops.logical_and(ops.less_equal(dr, 1), ops.less_equal(dc, 1))


@keras.saving.register_keras_serializable(package="keras_cheats")
class SelfOrganizingMap(keras.layers.Layer):
    """A rows x cols Kohonen map of (non-trainable) prototypes (7.9).

    Called on inputs x of shape (batch, D), returns a dict:
        "bmu": (batch,) int32, the BMU index c(x) = row * cols + col;
        "coordinates": (batch, 2) int32, its (row, col);
        "distance": (batch,) float, ||x - w_c(x)||.

    The prototypes (K, D), K = rows * cols, are not trainable: they are
    moved by `som_update`, not by gradients (see experiments.som_task).

    Args:
        rows: grid rows, an int >= 1.
        cols: grid columns, an int >= 1.
        prototype_initializer: initializer of the prototypes (default
            uniform in [0, 1), the range of pixel intensities).
    """

    def __init__(
        self, rows, cols, prototype_initializer="random_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        self.rows = checks.positive_int("rows", rows)
        self.cols = checks.positive_int("cols", cols)
        if rows * cols < 2:
            raise ValueError(
                f"a map needs at least 2 units; received rows={rows!r}, "
                f"cols={cols!r}."
            )
        self.prototype_initializer = keras.initializers.get(
            prototype_initializer
        )
        self.positions = grid_positions(rows, cols)  # (K, 2), a constant

    @property
    def units(self):
        return self.rows * self.cols

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "`inputs` must be vectors of shape (batch, D) with a known "
                f"D; received input shape {tuple(input_shape)}."
            )
        self.prototypes = self.add_weight(
            name="prototypes",
            shape=(self.units, input_shape[-1]),
            initializer=self.prototype_initializer,
            trainable=False,
        )  # w_j, (K, D)

    def call(self, inputs):
        d2 = squared_distances(inputs, self.prototypes)  # (B, K)
        bmu = ops.cast(ops.argmin(d2, axis=-1), "int32")
        distance = ops.sqrt(ops.min(d2, axis=-1))
        coordinates = ops.stack([bmu // self.cols, bmu % self.cols], axis=-1)
        return {"bmu": bmu, "coordinates": coordinates, "distance": distance}

    def best_matching_units(self, x, k=2):
        """The k nearest units of each input: (B, k) int32 indices, nearest
        first, and their squared distances (B, k)."""
        d2 = squared_distances(x, self.prototypes)
        neg, idx = ops.top_k(-d2, k=k)
        return ops.cast(idx, "int32"), -neg

    def errors(self, x):
        """Per-example quantization and topographic errors, each (B,):
        ||x - w_c(x)|| and 1 if the two nearest units are not grid
        neighbours, else 0."""
        idx, d2 = self.best_matching_units(x, k=2)
        quantization = ops.sqrt(d2[:, 0])
        adjacent = are_grid_neighbours(idx[:, 0], idx[:, 1], self.cols)
        topographic = 1.0 - ops.cast(adjacent, quantization.dtype)
        return quantization, topographic

    def get_config(self):
        return {
            **super().get_config(),
            "rows": self.rows,
            "cols": self.cols,
            "prototype_initializer": keras.initializers.serialize(
                self.prototype_initializer
            ),
        }
