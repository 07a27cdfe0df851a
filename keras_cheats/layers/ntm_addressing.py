"""Neural Turing machine addressing and memory access, cheat sheet 7.7.2.

Graves et al. 2014, "Neural Turing Machines", section 3. A head turns
its parameters (key k, strength beta, gate g, shift s, sharpening gamma)
and its previous weighting w_{t-1} over the N memory rows into w_t:

    content    w^c_i = softmax_i(beta K(k, M_i)),
               K(u, v) = u.v / (||u|| ||v|| + eps)          (cosine)
    gate       w^g = g w^c + (1 - g) w_{t-1}
    shift      w~_i = sum_j w^g_j s_{(i - j) mod N}       (circular)
    sharpen    w_i = w~_i^gamma / sum_j w~_j^gamma,  gamma >= 1

A read head returns r = sum_i w_i M_i; a write head erases, then adds:

    M_t = M_{t-1} * (1 - w e^T) + w a^T,   e in [0, 1]^M, a in R^M.

Shapes: memory (B, N, M); keys (B, M); weightings (B, N); beta, g,
gamma (B, 1); shifts (B, 2K + 1) for the offsets -K..K.
"""

from keras import ops

EPS = 1e-8


def cosine_similarity(memory, key):
    """K(k, M_i) for every row: (B, N, M), (B, M) -> (B, N)."""
    dot = ops.einsum("bnm,bm->bn", memory, key)
    norms = ops.norm(memory, axis=-1) * ops.norm(key, axis=-1, keepdims=True)
    return dot / (norms + EPS)


def content_weights(memory, key, beta):
    """w^c = softmax(beta K(k, M)): (B, N, M), (B, M), (B, 1) -> (B, N)."""
    return ops.softmax(beta * cosine_similarity(memory, key), axis=-1)


def interpolate(content, previous, gate):
    """w^g = g w^c + (1 - g) w_{t-1}; gate (B, 1) in [0, 1]."""
    return gate * content + (1.0 - gate) * previous


def circular_shift(weights, shifts):
    """w~_i = sum_k s_k w_{(i - k) mod N} over offsets k = -K..K.

    Args:
        weights: (B, N) weighting.
        shifts: (B, 2K + 1) distribution over the offsets -K..K (odd size).

    Returns:
        (B, N): the weighting moved by the offsets, mass preserved.
    """
    width = shifts.shape[-1]
    if width is None or width % 2 == 0:
        raise ValueError(
            f"shifts of shape {shifts.shape}; expected an odd last size "
            "(offsets -K..K)"
        )
    half = width // 2
    # ops.roll(w, k)[i] = w[i - k]: the row k steps back, wrapping around.
    moved = [ops.roll(weights, k, axis=-1) for k in range(-half, half + 1)]
    return ops.einsum("bkn,bk->bn", ops.stack(moved, axis=1), shifts)


def sharpen(weights, gamma):
    """w_i = w~_i^gamma / sum_j w~_j^gamma; gamma (B, 1) >= 1.

    EPS is added before the power so that a zero entry has a finite
    gradient with respect to gamma (d/dgamma 0^gamma = 0 * log 0)."""
    powered = ops.power(weights + EPS, gamma)
    return powered / ops.sum(powered, axis=-1, keepdims=True)


def address(memory, previous, key, beta, gate, shifts, gamma):
    """The whole pipeline: content, gate, shift, sharpen -> w_t (B, N)."""
    w = content_weights(memory, key, beta)
    w = interpolate(w, previous, gate)
    w = circular_shift(w, shifts)
    return sharpen(w, gamma)


def read(memory, weights):
    """r = sum_i w_i M_i: (B, N, M), (B, N) -> (B, M)."""
    return ops.einsum("bn,bnm->bm", weights, memory)


def write(memory, weights, erase, add):
    """M_t = M_{t-1} * (1 - w e^T) + w a^T.

    Args:
        memory: (B, N, M).
        weights: (B, N) write weighting.
        erase: (B, M) in [0, 1].
        add: (B, M).

    Returns:
        (B, N, M): rows with w_i = 0 are unchanged.
    """
    w = ops.expand_dims(weights, -1)  # (B, N, 1)
    erased = memory * (1.0 - w * ops.expand_dims(erase, 1))
    return erased + w * ops.expand_dims(add, 1)
