"""The RBM layer (Cheat sheet 7.4.5): conditionals, energies, CD-k."""

import itertools

import keras
import numpy as np
import pytest

from keras_cheats.layers.rbm import RBM, sample_bernoulli


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _rbm(visible, hidden, seed):
    """A built RBM with random W, b, c (not the small initial ones)."""
    rng = np.random.default_rng(seed)
    rbm = RBM(hidden)
    rbm.build((None, visible))
    rbm.set_weights(
        [
            rng.normal(0, 1, (visible, hidden)).astype("float32"),
            rng.normal(0, 1, visible).astype("float32"),
            rng.normal(0, 1, hidden).astype("float32"),
        ]
    )
    return rbm


def test_conditionals_hand_computed():
    # W = [[1, -1], [2, 0]], b = (0, 1), c = (-1, 0.5), v = (1, 1), h = (1, 0).
    rbm = RBM(2)
    rbm.build((None, 2))
    rbm.set_weights(
        [
            np.array([[1.0, -1.0], [2.0, 0.0]], "float32"),
            np.array([0.0, 1.0], "float32"),
            np.array([-1.0, 0.5], "float32"),
        ]
    )
    v = np.array([[1.0, 1.0]], "float32")
    h = np.array([[1.0, 0.0]], "float32")
    # c + v W = (-1 + 3, 0.5 - 1) = (2, -0.5); b + h W^T = (0 + 1, 1 + 2).
    np.testing.assert_allclose(
        _np(rbm(v)), _sigmoid(np.array([[2.0, -0.5]])), rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(rbm.visible_probabilities(h)),
        _sigmoid(np.array([[1.0, 3.0]])),
        rtol=1e-6,
    )
    # E = -(v.b + h.c + v W h) = -(1 - 1 + 3) = -3.
    np.testing.assert_allclose(_np(rbm.energy(v, h)), [-3.0], rtol=1e-6)
    # F = -1 - softplus(2) - softplus(-0.5) = -1 - 2.126928 - 0.474077.
    np.testing.assert_allclose(_np(rbm.free_energy(v)), [-3.601005], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_free_energy_is_minus_log_sum_over_hidden_states(seed):
    visible, hidden = 5, 4
    rbm = _rbm(visible, hidden, seed)
    rng = np.random.default_rng(seed + 10)
    v = (rng.random((6, visible)) < 0.5).astype("float32")
    states = np.array(list(itertools.product([0, 1], repeat=hidden)), "f4")
    # F(v) = -log sum_h exp(-E(v, h)) over all 2^H hidden states.
    energies = np.stack(
        [_np(rbm.energy(v, np.tile(h, (len(v), 1)))) for h in states], axis=1
    ).astype(np.float64)
    brute = -np.log(np.exp(-energies).sum(axis=1))
    np.testing.assert_allclose(_np(rbm.free_energy(v)), brute, rtol=1e-5)
    # And p(h_j = 1 | v) is the marginal of exp(-E(v, h)) / sum_h.
    weights = np.exp(-energies) / np.exp(-energies).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_np(rbm(v)), weights @ states, rtol=1e-5)


def _numpy_cd(w, b, c, v0, k, uniforms):
    """CD-k transcribed: sampled hidden drivers, probabilities elsewhere."""
    p0 = _sigmoid(c + v0 @ w)
    v, p = v0, p0
    for t in range(k):
        h = p if uniforms is None else (uniforms[t] < p).astype(np.float64)
        v = _sigmoid(b + h @ w.T)
        if t == 0:
            reconstruction = v
        p = _sigmoid(c + v @ w)
    return (
        {
            "kernel": v0.T @ p0 - v.T @ p,
            "visible_bias": (v0 - v).sum(0),
            "hidden_bias": (p0 - p).sum(0),
        },
        reconstruction,
    )


@pytest.mark.parametrize(
    "k, sampled, seed", [(1, True, 0), (3, True, 1), (2, False, 2)]
)
def test_cd_statistics_match_numpy(k, sampled, seed):
    visible, hidden, batch = 7, 5, 9
    rbm = _rbm(visible, hidden, seed)
    rng = np.random.default_rng(seed + 20)
    v0 = rng.random((batch, visible)).astype("float32")
    uniforms = rng.random((k, batch, hidden)).astype("float32")
    uniforms = uniforms if sampled else None
    stats, recon = rbm.cd_statistics(v0, k, uniforms)
    w, b, c = (x.astype(np.float64) for x in rbm.get_weights())
    want, want_recon = _numpy_cd(w, b, c, v0.astype(np.float64), k, uniforms)
    for name in want:
        np.testing.assert_allclose(
            _np(stats[name]), want[name], rtol=1e-4, atol=1e-5
        )
    np.testing.assert_allclose(_np(recon), want_recon, rtol=1e-5)


def test_sampling_and_gibbs_step():
    p = np.array([[0.2, 0.7]], "float32")
    u = np.array([[0.1, 0.9]], "float32")
    np.testing.assert_array_equal(_np(sample_bernoulli(p, u)), [[1.0, 0.0]])
    rbm = _rbm(3, 2, 4)
    v = np.array([[1.0, 0.0, 1.0]], "float32")
    # Mean field: p(v | p(h | v)); sampled: p(v | h) with h = 1[u < p].
    h = _np(rbm(v))
    np.testing.assert_allclose(
        _np(rbm.gibbs_step(v)), _np(rbm.visible_probabilities(h)), rtol=1e-6
    )
    zeros, ones = np.zeros((1, 2), "f4"), np.ones((1, 3), "f4")
    np.testing.assert_allclose(  # u = 0 < p: every hidden unit on
        _np(rbm.gibbs_step(v, zeros)),
        _np(rbm.visible_probabilities(np.ones((1, 2), "f4"))),
        rtol=1e-6,
    )
    assert _np(rbm.gibbs_step(v, zeros, ones)).sum() == 0  # u = 1: all off


def test_visible_bias_is_the_log_odds_of_the_data():
    rbm = RBM(2)
    rbm.build((None, 3))
    rbm.set_visible_bias_from_data(np.array([0.5, 0.8, 0.0], "float32"))
    np.testing.assert_allclose(
        _np(rbm.visible_bias), [0.0, np.log(4.0), np.log(1e-3 / 0.999)],
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="units=0"):
        RBM(0)
    with pytest.raises(ValueError, match=r"\(batch, D\)"):
        RBM(2)(np.zeros((2, 3, 4), "float32"))
    rbm = _rbm(3, 2, 0)
    with pytest.raises(ValueError, match="k=0"):
        rbm.cd_statistics(np.zeros((1, 3), "float32"), k=0)


def test_saved_in_a_model_round_trip(tmp_path):
    inputs = keras.Input((6,))
    model = keras.Model(inputs, RBM(4, kernel_initializer="he_normal")(inputs))
    path = tmp_path / "rbm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).random((3, 6)).astype("float32")
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-6)
    layer = loaded.layers[-1]
    assert isinstance(layer, RBM) and layer.units == 4
    np.testing.assert_allclose(
        _np(layer.free_energy(x)), _np(model.layers[-1].free_energy(x))
    )
    config = keras.saving.serialize_keras_object(model.layers[-1])
    again = keras.saving.deserialize_keras_object(config)
    assert again.get_config() == model.layers[-1].get_config()
