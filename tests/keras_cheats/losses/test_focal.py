import keras
import numpy as np
import pytest

import keras_cheats.losses.focal as module
from keras_cheats.losses import (
    CategoricalFocalLoss,
    FocalLoss,
    binary_cross_entropy,
    categorical_focal_loss,
    focal_loss,
)
from tests.keras_cheats.losses import helpers, oracles


def _sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, np.float64)))


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    # y = 1, p = 0.8: 0.25 * 0.2^2 * -log 0.8 = 0.00223144;
    # y = 0, p = 0.4: p_t = 0.6, 0.75 * 0.4^2 * -log 0.6 = 0.06129907.
    np.testing.assert_allclose(
        focal_loss([[1.0, 0.0]], [[0.8, 0.4]], 0.25, 2.0),
        [(0.00223144 + 0.06129907) / 2],
        rtol=1e-5,
    )
    # gamma = 0, alpha = 0.5: half the binary cross-entropy.
    y, p = [[1.0, 0.0, 1.0]], [[0.3, 0.2, 0.9]]
    np.testing.assert_allclose(
        focal_loss(y, p, 0.5, 0.0), 0.5 * binary_cross_entropy(y, p), rtol=1e-6
    )
    # Categorical: 0.25 * 0.2^2 * -log 0.8.
    np.testing.assert_allclose(
        categorical_focal_loss([[0, 1, 0]], [[0.1, 0.8, 0.1]]),
        [0.00223144],
        rtol=1e-5,
    )
    # Per-class alpha picks the true class's weight: 0.6 * 0.2^2 * -log 0.8.
    np.testing.assert_allclose(
        categorical_focal_loss(
            [[0, 1, 0]], [[0.1, 0.8, 0.1]], alpha=[0.1, 0.6, 0.3]
        ),
        [0.6 * 0.04 * -np.log(0.8)],
        rtol=1e-5,
    )


def test_is_keras_focal_with_class_balancing():
    # FocalLoss(alpha, gamma) on probabilities is Keras' loss with
    # apply_class_balancing=True; Keras' default applies no alpha at all,
    # which is not the cheat sheet's formula.
    rng = np.random.default_rng(0)
    y = (rng.random((8, 3)) > 0.5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (8, 3)).astype(np.float32)
    ours = FocalLoss(alpha=0.3, gamma=1.5)(y, p)
    balanced = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.3, gamma=1.5
    )(y, p)
    np.testing.assert_allclose(ours, balanced, rtol=1e-6)
    np.testing.assert_allclose(
        ours, oracles.focal(y, p, 0.3, 1.5).mean(), rtol=1e-5
    )
    keras_default = keras.losses.BinaryFocalCrossentropy(alpha=0.3, gamma=1.5)
    assert not np.isclose(float(keras_default(y, p)), float(ours))
    # The categorical variant on probabilities is Keras' own.
    onehot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    probs = oracles.softmax(rng.normal(size=(8, 3))).astype(np.float32)
    np.testing.assert_allclose(
        CategoricalFocalLoss(0.3, 1.5)(onehot, probs),
        keras.losses.CategoricalFocalCrossentropy(alpha=0.3, gamma=1.5)(
            onehot, probs
        ),
        rtol=1e-6,
    )


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for shape in [(1, 1), (5, 3), (4, 2, 6)]:
            alpha, gamma = rng.uniform(0, 1), rng.choice([0.0, 0.5, 2.0, 3.0])
            y = (rng.random(shape) > 0.5).astype(np.float32)
            p = rng.uniform(0.01, 0.99, shape).astype(np.float32)
            z = (rng.normal(size=shape) * 4).astype(np.float32)
            want_p = oracles.focal(y, p, alpha, gamma)
            want_z = oracles.focal(y, _sigmoid(z), alpha, gamma)
            got_p = focal_loss(y, p, alpha, gamma)
            got_z = focal_loss(y, z, alpha, gamma, from_logits=True)
            assert got_p.shape == shape[:-1]
            np.testing.assert_allclose(got_p, want_p, rtol=1e-4, atol=1e-7)
            np.testing.assert_allclose(got_z, want_z, rtol=1e-4, atol=1e-7)
            onehot = np.eye(shape[-1] + 1, dtype=np.float32)[
                rng.integers(0, shape[-1] + 1, shape[:-1])
            ]
            z = (rng.normal(size=onehot.shape) * 2).astype(np.float32)
            probs = oracles.softmax(z.astype(np.float64))
            want = oracles.categorical_focal(onehot, probs, alpha, gamma)
            np.testing.assert_allclose(
                categorical_focal_loss(
                    onehot, probs.astype(np.float32), alpha, gamma
                ),
                want,
                rtol=1e-4,
                atol=1e-7,
            )
            np.testing.assert_allclose(
                categorical_focal_loss(onehot, z, alpha, gamma, True),
                want,
                rtol=1e-4,
                atol=1e-7,
            )


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    y = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    onehot = np.eye(3)[[2, 0]]
    p = rng.uniform(0.1, 0.9, (2, 3))
    z = rng.normal(size=(2, 3))
    for gamma in (0.0, 2.0):
        helpers.check_gradient(lambda v, g=gamma: focal_loss(y, v, 0.3, g), p)
        helpers.check_gradient(
            lambda v, g=gamma: focal_loss(y, v, 0.3, g, True), z
        )
        helpers.check_gradient(
            lambda v, g=gamma: categorical_focal_loss(onehot, v, 0.3, g), p
        )
        helpers.check_gradient(
            lambda v, g=gamma: categorical_focal_loss(onehot, v, 0.3, g, True),
            z,
        )


def test_finite_and_exact_at_extremes():
    for gamma in (0.0, 0.5, 2.0):
        _check_extremes(gamma)


def _check_extremes(gamma):
    y = np.array([[1.0, 1.0, 0.0, 0.0]], np.float32)
    z = np.array([[1e4, -1e4, 1e4, -1e4]], np.float32)
    value, grad = helpers.value_and_grad(
        lambda v: focal_loss(y, v, 0.25, gamma, True), z
    )
    helpers.assert_finite(value, grad)
    # Log space keeps the wrong answers exact: (0.25 + 0.75) * 1e4 / 4.
    np.testing.assert_allclose(value, [2500.0], rtol=1e-6)
    # ... and their gradient alive: d/dz of -alpha_t log p_t / 4.
    np.testing.assert_allclose(
        np.asarray(grad)[0, [1, 2]], [-0.25 / 4, 0.75 / 4]
    )
    onehot = np.eye(2, dtype=np.float32)[[0, 1]]
    zc = np.array([[1e4, -1e4], [1e4, -1e4]], np.float32)
    value, grad = helpers.value_and_grad(
        lambda v: categorical_focal_loss(onehot, v, 0.25, gamma, True), zc
    )
    helpers.assert_finite(value, grad)
    np.testing.assert_allclose(value, [0.0, 0.25 * 2e4], rtol=1e-6)
    # Probabilities of exactly 0 and 1, right and wrong.
    p = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    pc = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    for fn, x in (
        (lambda v: focal_loss(y, v, 0.25, gamma), p),
        (lambda v: categorical_focal_loss(onehot, v, 0.25, gamma), pc),
    ):
        value, grad = helpers.value_and_grad(fn, x)
        helpers.assert_finite(value, grad)


def test_bad_arguments():
    for kwargs, word in [
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"gamma": -1.0}, "gamma"),
        ({"from_logits": "yes"}, "from_logits"),
    ]:
        for make in (
            FocalLoss,
            CategoricalFocalLoss,
            lambda **k: focal_loss([[1.0]], [[0.5]], **k),
        ):
            with pytest.raises(ValueError, match=word):
                make(**kwargs)


def test_per_class_alpha_list_round_trips():
    loss = CategoricalFocalLoss(alpha=[0.2, 0.3, 0.5])
    helpers.assert_config_round_trip(loss)
    with pytest.raises(ValueError, match="alpha"):
        CategoricalFocalLoss(alpha=[0.2, 2.0])
