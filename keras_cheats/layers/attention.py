"""Scaled dot-product attention (Cheat sheet 7.5.1; Vaswani et al. 2017).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Each of the T queries (rows of Q) is compared with each of the S keys
(rows of K) by a dot product; dividing by sqrt(d_k) keeps the logits of
unit variance when the components of q and k are; the softmax over the
S keys turns each row into weights that sum to 1, and the output row is
the weighted mean of the value rows. `keras.layers.MultiHeadAttention`
computes exactly this per head, on learned projections of its inputs
(the test checks it to 1e-6).
"""

import math

import keras
from keras import ops

# What Keras' masked softmax puts in a masked logit (float32 and bfloat16;
# keras.layers.Softmax uses -3e4 for float16).
_MASKED = -1e9


def scaled_dot_product_attention(query, key, value, mask=None):
    """softmax(Q K^T / sqrt(d_k)) V, written out (Cheat sheet 7.5.1).

        scores  = Q K^T / sqrt(d_k)                       (..., T, S)
        weights = softmax(scores) over the S keys, masked keys excluded
        output  = weights V                               (..., T, d_v)

    Args:
        query: Q, tensor (..., T, d_k): T queries.
        key: K, tensor (..., S, d_k): S keys.
        value: V, tensor (..., S, d_v): one value per key.
        mask: None, or a tensor broadcastable to (..., T, S), boolean or
            0/1 as in Keras (`attention_mask` of MultiHeadAttention): True
            (or > 0.5) lets query t attend to key s, False stops it. A
            masked logit becomes -1e9 before the softmax and its weight is
            set to 0 after it, so a query whose keys are all masked gets
            weights 0 and output 0 (as `keras.layers.Softmax`).

    Returns:
        (output, weights): output (..., T, d_v), weights (..., T, S), each
        row of weights summing to 1 (0 for a fully masked row).

    Example: one query q = [1, 0], keys [1, 0] and [0, 1], values 1 and 3:
    scores [1, 0] / sqrt(2), weights e^0.7071 / (e^0.7071 + 1) = 0.6698
    and 0.3302, output 0.6698 * 1 + 0.3302 * 3 = 1.6604.
    """
    d_k = query.shape[-1]
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))
    scores = scores * ops.cast(1.0 / math.sqrt(d_k), scores.dtype)
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
        if keras.backend.standardize_dtype(mask.dtype) != "bool":
            mask = ops.greater(mask, ops.cast(0.5, mask.dtype))
        scores = ops.where(mask, scores, ops.cast(_MASKED, scores.dtype))
    weights = ops.softmax(scores, axis=-1)
    if mask is not None:
        weights = ops.where(mask, weights, ops.zeros_like(weights))
    return ops.matmul(weights, value), weights
