"""Routing-by-agreement between two capsule layers (Cheat sheet 7.3.2).

Sabour, Frosst and Hinton 2017, Procedure 1. With prediction vectors
u_hat_{j|i} = W_ij u_i of every lower capsule i for every upper capsule j:

    b_ij = 0
    repeat r times:
        c_ij = exp(b_ij) / sum_k exp(b_ik)      softmax over upper capsules j
        s_j  = sum_i c_ij u_hat_{j|i}
        v_j  = squash(s_j)
        b_ij = b_ij + u_hat_{j|i} . v_j         agreement (dot product)

Everything is batched with einsum over all (i, j) pairs; the only Python loop
runs over the (few, static) routing iterations and is unrolled in the graph.

Gradients. The paper's procedure lets gradients flow through every
iteration. The widely used CapsNet-Keras port stops them: it routes with
stop_gradient(u_hat), and only the last s_j = sum_i c_ij u_hat_{j|i} sees
the real u_hat, so the coupling coefficients c_ij are constants in the
backward pass. `stop_gradient=True` (the default here) does the same; it is
cheaper (no backward pass through r - 1 iterations) and trains the same in
practice. `stop_gradient=False` is the paper's procedure. The forward values
are identical either way.
"""

from keras import ops

from keras_cheats.layers.squash import squash


def routing_by_agreement(u_hat, iterations=3, stop_gradient=True):
    """Dynamic routing: output capsules from prediction vectors.

    Cheat sheet 7.3.2: "capsules compare agreement (dot product
    similarity); high-agreement capsules strengthen their connection;
    squash ensures the output is within unit length":
        c_ij = softmax_j(b_ij), s_j = sum_i c_ij u_hat_{j|i},
        v_j = squash(s_j), b_ij <- b_ij + u_hat_{j|i} . v_j

    Args:
        u_hat: prediction vectors, shape (B, N_in, N_out, D_out).
        iterations: number of routing iterations r >= 1 (paper: 3).
        stop_gradient: when True, the coupling coefficients get no gradient
            (CapsNet-Keras); when False, gradients flow through every
            iteration (the paper).

    Returns:
        v: output capsules, shape (B, N_out, D_out).
    """
    if (
        not isinstance(iterations, int)
        or isinstance(iterations, bool)
        or iterations < 1
    ):
        raise ValueError(
            "`iterations` must be an int >= 1; "
            f"received iterations={iterations!r}."
        )
    # Routing path: u_hat with or without a gradient.
    u_route = ops.stop_gradient(u_hat) if stop_gradient else u_hat
    # b: routing logits (B, N_in, N_out), zero at the start.
    b = ops.zeros_like(u_hat[..., 0])
    v = None
    for r in range(iterations):
        last = r == iterations - 1
        c = ops.softmax(b, axis=2)  # over the upper capsules j
        # s_j = sum_i c_ij u_hat_{j|i}: (B, N_out, D_out)
        s = ops.einsum("bij,bijd->bjd", c, u_hat if last else u_route)
        v = squash(s)
        if not last:
            # agreement a_ij = u_hat_{j|i} . v_j: (B, N_in, N_out)
            b = b + ops.einsum("bijd,bjd->bij", u_route, v)
    return v
