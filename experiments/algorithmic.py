"""The copy task of Graves et al. 2014 (cheat sheet 7.7.2), generated here.

A sequence of L random binary vectors of `bits` bits, then a delimiter
(its own input channel), then L blank steps during which the model must
write the sequence back:

    step      0 .. L-1          L            L+1 .. 2L        2L+1 .. T-1
    input     [v_t, 0]          [0, 1]       [0, 0]           [0, 0] (pad)
    target    -                 -            v_{t-L-1}        -
    mask      0                 0            1                0

Inputs are (n, T, bits + 1); targets are packed as (n, T, bits + 1): the
bits to reproduce, then the mask as a last channel, so that a per-example
loss `masked_bit_loss(y, logits)` sees both through `loops.supervised`.
Padding after step 2L is masked and, the models being causal, changes
nothing before it.
"""

import numpy as np
import tensorflow as tf


def copy_task(num, min_length, max_length, bits=8, seed=0, steps=None):
    """`num` copy-task sequences of lengths uniform in [min, max].

    Args:
        num: number of sequences.
        min_length, max_length: bounds on L (inclusive), 1 <= min <= max.
        bits: size of each vector.
        seed: seeds the lengths and the bits (NumPy's default_rng).
        steps: T, the padded length (>= 2 max_length + 1; default that).

    Returns:
        (x, y, lengths): x (num, T, bits + 1) float32, y (num, T, bits + 1)
        float32 (bits, then the mask), lengths (num,) int.
    """
    if not 1 <= min_length <= max_length:
        raise ValueError(
            f"min_length={min_length!r}, max_length={max_length!r}; "
            "expected 1 <= min_length <= max_length"
        )
    steps = 2 * max_length + 1 if steps is None else steps
    if steps < 2 * max_length + 1:
        raise ValueError(
            f"steps={steps!r}; expected >= 2 * max_length + 1 = "
            f"{2 * max_length + 1}"
        )
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=num)
    vectors = rng.integers(0, 2, size=(num, max_length, bits))
    x = np.zeros((num, steps, bits + 1), np.float32)
    y = np.zeros((num, steps, bits + 1), np.float32)
    for i, length in enumerate(lengths):
        x[i, :length, :bits] = vectors[i, :length]
        x[i, length, bits] = 1.0  # the delimiter
        y[i, length + 1 : 2 * length + 1, :bits] = vectors[i, :length]
        y[i, length + 1 : 2 * length + 1, bits] = 1.0  # the mask
    return x, y, lengths


def masked_bit_loss(y_packed, logits):
    """Per-bit sigmoid cross-entropy, averaged over the output steps.

        loss_n = sum_{t,k} m_t BCE(y_tk, sigmoid(z_tk)) / (K sum_t m_t)

    with m_t the mask (the last channel of `y_packed`) and K the bits.

    Args:
        y_packed: (B, T, K + 1): targets, then the mask.
        logits: (B, T, K).

    Returns:
        (B,) float32: each sequence's mean cross-entropy per output bit.
    """
    y_packed = tf.cast(y_packed, tf.float32)
    logits = tf.cast(logits, tf.float32)
    targets, mask = y_packed[..., :-1], y_packed[..., -1]
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    per_step = tf.reduce_sum(bce, axis=-1) * mask  # (B, T)
    bits = tf.cast(tf.shape(targets)[-1], tf.float32)
    count = tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0) * bits
    return tf.reduce_sum(per_step, axis=-1) / count


def bit_scores(y_packed, logits):
    """Accuracy of the output bits (logit > 0 means 1), in NumPy.

    Returns:
        {"bit_accuracy": correct / all output bits, "exact_match": share
        of sequences with every output bit right, "bit_errors_per_sequence":
        mean number of wrong bits per sequence}.
    """
    y_packed, logits = np.asarray(y_packed), np.asarray(logits)
    targets, mask = y_packed[..., :-1] > 0.5, y_packed[..., -1] > 0.5
    wrong = ((logits > 0) != targets) & mask[..., None]  # (B, T, K)
    errors = wrong.sum(axis=(1, 2))
    total = mask.sum() * targets.shape[-1]
    return {
        "bit_accuracy": float(1.0 - errors.sum() / total),
        "exact_match": float(np.mean(errors == 0)),
        "bit_errors_per_sequence": float(errors.mean()),
    }
