"""ODEFunc and ODEBlock (Cheat sheet 7.7.3): NumPy oracle, the residual
block as one Euler step, NFE, parameters, round trip, a falling loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers.ode_block import ODEBlock, ODEFunc


def np_group_norm(x, gamma, beta, groups, eps=1e-3):
    b, h, w, c = x.shape
    g = x.reshape(b, h, w, groups, c // groups)
    mean = g.mean(axis=(1, 2, 4), keepdims=True)
    var = g.var(axis=(1, 2, 4), keepdims=True)
    return ((g - mean) / np.sqrt(var + eps)).reshape(x.shape) * gamma + beta


def np_conv_same(x, kernel, bias):
    _, h, w, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = sum(
        xp[:, i : i + h, j : j + w] @ kernel[i, j]
        for i in range(3)
        for j in range(3)
    )
    return out + bias


def np_f(func, h, t):
    """f(h, t) = conv2([relu(norm2(conv1([relu(norm1(h)), t]))), t])."""
    plane = np.full((*h.shape[:-1], 1), t, h.dtype)

    def with_t(x):
        return np.concatenate([x, plane], -1) if func.time_channel else x

    def norm(layer, x):
        return np_group_norm(x, *(v.numpy() for v in (layer.gamma, layer.beta)),
                             func.groups)  # fmt: skip

    def conv(layer, x):
        return np_conv_same(x, layer.kernel.numpy(), layer.bias.numpy())

    x = conv(func.conv1, with_t(np.maximum(norm(func.norm1, h), 0)))
    return conv(func.conv2, with_t(np.maximum(norm(func.norm2, x), 0)))


def _block(shape=(2, 5, 5, 4), seed=0, **kwargs):
    block = ODEBlock(groups=2, **kwargs)
    block.build(shape)
    rng = np.random.default_rng(seed)
    for v in block.func.weights:  # beyond the initializer's zeros and ones
        v.assign(rng.normal(scale=0.3, size=v.shape).astype("float32"))
    x = rng.normal(size=shape).astype("float32")
    return block, x


@pytest.mark.parametrize("time_channel", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_func_matches_numpy(time_channel, seed):
    block, x = _block(seed=seed, time_channel=time_channel)
    for t in (0.0, 0.7):
        got = block.f(tf.constant(x), t).numpy()
        want = np_f(block.func, x, t)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_one_euler_step_is_a_residual_block():
    # ODE-net with Euler, one step from 0 to 1: h + f(h, 0) = ResNet.
    block, x = _block(solver="euler", steps=1)
    np.testing.assert_allclose(
        block(x).numpy(), x + np_f(block.func, x, 0.0), rtol=1e-4, atol=1e-4
    )
    assert float(block.nfe) == 1.0


def test_rk4_block_matches_numpy_rk4():
    block, x = _block(solver="rk4", steps=2, seed=3)
    h, dt = x.astype(np.float64), 0.5
    for i in range(2):
        t = i * dt
        k1 = np_f(block.func, h, t)
        k2 = np_f(block.func, h + dt / 2 * k1, t + dt / 2)
        k3 = np_f(block.func, h + dt / 2 * k2, t + dt / 2)
        k4 = np_f(block.func, h + dt * k3, t + dt)
        h = h + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    np.testing.assert_allclose(block(x).numpy(), h, rtol=1e-3, atol=1e-3)
    assert float(block.nfe) == 8.0  # 2 steps x 4


def test_nfe_of_each_solver():
    for solver, steps, want in [("euler", 5, 5), ("rk4", 3, 12)]:
        block, x = _block(solver=solver, steps=steps)
        block(x)
        assert float(block.nfe) == want
    block, x = _block(solver="dopri5")
    block(x)
    nfe = int(block.nfe.numpy())
    assert nfe >= 7 and (nfe - 1) % 6 == 0  # 1 + 6 per attempted step


def test_parameters_match_the_formula_and_time_adds_a_channel():
    # Two 3x3 convs (C + 1 -> C with time) and two group norms (2C each).
    c = 4
    with_t, _ = _block(time_channel=True)
    without, _ = _block(time_channel=False)
    assert with_t.count_params() - 1 == 2 * (9 * (c + 1) * c + c) + 4 * c
    assert without.count_params() - 1 == 2 * (9 * c * c + c) + 4 * c
    assert len(with_t.trainable_weights) == 8  # nfe is not trainable


def test_trajectory_ends_where_the_block_does():
    block, x = _block(solver="rk4", steps=4)
    states = block.trajectory(tf.constant(x), points=5)
    assert len(states) == 5
    np.testing.assert_array_equal(states[0].numpy(), x)
    np.testing.assert_allclose(states[-1].numpy(), block(x).numpy(),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="solver=.adams."):
        ODEBlock(solver="adams")
    with pytest.raises(ValueError, match="steps=0"):
        ODEBlock(steps=0)
    with pytest.raises(ValueError, match="rtol=0"):
        ODEBlock(rtol=0)
    with pytest.raises(ValueError, match="time_channel='yes'"):
        ODEFunc(time_channel="yes")
    with pytest.raises(ValueError, match="divide the 6 channels.*groups=4"):
        ODEBlock(groups=4).build((None, 3, 3, 6))


@pytest.mark.parametrize("solver", ["rk4", "dopri5"])
def test_block_survives_a_keras_file_round_trip(tmp_path, solver):
    inputs = keras.Input((5, 5, 4))
    block = ODEBlock(solver, steps=3, rtol=1e-2, atol=1e-2, max_steps=9,
                     t1=0.5, groups=2, name="ode")  # fmt: skip
    model = keras.Model(inputs, block(inputs))
    rng = np.random.default_rng(4)
    for v in block.func.weights:
        v.assign(rng.normal(scale=0.3, size=v.shape).astype("float32"))
    x = rng.normal(size=(2, 5, 5, 4)).astype("float32")
    model.save(tmp_path / "ode.keras")
    loaded = keras.models.load_model(tmp_path / "ode.keras")
    np.testing.assert_array_equal(loaded(x), model(x))
    assert loaded.get_layer("ode").get_config() == block.get_config()
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(block)
    )
    assert (clone.solver, clone.steps, clone.max_steps, clone.t1) == (
        solver, 3, 9, 0.5,
    )  # fmt: skip
    assert (clone.func.groups, clone.func.time_channel) == (2, True)


def test_a_few_steps_through_the_adaptive_solver_lower_the_loss():
    # Regress a fixed target through dopri5: gradients by backpropagation
    # through the solver's steps.
    block, x = _block((2, 3, 3, 2), 5, solver="dopri5", rtol=1e-2, atol=1e-2)
    target = tf.constant(np.random.default_rng(6).normal(size=x.shape),
                         tf.float32)  # fmt: skip
    optimizer = keras.optimizers.Adam(0.1)
    losses = []
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((block(x) - target) ** 2)
        grads = tape.gradient(loss, block.trainable_weights)
        assert all(g is not None for g in grads)
        optimizer.apply_gradients(zip(grads, block.trainable_weights))
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0]
