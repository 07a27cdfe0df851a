r"""Sampling a trained diffusion model (Cheat sheet 7.4.4): the ancestral
sampler of Ho et al. 2020 and the DDIM sampler of Song et al. 2021.

Both start from x_T ~ N(0, I) and call `predict_noise(x_t, t)`, the
network eps_theta, once per step (`noise_predictor` wraps a Keras
denoiser). Arrays are float32 NumPy arrays in the model's [-1, 1] range;
time indices are 0-based (index t is the paper's t + 1, see
`keras_cheats.models.diffusion`); a = alpha_bar.

Ancestral sampling (Ho et al., Algorithm 2), T steps t = T-1, ..., 0:

    x_{t-1} = (x_t - beta_t / sqrt(1 - a_t) eps_theta(x_t, t)) / sqrt(alpha_t)
              + sigma_t z,   z ~ N(0, I), no noise at the last step,

with sigma_t^2 = beta_t ("beta") or the posterior variance
beta~_t = (1 - a_{t-1}) / (1 - a_t) beta_t ("posterior"); the paper
found both to give similar samples.

DDIM (Song et al. 2021, eq. 12), on an increasing subsequence
tau_1 < ... < tau_S of the T steps, from t = tau_i to s = tau_{i-1}
(a_s = 1 after the first one):

    x0_hat = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
    x_s = sqrt(a_s) x0_hat + sqrt(1 - a_s - sigma^2) eps + sigma z
    sigma = eta sqrt((1 - a_s) / (1 - a_t)) sqrt(1 - a_t / a_s)

eta = 0 is deterministic (x_T determines the image). With S = T and
eta = 1, sigma^2 = beta~_t and the mean is the posterior mean: DDIM is
then the ancestral sampler with the "posterior" variance.
"""

import numpy as np

VARIANCES = ("beta", "posterior")


def _check_variance(variance):
    if variance not in VARIANCES:
        raise ValueError(
            f"`variance` must be one of {list(VARIANCES)}; received "
            f"variance={variance!r}."
        )


def _normal(shape, seed, step):
    """z ~ N(0, I), float32, a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    return rng.standard_normal(shape).astype(np.float32)


def noise_predictor(model):
    """`predict_noise(x_t, t) -> eps` from a Keras denoiser taking
    [x_t (B, H, W, C), t (B,) int32] (compiled once, NumPy out)."""

    def predict_noise(x_t, t):
        return np.asarray(model.predict_on_batch([x_t, t]), np.float32)

    return predict_noise


def ancestral_step(schedule, x_t, t, eps, noise, variance="beta", clip=False):
    """One step of Algorithm 2: x_t -> x_{t-1} (see the module doc).

    Args:
        schedule: a `NoiseSchedule`.
        x_t: (B, ...) the current sample.
        t: the int time index of `x_t`, in {0, ..., T-1}.
        eps: eps_theta(x_t, t), the shape of `x_t`.
        noise: z, the shape of `x_t` (ignored at t = 0).
        variance: "beta" (sigma_t^2 = beta_t) or "posterior" (beta~_t).
        clip: clip the implied x0_hat to [-1, 1] and take the mean of
            q(x_{t-1} | x_t, x0_hat) (as Ho et al.'s released code does);
            the same mean as Algorithm 2 when nothing is clipped.

    Returns:
        x_{t-1}, float32, the shape of `x_t`.
    """
    _check_variance(variance)
    beta, alpha = schedule.betas[t], schedule.alphas[t]
    a, a_prev = schedule.alpha_bars[t], schedule.alpha_bars_prev[t]
    if clip:
        x0 = np.clip((x_t - np.sqrt(1.0 - a) * eps) / np.sqrt(a), -1, 1)
        # mu~ = sqrt(a_{t-1}) beta_t / (1 - a_t) x0
        #       + sqrt(alpha_t) (1 - a_{t-1}) / (1 - a_t) x_t
        mean = (
            np.sqrt(a_prev) * beta * x0 + np.sqrt(alpha) * (1.0 - a_prev) * x_t
        ) / (1.0 - a)
    else:
        mean = (x_t - beta / np.sqrt(1.0 - a) * eps) / np.sqrt(alpha)
    if t == 0:
        return mean.astype(np.float32)
    var = beta if variance == "beta" else schedule.posterior_variances[t]
    return (mean + np.sqrt(var) * noise).astype(np.float32)


def ancestral_sample(
    predict_noise, schedule, x_T, seed=0, variance="beta", clip=False
):
    """x_0 from x_T by T ancestral steps (Ho et al., Algorithm 2).

    Args:
        predict_noise: `(x_t, t (B,) int32) -> eps`.
        schedule: a `NoiseSchedule`.
        x_T: (B, H, W, C) float32 draws of N(0, I).
        seed: seeds the noise z of every step.
        variance: "beta" or "posterior" (see `ancestral_step`).
        clip: clip x0_hat to [-1, 1] at each step (see `ancestral_step`).

    Returns:
        (B, H, W, C) float32 samples in about [-1, 1].
    """
    x = np.asarray(x_T, np.float32)
    for t in reversed(range(schedule.timesteps)):
        eps = predict_noise(x, np.full((len(x),), t, np.int32))
        x = ancestral_step(
            schedule, x, t, eps, _normal(x.shape, seed, t), variance, clip
        )
    return x


def ddim_timesteps(timesteps, steps):
    """tau: `steps` increasing time indices spread evenly over
    {0, ..., timesteps - 1}, the first 0 and the last T - 1."""
    if not isinstance(steps, int) or not 1 <= steps <= timesteps:
        raise ValueError(
            f"`steps` must be an int in [1, {timesteps}] (the schedule's "
            f"T); received steps={steps!r}."
        )
    if steps == 1:
        return np.array([timesteps - 1])
    return np.round(np.linspace(0, timesteps - 1, steps)).astype(np.int64)


def ddim_step(schedule, x_t, t, s, eps, eta=0.0, noise=None, clip=False):
    """One DDIM step x_t -> x_s, s < t (s = -1: the final x_0).

    Args:
        schedule: a `NoiseSchedule`.
        x_t: (B, ...) the current sample.
        t, s: int time indices, -1 <= s < t.
        eps: eps_theta(x_t, t), the shape of `x_t`.
        eta: 0 for the deterministic DDIM, 1 for DDPM's posterior noise.
        noise: z, the shape of `x_t`; needed when eta > 0.
        clip: clip x0_hat to [-1, 1], and use the noise that it implies,
            (x_t - sqrt(a_t) x0_hat) / sqrt(1 - a_t), in place of `eps`.

    Returns:
        x_s, float32, the shape of `x_t`.
    """
    a_t = schedule.alpha_bars[t]
    a_s = 1.0 if s < 0 else schedule.alpha_bars[s]
    x0 = (x_t - np.sqrt(1.0 - a_t) * eps) / np.sqrt(a_t)
    if clip:
        x0 = np.clip(x0, -1.0, 1.0)
        eps = (x_t - np.sqrt(a_t) * x0) / np.sqrt(1.0 - a_t)
    var = eta**2 * (1.0 - a_s) / (1.0 - a_t) * (1.0 - a_t / a_s)
    x_s = np.sqrt(a_s) * x0 + np.sqrt(max(1.0 - a_s - var, 0.0)) * eps
    if var > 0:
        x_s = x_s + np.sqrt(var) * noise
    return x_s.astype(np.float32)


def ddim_sample(
    predict_noise, schedule, x_T, steps, eta=0.0, seed=0, clip=False
):
    """x_0 from x_T in `steps` DDIM steps (Song et al. 2021).

    Args:
        predict_noise: `(x_t, t (B,) int32) -> eps`.
        schedule: a `NoiseSchedule`.
        x_T: (B, H, W, C) float32 draws of N(0, I).
        steps: S, the length of the subsequence (`ddim_timesteps`).
        eta: 0 (deterministic) to 1; the noise is seeded by `seed`.
        seed: seeds the noise z when eta > 0.
        clip: clip x0_hat to [-1, 1] at each step (see `ddim_step`).

    Returns:
        (B, H, W, C) float32 samples in about [-1, 1].
    """
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"`eta` must be in [0, 1]; received eta={eta!r}.")
    tau = ddim_timesteps(schedule.timesteps, steps)
    x = np.asarray(x_T, np.float32)
    for i in reversed(range(len(tau))):
        t, s = int(tau[i]), int(tau[i - 1]) if i > 0 else -1
        eps = predict_noise(x, np.full((len(x),), t, np.int32))
        noise = _normal(x.shape, seed, t) if eta > 0 else None
        x = ddim_step(schedule, x, t, s, eps, eta, noise, clip)
    return x
