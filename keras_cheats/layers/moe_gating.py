"""Noisy top-k gating, capacity and load balancing (Cheat sheet 8.2).

The routing half of `keras_cheats.layers.moe.MixtureOfExperts`, as pure
functions of the gate's logits H (T tokens, E experts):

    G = softmax(KeepTopK(H, k))                     `top_k_gates`
    C = ceil(capacity_factor * k * T / E)           `expert_capacity`
    kept: each expert's first C assignments         `keep_within_capacity`
    E * sum_i f_i P_i  (Fedus et al. 2021)          `switch_balance_loss`
    CV(sum_t G_t)^2    (Shazeer et al. 2017)        `importance_loss`
"""

from keras import ops

BALANCE_LOSSES = ("switch", "importance")


def top_k_gates(logits, k):
    """Noisy top-k gating without the noise: softmax over the k largest.

    G = softmax(KeepTopK(H, k)), kept as the k values and their experts.

    Args:
        logits: H, (T, E).
        k: experts per token, 1 <= k <= E.

    Returns:
        (gates (T, k) summing to 1 per token, largest first; indices
        (T, k) int32 of their experts; ties go to the lower index).
    """
    values, indices = ops.top_k(logits, k)
    if k == 1:  # softmax over one value (Keras warns about it)
        return ops.ones_like(values), indices
    return ops.softmax(values, axis=-1), indices


def expert_capacity(num_tokens, k, num_experts, capacity_factor):
    """C = ceil(capacity_factor * k * T / E), a float scalar tensor."""
    t = ops.cast(num_tokens, "float64")
    c = capacity_factor * k * t / num_experts
    return ops.cast(ops.ceil(c - 1e-9), "float32")  # 1e-9: rounding guard


def keep_within_capacity(indices, num_experts, capacity):
    """Which assignments fit: each expert keeps its first `capacity`.

    Order: all first choices (slot 0) in token order, then all second
    choices, and so on (GShard's priority).

    Args:
        indices: (T, k) experts chosen per token.
        num_experts: E.
        capacity: C, a scalar.

    Returns:
        (T, k) float32, 1 where the assignment is kept, 0 where dropped.
    """
    k = ops.shape(indices)[1]
    slot_major = ops.reshape(ops.transpose(indices), (-1,))  # (k*T,)
    mask = ops.one_hot(slot_major, num_experts)  # (k*T, E)
    position = ops.cumsum(mask, axis=0) * mask  # 1-based within expert
    fits = ops.sum(mask * ops.cast(position <= capacity, "float32"), -1)
    return ops.transpose(ops.reshape(fits, (k, -1)))  # (T, k)


def switch_balance_loss(logits, indices, num_experts):
    """E * sum_i f_i P_i (Fedus et al. 2021), without alpha; 1 if uniform.

    Args:
        logits: H, (T, E); P_i = mean_t softmax(H)_ti.
        indices: (T, k) chosen experts; f_i = their share of the k * T.

    Returns:
        scalar float32.
    """
    chosen = ops.one_hot(indices, num_experts)  # (T, k, E)
    f = ops.mean(ops.reshape(chosen, (-1, num_experts)), axis=0)
    p = ops.mean(ops.softmax(logits, axis=-1), axis=0)
    return num_experts * ops.sum(f * p)


def importance_loss(gates, indices, num_experts):
    """CV(Importance)^2 = Var / Mean^2 of Importance_i = sum_t G_ti
    (Shazeer et al. 2017), without the weight; 0 when balanced.

    Args:
        gates, indices: (T, k) from `top_k_gates` (before capacity).

    Returns:
        scalar float32.
    """
    dense = ops.sum(ops.one_hot(indices, num_experts) * gates[..., None], 1)
    importance = ops.sum(dense, axis=0)  # (E,)
    mean = ops.mean(importance)
    return ops.var(importance) / (ops.square(mean) + 1e-10)
