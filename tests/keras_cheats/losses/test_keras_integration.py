"""Every loss class in the three uses (compile/fit, GradientTape, plain
call) and in the Keras contract: one value per sample, every reduction,
sample_weight, float16/bfloat16 inputs, get_config and .keras round trips."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cheats.losses as L
from tests.keras_cheats.losses import helpers

RNG = np.random.default_rng(0)
B = 6  # samples in the contract checks


def _onehot(n, c=3, seed=0):
    return np.eye(c, dtype=np.float32)[
        np.random.default_rng(seed).integers(0, c, n)
    ]


def _probs(n, c=3, seed=1):
    z = np.random.default_rng(seed).normal(size=(n, c))
    return (np.exp(z) / np.exp(z).sum(-1, keepdims=True)).astype(np.float32)


def _normal(*shape, seed=2):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _dense_model(units, activation=None, inputs=4, seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((inputs,))
    return keras.Model(x, keras.layers.Dense(units, activation)(x))


@keras.saving.register_keras_serializable(package="keras_cheats_tests")
class PairDistance(keras.layers.Layer):
    """Distance between the two embeddings of a Siamese pair."""

    def call(self, inputs):
        return L.pair_distance(inputs[0], inputs[1])


def _siamese_model():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((4,)), keras.Input((4,))
    embed = keras.layers.Dense(2)  # shared weights
    return keras.Model([a, b], PairDistance()([embed(a), embed(b)]))


# Training data: 32 samples of 4 features; targets from simple rules.
X = _normal(32, 4, seed=10)
CLASS = np.argmax(X[:, :3], -1)
ONEHOT = np.eye(3, dtype=np.float32)[CLASS]
BINARY = (X[:, :1] > 0).astype(np.float32)
SOFT = _probs(32, seed=11)
PAIRS = [X, _normal(32, 4, seed=12)]
SIMILAR = (np.abs(X[:, 0] - PAIRS[1][:, 0]) < 0.7).astype(np.float32)


# name: (loss, per-sample function, y_true, y_pred, model, x, y)
CASES = {
    "cross_entropy": (
        L.CrossEntropy(),
        L.cross_entropy,
        _probs(B, seed=3),
        _probs(B),
        lambda: _dense_model(3, "softmax"),
        X,
        SOFT,
    ),
    "binary_cross_entropy": (
        L.BinaryCrossEntropy(),
        L.binary_cross_entropy,
        (RNG.random((B, 2)) > 0.5).astype(np.float32),
        RNG.uniform(0.05, 0.95, (B, 2)).astype(np.float32),
        lambda: _dense_model(1, "sigmoid"),
        X,
        BINARY,
    ),
    "categorical_cross_entropy": (
        L.CategoricalCrossEntropy(),
        L.categorical_cross_entropy,
        _onehot(B),
        _probs(B),
        lambda: _dense_model(3, "softmax"),
        X,
        ONEHOT,
    ),
    "softmax_sparse": (
        L.SoftmaxCrossEntropy(sparse=True),
        functools.partial(L.softmax_cross_entropy, sparse=True),
        np.array([0, 2, 1, 1, 0, 2]),
        _normal(B, 3),
        lambda: _dense_model(3),
        X,
        CLASS,
    ),
    "softmax_onehot": (
        L.SoftmaxCrossEntropy(),
        L.softmax_cross_entropy,
        _onehot(B),
        _normal(B, 3),
        lambda: _dense_model(3),
        X,
        ONEHOT,
    ),
    "mse": (
        L.MeanSquaredError(),
        L.mean_squared_error,
        _normal(B, 3, seed=3),
        _normal(B, 3),
        lambda: _dense_model(1),
        X,
        X[:, :1] - 2 * X[:, 1:2],
    ),
    "mae": (
        L.MeanAbsoluteError(),
        L.mean_absolute_error,
        _normal(B, 3, seed=3),
        _normal(B, 3),
        lambda: _dense_model(1),
        X,
        X[:, :1] - 2 * X[:, 1:2],
    ),
    "huber": (
        L.Huber(delta=0.7),
        functools.partial(L.huber, delta=0.7),
        _normal(B, 3, seed=3),
        _normal(B, 3),
        lambda: _dense_model(1),
        X,
        X[:, :1] - 2 * X[:, 1:2],
    ),
    "kl_divergence": (
        L.KLDivergence(),
        L.kl_divergence,
        _probs(B, seed=3),
        _probs(B),
        lambda: _dense_model(3, "softmax"),
        X,
        SOFT,
    ),
    "gaussian_kl": (
        L.GaussianKL(),
        lambda _, y: L.gaussian_kl(y[:, :3], y[:, 3:]),
        np.zeros((B, 1), np.float32),
        _normal(B, 6),
        lambda: _dense_model(6),
        X,
        np.zeros((32, 1), np.float32),
    ),
    "triplet": (
        L.TripletLoss(margin=0.5, mining="semi_hard"),
        functools.partial(L.triplet_loss, margin=0.5, mining="semi_hard"),
        np.array([0, 0, 1, 1, 2, 2]),
        _normal(B, 2),
        lambda: _dense_model(2),
        X,
        CLASS,
    ),
    "contrastive": (
        L.ContrastiveLoss(margin=1.0),
        L.contrastive_loss,
        np.array([1, 0, 1, 0, 0, 1], np.float32),
        RNG.uniform(0, 2, B).astype(np.float32),
        _siamese_model,
        PAIRS,
        SIMILAR,
    ),
    "focal_logits": (
        L.FocalLoss(alpha=0.25, gamma=2.0, from_logits=True),
        functools.partial(L.focal_loss, from_logits=True),
        (RNG.random((B, 1)) > 0.5).astype(np.float32),
        _normal(B, 1),
        lambda: _dense_model(1),
        X,
        BINARY,
    ),
    "categorical_focal": (
        L.CategoricalFocalLoss(alpha=0.25, gamma=2.0),
        L.categorical_focal_loss,
        _onehot(B),
        _probs(B),
        lambda: _dense_model(3, "softmax"),
        X,
        ONEHOT,
    ),
    "hinge": (
        L.HingeLoss(),
        L.hinge_loss,
        np.where(RNG.random((B, 1)) > 0.5, 1.0, -1.0).astype(np.float32),
        _normal(B, 1),
        lambda: _dense_model(1),
        X,
        2 * BINARY - 1,
    ),
    "margin": (
        L.MarginLoss(),
        L.margin_loss,
        _onehot(B),
        RNG.uniform(0, 1, (B, 3)).astype(np.float32),
        lambda: _dense_model(3, "sigmoid"),
        X,
        ONEHOT,
    ),
}

REDUCTIONS = [
    None,
    "none",
    "sum",
    "sum_over_batch_size",
    "mean",
    "mean_with_sample_weight",
]


def _expected(per_sample, w, reduction):
    weighted = per_sample * w
    if reduction in (None, "none"):
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean_with_sample_weight":
        return weighted.sum() / w.sum()
    return weighted.sum() / len(w)


def test_contract():
    # One test for all losses (each pytest test costs a clear_session).
    for name in sorted(CASES):
        try:
            _check_contract(name)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error


def _check_contract(name):
    loss, fn, y_true, y_pred = CASES[name][:4]
    assert isinstance(loss, keras.losses.Loss)
    helpers.assert_config_round_trip(loss)

    # Plain function: one float32 value per sample, equal to the class.
    per_sample = np.asarray(fn(y_true, y_pred))
    assert per_sample.shape == (B,), per_sample.shape
    np.testing.assert_allclose(
        loss(y_true, y_pred), per_sample.mean(), rtol=1e-5, atol=1e-6
    )

    # Every reduction, with a sample weight.
    w = np.linspace(0.5, 2.0, B).astype(np.float32)
    config = loss.get_config()
    for reduction in REDUCTIONS:
        reduced = type(loss).from_config({**config, "reduction": reduction})
        np.testing.assert_allclose(
            reduced(y_true, y_pred, sample_weight=w),
            _expected(per_sample, w, reduction),
            rtol=1e-5,
            atol=1e-6,
        )

    # GradientTape: the class as in a custom loop; finite gradient.
    variable = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = loss(y_true, variable)
    grad = tape.gradient(value, variable)
    assert grad is not None
    helpers.assert_finite(value, grad)


def test_low_precision_inputs_compute_in_float32():
    for dtype in ["float16", "bfloat16"]:
        _check_low_precision(dtype)


def _check_low_precision(dtype):
    for name, (loss, fn, y_true, y_pred, *_) in CASES.items():
        low_pred = tf.constant(y_pred, dtype)
        # The float32 reference sees the same rounded inputs.
        ref_pred = tf.cast(low_pred, tf.float32)
        if y_true.dtype.kind == "f":
            low_true = tf.constant(y_true, dtype)
            ref_true = tf.cast(low_true, tf.float32)
        else:
            low_true = ref_true = y_true
        value = fn(low_true, low_pred)
        assert value.dtype == tf.float32, name
        np.testing.assert_allclose(
            value, fn(ref_true, ref_pred), rtol=1e-6, err_msg=name
        )
        assert loss(low_true, low_pred).dtype == tf.float32, name


def test_float16_does_not_overflow():
    # exp(12) = 162755 > float16 max 65504: fine once upcast to float32.
    log_var = tf.constant([[12.0]], "float16")
    value = L.gaussian_kl(tf.zeros_like(log_var), log_var)
    helpers.assert_finite(value)
    np.testing.assert_allclose(value, [0.5 * (np.exp(12) - 13)], rtol=1e-3)


def test_mixed_precision_model_fit():
    # Under the mixed_float16 policy the model outputs float16; the loss
    # still computes in float32.
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _dense_model(3, "softmax")
        assert model.output.dtype == "float16"
        model.compile("adam", loss=L.CategoricalFocalLoss(), jit_compile=False)
        loss = model.train_on_batch(X, ONEHOT)
        assert np.isfinite(loss)
        assert L.FocalLoss()(BINARY, model(X)[:, :1]).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_save_load(name, tmp_path):
    loss, *_, build, x, y = CASES[name]
    helpers.fit_save_load(loss, build(), x, y, tmp_path)
