"""DDPM schedule, forward process, loss and samplers (Cheat sheet 7.4.4)
against NumPy transcriptions of Ho et al. 2020 and Song et al. 2021."""

import math

import keras
import numpy as np
import pytest

from keras_cheats.models import diffusion_sampling as sampling
from keras_cheats.models.diffusion import (
    DiffusionLoss,
    NoiseSchedule,
    diffusion_loss,
    to_model_range,
    to_pixels,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_two_step_schedule_by_hand():
    s = NoiseSchedule(2)
    np.testing.assert_allclose(s.betas, [1e-4, 0.02])
    np.testing.assert_allclose(s.alpha_bars, [0.9999, 0.9999 * 0.98])
    # beta~_2 = (1 - 0.9999) / (1 - 0.979902) * 0.02
    assert s.posterior_variances[1] == pytest.approx(1e-4 / 0.020098 * 0.02)
    assert s.posterior_variances[0] == 0.0  # alpha_bar_0 = 1


@pytest.mark.parametrize("timesteps", [1, 10, 1000])
def test_linear_alpha_bar_is_the_cumprod(timesteps):
    s = NoiseSchedule(timesteps)
    betas = np.linspace(1e-4, 0.02, timesteps)
    np.testing.assert_allclose(s.alpha_bars, np.cumprod(1 - betas))
    np.testing.assert_allclose(s.alpha_bars_prev[1:], s.alpha_bars[:-1])
    if timesteps == 1000:  # x_T is nearly pure noise
        assert s.alpha_bars[-1] < 1e-4


def test_cosine_alpha_bar_follows_the_squared_cosine():
    s = NoiseSchedule(100, "cosine")
    t = np.arange(1, 101) / 100
    f = np.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    f0 = math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    # Equal until beta reaches its clip at 0.999 (only the last step).
    np.testing.assert_allclose(s.alpha_bars[:-1], (f / f0)[:-1], rtol=1e-9)
    assert s.betas.max() <= 0.999 and np.all(np.diff(s.alpha_bars) < 0)


def test_bad_schedule_arguments_name_the_value():
    with pytest.raises(ValueError, match="timesteps=0"):
        NoiseSchedule(0)
    with pytest.raises(ValueError, match="kind='quadratic'"):
        NoiseSchedule(10, "quadratic")


def test_q_sample_is_the_closed_form_and_predict_x0_inverts_it():
    rng = np.random.default_rng(0)
    s = NoiseSchedule(50)
    x0 = rng.uniform(-1, 1, (6, 4, 4, 2)).astype("float32")
    eps = rng.standard_normal(x0.shape).astype("float32")
    t = rng.integers(0, 50, 6)
    ab = s.alpha_bars[t][:, None, None, None]
    expected = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps
    x_t = s.q_sample(x0, t, eps)
    np.testing.assert_allclose(_np(x_t), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _np(s.predict_x0(x_t, t, eps)), x0, rtol=1e-4, atol=1e-4
    )


def test_q_sample_has_the_mean_and_variance_of_q():
    s = NoiseSchedule(1000)
    x0 = np.full((20000, 1, 1, 1), 0.6, "float32")
    eps = np.random.default_rng(1).standard_normal(x0.shape)
    for t in (0, 300, 999):
        x_t = _np(s.q_sample(x0, np.full(20000, t), eps.astype("float32")))
        ab = s.alpha_bars[t]
        assert x_t.mean() == pytest.approx(math.sqrt(ab) * 0.6, abs=0.02)
        assert x_t.var() == pytest.approx(1 - ab, rel=0.05, abs=2e-5)


def test_loss_by_hand_and_against_numpy():
    assert float(diffusion_loss([[1.0, 0.0]], [[0.0, 2.0]])[0]) == 2.5
    rng = np.random.default_rng(2)
    eps, pred = rng.standard_normal((2, 3, 5, 4, 2))
    np.testing.assert_allclose(
        _np(diffusion_loss(eps, pred)),
        ((eps - pred) ** 2).reshape(3, -1).mean(axis=1),
        rtol=1e-5,
    )
    loss = DiffusionLoss()
    assert float(loss([[1.0, 0.0]], [[0.0, 2.0]])) == 2.5
    config = loss.get_config()
    assert set(config) == {"name", "reduction", "dtype"}
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(again, DiffusionLoss) and again.get_config() == config
    assert float(again(eps, pred)) == pytest.approx(
        float(np.mean((eps - pred) ** 2)), rel=1e-5
    )


def test_pixel_ranges():
    np.testing.assert_allclose(
        _np(to_model_range([0.0, 0.25, 1.0])), [-1, -0.5, 1]
    )
    np.testing.assert_allclose(_np(to_pixels([-2.0, -0.5, 1.5])), [0, 0.25, 1])


@pytest.mark.parametrize("t", [0, 1, 17, 99])
def test_ancestral_step_is_algorithm_2(t):
    s = NoiseSchedule(100)
    rng = np.random.default_rng(t)
    x_t, eps, z = rng.standard_normal((3, 4, 3, 3, 1)).astype("float32")
    alpha_t, beta_t = 1 - s.betas[t], s.betas[t]
    alpha_bar_t = np.prod(1 - s.betas[: t + 1])
    sigma_t = math.sqrt(beta_t) if t > 0 else 0.0  # z = 0 when t = 1
    expected = (
        1 / math.sqrt(alpha_t)
        * (x_t - (1 - alpha_t) / math.sqrt(1 - alpha_bar_t) * eps)
        + sigma_t * z
    )  # fmt: skip
    got = sampling.ancestral_step(s, x_t, t, eps, z)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def _toy_predictor(x, t):
    """Any eps-predictor will do for identities of the samplers."""
    return 0.3 * x + 0.01 * t[:, None, None, None].astype("float32")


def test_ddim_with_eta_1_and_all_steps_is_ancestral_with_posterior_noise():
    s = NoiseSchedule(30)
    rng = np.random.default_rng(3)
    for t in (1, 7, 29):  # one step: same mean, sigma^2 = beta~_t
        x_t, eps, z = rng.standard_normal((3, 2, 4, 4, 1)).astype("float32")
        np.testing.assert_allclose(
            sampling.ddim_step(s, x_t, t, t - 1, eps, eta=1.0, noise=z),
            sampling.ancestral_step(s, x_t, t, eps, z, "posterior"),
            rtol=1e-4,
            atol=1e-5,
        )
    x_T = rng.standard_normal((2, 4, 4, 1)).astype("float32")
    ddim = sampling.ddim_sample(_toy_predictor, s, x_T, 30, eta=1.0, seed=5)
    ddpm = sampling.ancestral_sample(
        _toy_predictor, s, x_T, seed=5, variance="posterior"
    )
    np.testing.assert_allclose(ddim, ddpm, rtol=1e-4, atol=1e-4)
    beta = sampling.ancestral_sample(_toy_predictor, s, x_T, seed=5)
    assert not np.allclose(beta, ddpm)  # sigma_t^2 = beta_t is another one


@pytest.mark.parametrize("steps", [1, 10, 1000])
def test_ddim_with_a_perfect_predictor_recovers_x0(steps):
    s = NoiseSchedule(1000)
    rng = np.random.default_rng(4)
    x0 = rng.uniform(-1, 1, (3, 4, 4, 1)).astype("float32")

    def perfect(x_t, t):  # the eps that takes x0 to x_t
        ab = s.alpha_bars[t][:, None, None, None]
        return ((x_t - np.sqrt(ab) * x0) / np.sqrt(1 - ab)).astype("float32")

    x_T = rng.standard_normal(x0.shape).astype("float32")
    out = sampling.ddim_sample(perfect, s, x_T, steps)
    np.testing.assert_allclose(out, x0, atol=1e-4)


def test_ddim_timesteps():
    np.testing.assert_array_equal(sampling.ddim_timesteps(5, 5), range(5))
    np.testing.assert_array_equal(
        sampling.ddim_timesteps(1000, 4), [0, 333, 666, 999]
    )
    np.testing.assert_array_equal(sampling.ddim_timesteps(1000, 1), [999])
    with pytest.raises(ValueError, match="steps=11"):
        sampling.ddim_timesteps(10, 11)


def test_samplers_are_reproducible_and_eta_0_ignores_the_seed():
    s = NoiseSchedule(20)
    x_T = np.random.default_rng(6).standard_normal((2, 4, 4, 1))
    a = sampling.ddim_sample(_toy_predictor, s, x_T, 5, seed=1)
    np.testing.assert_array_equal(
        a, sampling.ddim_sample(_toy_predictor, s, x_T, 5, seed=2)
    )
    b = sampling.ancestral_sample(_toy_predictor, s, x_T, seed=1)
    np.testing.assert_array_equal(
        b, sampling.ancestral_sample(_toy_predictor, s, x_T, seed=1)
    )
    assert not np.allclose(
        b, sampling.ancestral_sample(_toy_predictor, s, x_T, seed=2)
    )
    with pytest.raises(ValueError, match="variance='fixed'"):
        sampling.ancestral_sample(_toy_predictor, s, x_T, variance="fixed")


@pytest.mark.parametrize("t", [0, 1, 50, 99])
def test_clipping_changes_nothing_when_x0_hat_is_in_range(t):
    """Clipping takes the posterior mean mu~(x_t, x0_hat), which is
    Algorithm 2's mean when x0_hat is not clipped; and it does clip."""
    s = NoiseSchedule(100)
    rng = np.random.default_rng(t)
    x0 = rng.uniform(-0.9, 0.9, (4, 3, 3, 1))
    eps, z = rng.standard_normal((2, *x0.shape))
    x_t = _np(s.q_sample(x0, np.full(4, t), eps)).astype("float64")
    for step in (
        lambda clip: sampling.ancestral_step(s, x_t, t, eps, z, clip=clip),
        lambda clip: sampling.ddim_step(s, x_t, t, t - 5, eps, clip=clip),
    ):
        np.testing.assert_allclose(step(True), step(False), atol=2e-4)
    far = sampling.ddim_step(s, x_t, t, -1, eps + 50.0, clip=True)
    assert np.abs(far).max() <= 1.0 + 1e-6  # x0_hat clipped to [-1, 1]
