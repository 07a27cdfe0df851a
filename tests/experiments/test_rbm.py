"""experiments.rbm: the CD-k step through loops.fit (Cheat sheet 7.4.5)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from experiments import data as data_lib
from experiments import rbm as rbm_lib


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _model(visible, hidden, seed):
    """An RBM model with random W, b, c (larger than the initial ones)."""
    model = rbm_lib.rbm_model(visible, hidden)
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            rng.normal(0, 0.5, (visible, hidden)).astype("float32"),
            rng.normal(0, 0.5, visible).astype("float32"),
            rng.normal(0, 0.5, hidden).astype("float32"),
        ]
    )
    return model


def _one_step(model, task, x, learning_rate, strategy=None, **options):
    return loops.fit(
        model,
        keras.optimizers.SGD(learning_rate),
        task,
        loops.InMemory((x,), len(x)),
        options=loops.LoopOptions(epochs=1, verbose=0, **options),
        strategy=strategy,
    )


def test_one_step_is_numpy_cd1_with_the_same_draws():
    visible, hidden, n, lr, cost, seed = 6, 4, 10, 0.5, 0.01, 3
    model = _model(visible, hidden, 0)
    w, b, c = (a.astype(np.float64) for a in model.get_weights())
    v0 = np.random.default_rng(1).random((n, visible)).astype("float32")
    task = rbm_lib.rbm_task(1, seed=seed, weight_cost=cost)
    # Without XLA: its Philox stream differs from TensorFlow's kernel's.
    history = _one_step(model, task, v0, lr, jit_compile=False)
    # CD-1 transcribed, with the uniforms of step 0, replica 0.
    u = np.asarray(rbm_lib.cd_uniforms((1, n, hidden), seed, 0))[0]
    v0 = v0.astype(np.float64)
    p0 = _sigmoid(c + v0 @ w)
    h0 = (u < p0).astype(np.float64)
    v1 = _sigmoid(b + h0 @ w.T)
    p1 = _sigmoid(c + v1 @ w)
    want = [
        w + lr * ((v0.T @ p0 - v1.T @ p1) / n - cost * w),
        b + lr * (v0 - v1).sum(0) / n,
        c + lr * (p0 - p1).sum(0) / n,
    ]
    for got, expected in zip(model.get_weights(), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert history["reconstruction_error"][0] == pytest.approx(
        np.mean((v0 - v1) ** 2), rel=1e-4
    )
    free_energy = -v0 @ b - np.logaddexp(0, c + v0 @ w).sum(1)
    assert history["free_energy"][0] == pytest.approx(
        free_energy.mean(), rel=1e-4
    )


def test_two_replicas_make_the_update_of_one_device():
    # Mean-field CD (no draws), 9 examples: 5 + 4 over the replicas.
    visible, hidden, lr = 5, 3, 0.3
    x = np.random.default_rng(2).random((9, visible)).astype("float32")
    task = rbm_lib.rbm_task(2, sample_hidden=False, weight_cost=0.1)
    one = _model(visible, hidden, 7)
    single = _one_step(one, task, x, lr, jit_compile=False)
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    with strategy.scope():
        two = _model(visible, hidden, 7)
        double = _one_step(two, task, x, lr, strategy=strategy)
    for a, b in zip(one.get_weights(), two.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not np.allclose(
        one.get_weights()[0], _model(5, 3, 7).get_weights()[0]
    )
    for name in ("reconstruction_error", "free_energy"):
        assert double[name][0] == pytest.approx(single[name][0], rel=1e-5)


def test_draws_are_keyed_by_seed_step_and_replica():
    a = np.asarray(rbm_lib.cd_uniforms((2, 3), 0, 5))
    np.testing.assert_array_equal(a, rbm_lib.cd_uniforms((2, 3), 0, 5))
    assert not np.allclose(a, rbm_lib.cd_uniforms((2, 3), 0, 6))
    assert not np.allclose(a, rbm_lib.cd_uniforms((2, 3), 1, 5))
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    per_replica = strategy.run(lambda: rbm_lib.cd_uniforms((2, 3), 0, 5))
    first, second = strategy.experimental_local_results(per_replica)
    np.testing.assert_array_equal(first, a)
    assert not np.allclose(first, second)


def test_a_resumed_run_draws_the_same(tmp_path):
    x = np.random.default_rng(3).random((40, 6)).astype("float32")

    def train(epochs, model_dir):
        loops.seed_everything(0)
        model = rbm_lib.rbm_model(6, 4)
        loops.fit(
            model,
            keras.optimizers.SGD(0.1, momentum=0.9),
            rbm_lib.rbm_task(1, seed=0),
            loops.InMemory((x,), 10, order=loops.shuffled(0)),
            options=loops.LoopOptions(
                epochs=epochs, verbose=0, jit_compile=False
            ),
            model_dir=model_dir,
        )
        return model.get_weights()

    straight = train(2, tmp_path / "straight")
    train(1, tmp_path / "resumed")
    resumed = train(2, tmp_path / "resumed")
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_reconstruction_error_falls_on_digits():
    train, test, _ = data_lib.load_splits("digits")
    x, x_test = (s.x.reshape(len(s.x), -1) for s in (train, test))
    loops.seed_everything(0)
    model = rbm_lib.rbm_model(64, 32)
    rbm_lib.rbm_of(model).set_visible_bias_from_data(x.mean(0))
    task = rbm_lib.rbm_task(1, seed=0)
    test_data = loops.InMemory((x_test,), 128)
    before = loops.evaluate(model, task, test_data)["reconstruction_error"]
    history = loops.fit(
        model,
        keras.optimizers.SGD(0.1, momentum=0.9),
        task,
        loops.InMemory((x,), 50, order=loops.shuffled(0)),
        options=loops.LoopOptions(epochs=8, verbose=0, jit_compile=False),
    )
    after = loops.evaluate(model, task, test_data)["reconstruction_error"]
    assert after < 0.7 * before  # 0.074 -> 0.033 measured
    errors = history["reconstruction_error"]
    assert errors[-1] < errors[0]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="k=0"):
        rbm_lib.rbm_task(0)
    with pytest.raises(ValueError, match="weight_cost=-1"):
        rbm_lib.rbm_task(1, weight_cost=-1)
    inputs = keras.Input((3,))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="0 RBM layers"):
        rbm_lib.rbm_of(plain)
