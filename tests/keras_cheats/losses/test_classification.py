import keras
import numpy as np
import pytest

import keras_cheats.losses.classification as module
from keras_cheats.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    CrossEntropy,
    SoftmaxCrossEntropy,
    binary_cross_entropy,
    categorical_cross_entropy,
    cross_entropy,
    softmax_cross_entropy,
)
from tests.keras_cheats.losses import helpers, oracles

SHAPES = [(1, 2), (5, 3), (4, 2, 6)]
SEEDS = [0, 1, 2]


def _distribution(rng, shape):
    z = rng.normal(size=shape)
    return oracles.softmax(z).astype(np.float32)


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    # 4.1, soft labels: -(0.25 log 0.5 + 0.75 log 0.5) = log 2.
    np.testing.assert_allclose(
        cross_entropy([[0.25, 0.75]], [[0.5, 0.5]]), [np.log(2)], rtol=1e-6
    )
    # 4.2: -(log 0.8 + log 0.6) / 2 = 0.366985.
    np.testing.assert_allclose(
        binary_cross_entropy([[1.0, 0.0]], [[0.8, 0.4]]), [0.366985], rtol=1e-5
    )
    # 4.3: -log 0.8 = 0.223144.
    np.testing.assert_allclose(
        categorical_cross_entropy([[0, 1, 0]], [[0.1, 0.8, 0.1]]),
        [0.223144],
        rtol=1e-5,
    )
    # 4.4: -log(e^3 / (e + e^2 + e^3)) = 0.407606, one-hot and sparse.
    logits = [[1.0, 2.0, 3.0]]
    for value in (
        softmax_cross_entropy([[0, 0, 1]], logits),
        softmax_cross_entropy([2], logits, sparse=True),
        softmax_cross_entropy([[2]], logits, sparse=True),
    ):
        np.testing.assert_allclose(value, [0.407606], rtol=1e-5)


def test_matches_numpy_oracle():
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for shape in SHAPES:
            soft = _distribution(rng, shape)
            p = _distribution(rng, shape)
            onehot = np.eye(shape[-1], dtype=np.float32)[
                rng.integers(0, shape[-1], shape[:-1])
            ]
            logits = rng.normal(size=shape).astype(np.float32) * 3
            binary = (rng.random(shape) > 0.5).astype(np.float32)
            p_bin = rng.uniform(0.01, 0.99, shape).astype(np.float32)
            checks = [
                (cross_entropy(soft, p), oracles.cross_entropy(soft, p)),
                (
                    categorical_cross_entropy(onehot, p),
                    oracles.cross_entropy(onehot, p),
                ),
                (
                    binary_cross_entropy(binary, p_bin),
                    oracles.binary_cross_entropy(binary, p_bin),
                ),
                (
                    softmax_cross_entropy(onehot, logits),
                    oracles.softmax_cross_entropy(onehot, logits),
                ),
                (
                    softmax_cross_entropy(onehot.argmax(-1), logits, True),
                    oracles.softmax_cross_entropy(onehot, logits),
                ),
                (
                    binary_cross_entropy(binary, logits, from_logits=True),
                    oracles.binary_cross_entropy(
                        binary, 1 / (1 + np.exp(-logits.astype(np.float64)))
                    ),
                ),
            ]
            for got, want in checks:
                assert got.shape == shape[:-1]
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_classes_are_keras_losses():
    # Keras' classes under the cheat-sheet names, not re-implementations.
    assert issubclass(CrossEntropy, keras.losses.CategoricalCrossentropy)
    assert issubclass(
        CategoricalCrossEntropy, keras.losses.CategoricalCrossentropy
    )
    assert issubclass(BinaryCrossEntropy, keras.losses.BinaryCrossentropy)
    # SoftmaxCrossEntropy gives exactly what the Keras class it picks gives.
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 6)
    keras_sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    keras_dense = keras.losses.CategoricalCrossentropy(from_logits=True)
    np.testing.assert_array_equal(
        SoftmaxCrossEntropy(sparse=True)(labels, logits),
        keras_sparse(labels, logits),
    )
    onehot = np.eye(4, dtype=np.float32)[labels]
    np.testing.assert_array_equal(
        SoftmaxCrossEntropy()(onehot, logits), keras_dense(onehot, logits)
    )


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    onehot = np.eye(3)[[0, 2, 1]]
    soft = _distribution(rng, (3, 3))
    binary = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    probs = rng.uniform(0.1, 0.9, (3, 3))
    logits = rng.normal(size=(3, 3))
    helpers.check_gradient(lambda v: cross_entropy(soft, v), probs)
    helpers.check_gradient(
        lambda v: categorical_cross_entropy(onehot, v), probs
    )
    helpers.check_gradient(
        lambda v: binary_cross_entropy(binary, v), probs[:, :2]
    )
    helpers.check_gradient(lambda v: softmax_cross_entropy(onehot, v), logits)
    helpers.check_gradient(
        lambda v: softmax_cross_entropy([0, 2, 1], v, sparse=True), logits
    )


def test_stable_at_extremes():
    onehot = np.eye(2, dtype=np.float32)[[0, 1]]
    logits = np.array([[1e4, -1e4], [1e4, -1e4]], np.float32)
    cases = [
        (lambda v: softmax_cross_entropy(onehot, v), logits),
        (lambda v: softmax_cross_entropy([0, 1], v, sparse=True), logits),
        (lambda v: binary_cross_entropy(onehot, v, from_logits=True), logits),
        # Probabilities of exactly 0 and 1, right and wrong.
        (lambda v: binary_cross_entropy(onehot, v), [[1.0, 0.0], [1.0, 0.0]]),
        (lambda v: cross_entropy(onehot, v), [[1.0, 0.0], [1.0, 0.0]]),
        (
            lambda v: categorical_cross_entropy(onehot, v),
            [[1.0, 0.0], [1.0, 0.0]],
        ),
    ]
    for fn, x in cases:
        value, grad = helpers.value_and_grad(fn, np.asarray(x, np.float32))
        helpers.assert_finite(value, grad)
    # From logits the value stays exact: the wrong sample costs 2e4.
    np.testing.assert_allclose(
        softmax_cross_entropy(onehot, logits), [0.0, 2e4], rtol=1e-6
    )


def test_bad_sparse_argument():
    with pytest.raises(ValueError, match="sparse"):
        SoftmaxCrossEntropy(sparse="yes")
