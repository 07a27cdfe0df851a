"""Gradient attribution maps of a Keras classifier (Cheat sheet 9).

Each function takes a model mapping (B, *S) inputs to (B, K) scores (class
probabilities or logits), inputs x of shape (B, *S) and a target class
per input, and returns attributions of the same shape (B, *S): how much
each input feature counts for the target score f_c(x).

- `saliency`: |d f_c / d x| (Simonyan et al. 2014).
- `integrated_gradients`: (x - x') * int_0^1 d f_c(x' + a (x - x')) / d x
  da, the integral by the trapezoid (or a Riemann) rule over m steps
  (Sundararajan et al. 2017); the attributions sum to f_c(x) - f_c(x')
  up to the quadrature error ("completeness").
- `smoothgrad`: the mean of the saliency map over n noisy copies
  x + N(0, sigma^2) (Smilkov et al. 2017).
"""

import numpy as np
import tensorflow as tf

from keras_cheats import checks

RULES = ("trapezoid", "left", "right", "midpoint")


def _targets(target, batch):
    """`target` (an int or (B,) ints) as a (B,) int32 tensor."""
    target = np.asarray(target)
    if target.ndim == 0:
        target = np.full((batch,), int(target))
    if target.shape != (batch,) or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(
            f"`target` must be an int or {batch} ints (one per input); "
            f"received target={target!r}."
        )
    return tf.constant(target, tf.int32)


def class_score(model, x, target):
    """f_c(x): the target column of `model(x)`, shape (B,)."""
    x = tf.convert_to_tensor(x, tf.float32)
    scores = model(x, training=False)  # (B, K)
    return tf.gather(scores, _targets(target, x.shape[0]), batch_dims=1)


def gradient(model, x, target):
    """d f_c(x) / d x, shape (B, *S) (each row of the batch on its own)."""
    x = tf.convert_to_tensor(x, tf.float32)
    c = _targets(target, x.shape[0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.gather(model(x, training=False), c, batch_dims=1)
    return tape.gradient(score, x)


def saliency(model, x, target, absolute=True):
    """Saliency map |d f_c(x) / d x| (Cheat sheet 9).

    Args:
        model: Keras model (B, *S) -> (B, K).
        x: (B, *S) inputs.
        target: class index, an int or (B,) ints.
        absolute: return |gradient| (True) or the signed gradient.

    Returns:
        (B, *S) float32 tensor.

    Example: a linear model f(x) = x W has saliency |W[:, c]|.
    """
    g = gradient(model, x, target)
    return tf.abs(g) if absolute else g


def _chunks(alphas, weights, batch, chunk_size):
    """(alphas, weights) in pieces of about chunk_size / batch points."""
    per = max(1, chunk_size // batch)
    for i in range(0, len(alphas), per):
        yield alphas[i : i + per], weights[i : i + per]


def path_weights(steps, rule="trapezoid"):
    """Points a_k in [0, 1] and weights w_k with sum_k w_k g(a_k) ~
    int_0^1 g(a) da over `steps` intervals: trapezoid (steps + 1 points,
    halved ends), left, right or midpoint Riemann sums (steps points)."""
    checks.positive_int("steps", steps)
    checks.choice("rule", rule, RULES)
    k = np.arange(steps, dtype=np.float64)
    if rule == "trapezoid":
        alphas = np.arange(steps + 1) / steps
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2
        return alphas, weights
    offset = {"left": 0.0, "right": 1.0, "midpoint": 0.5}[rule]
    return (k + offset) / steps, np.full(steps, 1.0 / steps)


def integrated_gradients(
    model, x, target, baseline=None, steps=64, rule="trapezoid",
    chunk_size=1024,
):  # fmt: skip
    """Integrated gradients along the straight path from a baseline
    (Cheat sheet 9; Sundararajan et al. 2017):

        IG_i(x) = (x_i - x'_i) sum_k w_k d f_c(x' + a_k (x - x')) / d x_i,

    with sum_k w_k g(a_k) the quadrature of int_0^1 g(a) da. Completeness:
    sum_i IG_i(x) = f_c(x) - f_c(x') + O(1 / steps^2) (trapezoid).

    Args:
        model: Keras model (B, *S) -> (B, K).
        x: (B, *S) inputs.
        target: class index, an int or (B,) ints.
        baseline: x', broadcastable to x (default: zeros, a black image).
        steps: number of intervals m of the quadrature.
        rule: "trapezoid" (default), "left", "right" or "midpoint".
        chunk_size: at most this many path points (over the batch) go
            through the model at once.

    Returns:
        (B, *S) float32 tensor.

    Example: for f(x) = sum(x^2) with x = (1, 2) and a zero baseline,
    IG = (1, 4), which sums to f(x) - f(0) = 5.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    baseline = tf.zeros_like(x) if baseline is None else baseline
    baseline = tf.broadcast_to(tf.cast(baseline, tf.float32), x.shape)
    alphas, weights = path_weights(steps, rule)
    target = _targets(target, x.shape[0])
    total = tf.zeros_like(x)
    for a, w in _chunks(alphas, weights, x.shape[0], chunk_size):
        a = tf.reshape(tf.constant(a, tf.float32), (-1,) + (1,) * x.ndim)
        points = baseline + a * (x - baseline)  # (A, B, *S): path points
        g = gradient(
            model,
            tf.reshape(points, (-1, *x.shape[1:])),
            tf.tile(target, [len(w)]),
        )
        g = tf.reshape(g, points.shape)
        w = tf.reshape(tf.constant(w, tf.float32), a.shape)
        total += tf.reduce_sum(w * g, axis=0)
    return (x - baseline) * total


def smoothgrad(
    model, x, target, sigma=0.15, samples=32, seed=0, absolute=True,
    chunk_size=1024,
):  # fmt: skip
    """SmoothGrad (Cheat sheet 9; Smilkov et al. 2017): the saliency map
    averaged over noisy copies of the input,

        M(x) = (1 / n) sum_j saliency(x + e_j),  e_j ~ N(0, sigma^2 I).

    Args:
        model: Keras model (B, *S) -> (B, K).
        x: (B, *S) inputs.
        target: class index, an int or (B,) ints.
        sigma: noise standard deviation, in input units (inputs in [0, 1]:
            0.15 is 15% of the range); 0 gives the plain saliency map.
        samples: number of noisy copies n.
        seed: seeds the noise.
        absolute: average |gradient| (True) or the signed gradient.
        chunk_size: at most this many noisy inputs go through the model
            at once.

    Returns:
        (B, *S) float32 tensor.
    """
    checks.interval("sigma", sigma, 0.0)
    checks.positive_int("samples", samples)
    x = tf.convert_to_tensor(x, tf.float32)
    rng = np.random.default_rng(seed)
    target = _targets(target, x.shape[0])
    total = tf.zeros_like(x)
    ones = np.ones(samples)
    for w, _ in _chunks(ones, ones, x.shape[0], chunk_size):
        noise = rng.normal(0.0, sigma, (len(w), *x.shape)).astype(np.float32)
        noisy = tf.reshape(x[None] + noise, (-1, *x.shape[1:]))
        g = saliency(model, noisy, tf.tile(target, [len(w)]), absolute)
        total += tf.reduce_sum(tf.reshape(g, noise.shape), axis=0)
    return total / samples
