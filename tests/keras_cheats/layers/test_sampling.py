"""Sampling and reparameterize (Cheat sheet 7.4.2)."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cheats.layers.sampling import Sampling, reparameterize


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_reparameterize_hand_computed():
    # sigma = exp(log_var / 2) = (1, 2): z = (1 + 1 * 0.5, -2 + 2 * -1).
    z = reparameterize(
        np.array([[1.0, -2.0]], "float32"),
        np.array([[0.0, math.log(4.0)]], "float32"),
        np.array([[0.5, -1.0]], "float32"),
    )
    np.testing.assert_allclose(_np(z), [[1.5, -4.0]], rtol=1e-6)


def test_sample_mean_and_variance_match_mean_and_exp_log_var():
    n = 40_000
    mean = np.array([0.5, -1.0, 2.0], "float32")
    var = np.array([0.25, 1.0, 4.0], "float32")
    layer = Sampling(seed=0)
    z = _np(layer([np.tile(mean, (n, 1)), np.tile(np.log(var), (n, 1))]))
    assert z.shape == (n, 3)
    # Mean within 5 standard errors, variance within 5% (5 standard errors
    # of a normal sample variance: sqrt(2 / n) = 0.7%).
    np.testing.assert_array_less(
        np.abs(z.mean(axis=0) - mean), 5 * np.sqrt(var / n)
    )
    np.testing.assert_allclose(z.var(axis=0), var, rtol=0.05)
    # Independent dimensions.
    assert abs(np.corrcoef(z.T)[0, 1]) < 0.03


def test_gradients_are_those_of_the_trick():
    mean = tf.Variable(np.zeros((1000, 2), "float32"))
    log_var = tf.Variable(np.full((1000, 2), math.log(9.0), "float32"))
    with tf.GradientTape() as tape:
        z = Sampling(seed=1)([mean, log_var])
        total = tf.reduce_sum(z)
    d_mean, d_log_var = tape.gradient(total, [mean, log_var])
    # dz/dmu = 1; dz/d(log sigma^2) = sigma * eps / 2 = (z - mu) / 2.
    np.testing.assert_allclose(_np(d_mean), 1.0)
    np.testing.assert_allclose(_np(d_log_var), _np(z) / 2, rtol=1e-5)


def test_seeded_layers_repeat_and_calls_differ():
    inputs = [np.zeros((4, 3), "float32"), np.zeros((4, 3), "float32")]
    a, b = Sampling(seed=7), Sampling(seed=7)
    first = _np(a(inputs))
    np.testing.assert_array_equal(first, _np(b(inputs)))
    assert not np.allclose(first, _np(a(inputs)))  # a fresh draw per call
    assert not np.allclose(first, _np(Sampling(seed=8)(inputs)))


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="seed"):
        Sampling(seed="zero")
    layer = Sampling()
    with pytest.raises(ValueError, match=r"\[mean, log_var\]"):
        layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        layer([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])


def test_saved_in_a_model_round_trip(tmp_path):
    mean_in, log_var_in = keras.Input((3,)), keras.Input((3,))
    z = Sampling(seed=5, name="sampling")([mean_in, log_var_in])
    model = keras.Model([mean_in, log_var_in], z)
    path = tmp_path / "sampling.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("sampling")
    assert isinstance(layer, Sampling) and layer.seed == 5
    assert layer.get_config()["seed"] == 5
    # Zero variance: z is the mean exactly, whatever the noise.
    mean = np.array([[1.0, 2.0, 3.0]], "float32")
    out = loaded([mean, np.full((1, 3), -200.0, "float32")])
    np.testing.assert_allclose(_np(out), mean, atol=1e-6)
