import keras
import numpy as np
import pytest

import keras_cheats.losses.distillation as module
from keras_cheats.losses.distillation import (
    DistillationLoss,
    distillation_loss,
)
from tests.keras_cheats.losses import helpers


def _log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _numpy_distillation(y, z_s, z_t, alpha, t):
    ce = -_log_softmax(z_s)[np.arange(len(y)), y]
    log_pt, log_ps = _log_softmax(z_t / t), _log_softmax(z_s / t)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(-1)
    return alpha * ce + (1 - alpha) * t**2 * kl


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    # softmax((2, 0) / 2) = (0.731059, 0.268941) against (0.5, 0.5):
    # KL = 0.731059 ln 1.462117 + 0.268941 ln 0.537883 = 0.110944;
    # L = 0.5 ln 2 + 0.5 * 2^2 * 0.110944 = 0.568462.
    value = distillation_loss([0], [[0.0, 0.0]], [[2.0, 0.0]], 0.5, 2.0)
    np.testing.assert_allclose(value, [0.568462], rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    b, c = rng.integers(1, 9), rng.integers(2, 12)
    y = rng.integers(0, c, b)
    z_s, z_t = rng.normal(0, 3, (2, b, c))
    alpha, t = rng.uniform(0, 1), rng.uniform(0.5, 8)
    np.testing.assert_allclose(
        distillation_loss(y, z_s, z_t, alpha, t),
        _numpy_distillation(y, z_s, z_t, alpha, t),
        rtol=1e-4,
        atol=1e-5,
    )


def test_soft_term_scales_with_t_squared():
    # With alpha = 0 the loss is T^2 KL(p_t^T || p_s^T): scaling the logits
    # by T along with T leaves the KL as it is, so the loss goes as T^2.
    z_s, z_t = np.array([[0.3, -1.0, 2.0]]), np.array([[1.0, 0.5, -0.2]])
    base = float(distillation_loss([1], z_s, z_t, 0.0, 1.0)[0])
    for t in (2.0, 5.0):
        scaled = float(distillation_loss([1], t * z_s, t * z_t, 0.0, t)[0])
        assert scaled == pytest.approx(t**2 * base, rel=1e-5)


def test_alpha_one_is_cross_entropy():
    rng = np.random.default_rng(3)
    y, z_s, z_t = rng.integers(0, 5, 6), *rng.normal(0, 2, (2, 6, 5))
    ce = keras.losses.sparse_categorical_crossentropy(y, z_s, from_logits=True)
    np.testing.assert_allclose(
        distillation_loss(y, z_s, z_t, 1.0, 3.0), ce, rtol=1e-5
    )


def test_loss_class_unpacks_labels_and_teacher_logits():
    rng = np.random.default_rng(4)
    y, z_s, z_t = rng.integers(0, 4, 5), *rng.normal(0, 2, (2, 5, 4))
    packed = np.concatenate([y[:, None], z_t], axis=1)
    loss = DistillationLoss(alpha=0.3, temperature=2.5)
    expected = _numpy_distillation(y, z_s, z_t, 0.3, 2.5).mean()
    assert float(loss(packed, z_s)) == pytest.approx(expected, rel=1e-5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert again.get_config() == loss.get_config()
    assert float(again(packed, z_s)) == pytest.approx(expected, rel=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss([0], [[0.0, 1.0]], [[0.0, 1.0]], 0.5, 0.0)
