"""ODE solvers (Cheat sheet 7.7.3): exact solutions, orders, tolerance."""

import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers import ode_solvers


def decay(h, t):
    return -h  # h(t) = h0 e^-t


def oscillator(h, t):
    # x'' = -x as [x, v]' = [v, -x]: x(t) = x0 cos t + v0 sin t.
    return tf.stack([h[..., 1], -h[..., 0]], axis=-1)


def oscillator_exact(h0, t):
    x0, v0 = h0[..., 0], h0[..., 1]
    return np.stack(
        [x0 * np.cos(t) + v0 * np.sin(t), -x0 * np.sin(t) + v0 * np.cos(t)],
        axis=-1,
    )


def test_rk4_step_hand_computed():
    # One step dt = 1 on h' = -h from 1: 1 - 1 + 1/2 - 1/6 + 1/24 = 0.375.
    h = ode_solvers.rk4_step(decay, 0.0, tf.constant(1.0, tf.float64), 1.0)
    assert float(h) == pytest.approx(0.375, abs=1e-12)
    euler = ode_solvers.euler_step(decay, 0.0, tf.constant(2.0), 0.25)
    assert float(euler) == pytest.approx(1.5)


def _errors(f, h0, exact, t1, method, steps_list):
    errors = []
    for steps in steps_list:
        h, nfe = ode_solvers.odeint_fixed(f, h0, 0.0, t1, steps, method)
        assert nfe == steps * {"euler": 1, "rk4": 4}[method]
        errors.append(np.max(np.abs(h.numpy() - exact)))
    return np.array(errors)


@pytest.mark.parametrize("seed", [0, 1])
def test_rk4_error_falls_as_dt_to_the_fourth(seed):
    rng = np.random.default_rng(seed)
    h0 = rng.normal(size=(3,))
    t1 = rng.uniform(1.0, 3.0)
    steps = [16, 32, 64, 128]
    errors = _errors(decay, tf.constant(h0), h0 * np.exp(-t1), t1, "rk4", steps)
    orders = np.log2(errors[:-1] / errors[1:])  # halving dt: error / 2^p
    np.testing.assert_allclose(orders, 4.0, atol=0.3)
    assert errors[-1] < 1e-6 * np.max(np.abs(h0))


def test_rk4_solves_the_harmonic_oscillator_to_fourth_order():
    h0 = np.random.default_rng(0).normal(size=(5, 2))
    t1 = 2 * np.pi  # one period: back to the start
    exact = oscillator_exact(h0, t1)
    np.testing.assert_allclose(exact, h0, atol=1e-12)
    errors = _errors(
        oscillator, tf.constant(h0), exact, t1, "rk4", [16, 32, 64]
    )
    orders = np.log2(errors[:-1] / errors[1:])
    np.testing.assert_allclose(orders, 4.0, atol=0.3)


def test_euler_is_first_order():
    h0 = tf.constant([1.0, -2.0], tf.float64)
    errors = _errors(decay, h0, h0.numpy() * np.exp(-1), 1.0, "euler",
                     [64, 128, 256])  # fmt: skip
    orders = np.log2(errors[:-1] / errors[1:])
    np.testing.assert_allclose(orders, 1.0, atol=0.1)


def test_fixed_solver_states_and_arguments():
    h, nfe, states = ode_solvers.odeint_fixed(
        decay, tf.constant(1.0, tf.float64), 0.0, 1.0, 4, return_states=True
    )
    assert nfe == 16 and len(states) == 5 and states[-1] is h
    # On h' = -h each RK4 step multiplies by the Taylor polynomial of
    # e^-dt to degree 4: r = 1 - dt + dt^2/2 - dt^3/6 + dt^4/24.
    dt = 0.25
    r = 1 - dt + dt**2 / 2 - dt**3 / 6 + dt**4 / 24
    np.testing.assert_allclose([float(s) for s in states], r ** np.arange(5),
                               rtol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="steps=0; expected an integer"):
        ode_solvers.odeint_fixed(decay, tf.constant(1.0), 0.0, 1.0, 0)
    with pytest.raises(ValueError, match="method='midpoint'"):
        ode_solvers.odeint_fixed(decay, tf.constant(1.0), 0.0, 1.0, 2,
                                 "midpoint")  # fmt: skip


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_dopri5_stays_within_tolerance(tol):
    h0 = np.random.default_rng(2).normal(size=(4, 2))
    t1 = 2 * np.pi
    h, nfe = ode_solvers.odeint_dopri5(
        oscillator, tf.constant(h0), 0.0, t1, rtol=tol, atol=tol
    )
    error = np.max(np.abs(h.numpy() - oscillator_exact(h0, t1)))
    # Local errors within tol per step; a few dozen steps add up.
    assert error < 20 * tol
    assert (int(nfe) - 1) % 6 == 0 and int(nfe) > 7  # 1 + 6 per attempt


def test_dopri5_spends_more_evaluations_on_tighter_tolerances():
    h0 = tf.constant([1.0, 0.5], tf.float64)
    nfes, errors = [], []
    for tol in (1e-2, 1e-5, 1e-8):
        h, nfe = ode_solvers.odeint_dopri5(decay, h0, 0.0, 3.0, tol, tol)
        nfes.append(int(nfe))
        errors.append(np.max(np.abs(h.numpy() - h0.numpy() * np.exp(-3))))
    assert nfes[0] < nfes[1] < nfes[2]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-7


def test_dopri5_reaches_t1_within_max_steps():
    # Tolerance far too tight for 3 attempts: the last one goes to t1.
    h, nfe = ode_solvers.odeint_dopri5(
        decay, tf.constant([1.0], tf.float64), 0.0, 1.0, 1e-14, 1e-14,
        max_steps=3,
    )  # fmt: skip
    assert int(nfe) == 1 + 6 * 3
    assert abs(float(h[0]) - np.exp(-1)) < 1e-2
    with pytest.raises(ValueError, match="max_steps=0"):
        ode_solvers.odeint_dopri5(decay, tf.constant(1.0), 0.0, 1.0,
                                  max_steps=0)  # fmt: skip
    with pytest.raises(ValueError, match="t1=0.0; expected a time > t0"):
        ode_solvers.odeint_dopri5(decay, tf.constant(1.0), 0.0, 0.0)


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_gradient_through_the_solver_matches_the_exact_one(method):
    # h' = a h: h(1) = h0 e^a, so dh(1)/da = h0 e^a.
    a = tf.Variable(-0.7, dtype=tf.float64)
    h0 = tf.constant([2.0], tf.float64)
    with tf.GradientTape() as tape:
        if method == "rk4":
            h, _ = ode_solvers.odeint_rk4(lambda h, t: a * h, h0, 0.0, 1.0, 8)
        else:
            h, _ = ode_solvers.odeint_dopri5(
                lambda h, t: a * h, h0, 0.0, 1.0, 1e-8, 1e-8
            )
    grad = tape.gradient(h, a)
    assert float(grad) == pytest.approx(2.0 * np.exp(-0.7), rel=1e-5)
