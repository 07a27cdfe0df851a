"""ODE solvers for neural ODEs (Cheat sheet 7.7.3; Chen et al. 2018).

A neural ODE replaces a stack of residual blocks h_{k+1} = h_k + f(h_k)
by the solution of dh/dt = f(h, t; theta) from t0 to t1:

    h(t1) = h(t0) + integral_{t0}^{t1} f(h(t), t; theta) dt.

`f(h, t)` is any callable of a tensor h and a scalar time t returning a
tensor of h's shape. Every solver returns (h(t1), nfe): the state at t1
and the number of function evaluations (NFE) it spent.

- `euler_step`: h + dt f(h, t), order 1; one step from t0 = 0 to t1 = 1
  is exactly the residual block h + f(h, 0).
- `rk4_step` / `odeint_rk4`: classical Runge-Kutta, order 4, 4 NFE/step.
- `odeint_dopri5`: Dormand-Prince 5(4), an embedded pair whose difference
  estimates the local error; the step size adapts to keep it within
  atol + rtol |h| (6 NFE per attempted step, the 7th stage reused as the
  next step's first: "first same as last"), inside a `tf.while_loop`.

Gradients flow by backpropagation through the solver's operations (the
"discretize then optimize" route), not by the adjoint method of Chen et
al.: memory grows with the number of steps, and the backward pass costs
no extra function evaluations of its own.
"""

import tensorflow as tf


def euler_step(f, t, h, dt):
    """One explicit Euler step: h + dt f(h, t) (order 1, 1 NFE)."""
    return h + dt * f(h, t)


def rk4_step(f, t, h, dt):
    """One classical Runge-Kutta step (order 4, 4 NFE).

        k1 = f(h, t)                 k2 = f(h + dt/2 k1, t + dt/2)
        k3 = f(h + dt/2 k2, t + dt/2)  k4 = f(h + dt k3, t + dt)
        h(t + dt) = h + dt/6 (k1 + 2 k2 + 2 k3 + k4) + O(dt^5)

    Example: f(h, t) = -h, h = 1, dt = 1 gives 1 - 1 + 1/2 - 1/6 + 1/24
    = 0.375 (the Taylor series of e^-1 = 0.3679 to dt^4).
    """
    k1 = f(h, t)
    k2 = f(h + dt / 2 * k1, t + dt / 2)
    k3 = f(h + dt / 2 * k2, t + dt / 2)
    k4 = f(h + dt * k3, t + dt)
    return h + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


STEPS = {"euler": (euler_step, 1), "rk4": (rk4_step, 4)}  # (step, NFE)


def odeint_fixed(f, h0, t0, t1, steps, method="rk4", return_states=False):
    """Integrates dh/dt = f(h, t) from t0 to t1 in `steps` equal steps.

    Args:
        f: callable (h, t) -> dh/dt of h's shape.
        h0: tensor, the state at t0.
        t0, t1: floats, the time interval.
        steps: int >= 1, the number of steps of size (t1 - t0) / steps.
        method: "euler" or "rk4".
        return_states: also return the list of steps + 1 states, from
            h(t0) to h(t1).

    Returns:
        (h(t1), nfe) with nfe = steps * (1 for Euler, 4 for RK4), or
        (h(t1), nfe, states) with `return_states`.
    """
    if method not in STEPS:
        raise ValueError(f"method={method!r}; expected one of euler, rk4")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps={steps!r}; expected an integer >= 1")
    step, cost = STEPS[method]
    dt = (t1 - t0) / steps
    h, states = h0, [h0]
    for i in range(steps):
        h = step(f, t0 + i * dt, h, dt)
        states.append(h)
    if return_states:
        return h, steps * cost, states
    return h, steps * cost


def odeint_rk4(f, h0, t0, t1, steps):
    """`odeint_fixed` with RK4: (h(t1), nfe = 4 steps); error O(dt^4)."""
    return odeint_fixed(f, h0, t0, t1, steps, "rk4")


# Dormand-Prince 5(4) tableau: nodes C, stages A, 5th-order weights B5
# (= the last row of A: the 7th stage is f at the new state), and
# E = B5 - B4, the weights of the error estimate.
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
B4 = (
    5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200,
    187 / 2100, 1 / 40,
)  # fmt: skip
E = tuple(b5 - b4 for b5, b4 in zip(B5, B4, strict=True))


def _combine(h, dt, weights, ks):
    """h + dt sum_i w_i k_i over the nonzero weights."""
    return h + dt * tf.add_n([w * k for w, k in zip(weights, ks) if w != 0])


def dopri5_step(f, t, h, dt, k1):
    """One Dormand-Prince attempt from (t, h) with f(h, t) = k1 given.

    Returns (h5, err, k7): the 5th-order state at t + dt, the error
    estimate h5 - h4 = dt sum_i (B5_i - B4_i) k_i, and k7 = f(h5, t + dt)
    (the next step's k1 if this one is accepted). 6 NFE.
    """
    ks = [k1]
    for c, row in zip(C[1:], A[1:], strict=True):
        ks.append(f(_combine(h, dt, row, ks), t + c * dt))
    h5 = _combine(h, dt, B5[:6], ks)
    ks.append(f(h5, t + dt))
    return h5, dt * tf.add_n([e * k for e, k in zip(E, ks) if e != 0]), ks[6]


def odeint_dopri5(
    f, h0, t0, t1, rtol=1e-3, atol=1e-3, max_steps=64, first_step=None
):
    """Integrates dh/dt = f(h, t) from t0 to t1 with adaptive steps.

    A step of size dt is accepted when the error ratio

        r = sqrt(mean((err / (atol + rtol max(|h|, |h5|)))^2)) <= 1

    (the mean over every element of the batch: one step size for the
    whole batch, as torchdiffeq does). Either way the next size is
    dt * clip(0.9 r^(-1/5), 0.2, 10), not differentiated. The last of the
    `max_steps` attempts goes to t1 whatever its error (a cap on the cost
    of one forward pass).

    Args:
        f: callable (h, t) -> dh/dt of h's shape.
        h0: float tensor, the state at t0 (its dtype is the solver's).
        t0, t1: floats, t1 > t0.
        rtol, atol: relative and absolute error tolerances.
        max_steps: int >= 1, the most step attempts.
        first_step: the first step size (default t1 - t0).

    Returns:
        (h(t1), nfe): nfe = 1 + 6 attempts (a scalar int32 tensor).
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int):
        raise ValueError(f"max_steps={max_steps!r}; expected an integer >= 1")
    if max_steps < 1:
        raise ValueError(f"max_steps={max_steps!r}; expected an integer >= 1")
    if not t1 > t0:
        raise ValueError(f"t1={t1!r}; expected a time > t0={t0!r}")
    h0 = tf.convert_to_tensor(h0)
    if not h0.dtype.is_floating:
        h0 = tf.cast(h0, tf.float32)
    t0, t1 = tf.constant(t0, h0.dtype), tf.constant(t1, h0.dtype)
    dt0 = t1 - t0 if first_step is None else tf.constant(first_step, h0.dtype)

    def body(t, h, k1, dt, nfe, attempts):
        last = attempts + 1 >= max_steps
        dt = tf.where(last, t1 - t, tf.minimum(dt, t1 - t))
        h5, err, k7 = dopri5_step(f, t, h, dt, k1)
        scale = atol + rtol * tf.maximum(tf.abs(h), tf.abs(h5))
        ratio = tf.stop_gradient(tf.sqrt(tf.reduce_mean((err / scale) ** 2)))
        accept = tf.logical_or(ratio <= 1.0, last)
        factor = tf.clip_by_value(
            0.9 * tf.math.pow(tf.maximum(ratio, 1e-10), -0.2), 0.2, 10.0
        )
        t_next = tf.where(accept, t + dt, t)
        h_next = tf.where(accept, h5, h)
        k_next = tf.where(accept, k7, k1)
        dt_next = tf.stop_gradient(dt * factor)
        return t_next, h_next, k_next, dt_next, nfe + 6, attempts + 1

    def cond(t, h, k1, dt, nfe, attempts):
        return t1 - t > 1e-6 * (t1 - t0)  # float round-off at the end

    k1 = f(h0, t0)
    state = (t0, h0, k1, dt0, tf.constant(1), tf.constant(0))
    _, h, _, _, nfe, _ = tf.while_loop(
        cond, body, state, maximum_iterations=max_steps
    )
    return h, nfe
