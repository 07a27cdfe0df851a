r"""Denoising diffusion probabilistic models (Ho et al. 2020; Cheat sheet
7.4.4): the noise schedule, the forward process and the training loss.

A fixed Markov chain adds Gaussian noise to an image x_0 in T steps,

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I),

and with alpha_t = 1 - beta_t and alpha_bar_t = prod_{s <= t} alpha_s
any step has a closed form (`NoiseSchedule.q_sample`):

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,  eps ~ N(0, I).

A network eps_theta(x_t, t) learns to predict the noise with the
simplified loss (`diffusion_loss`)

    L_simple = E_{t, x_0, eps} || eps - eps_theta(x_t, t) ||^2

(t ~ U{1..T}); sampling runs the chain backwards from x_T ~ N(0, I)
(`keras_cheats.models.diffusion_sampling`). Images live in [-1, 1]
(`to_model_range`, `to_pixels`).

Indexing: arrays are 0-based, so entry i of `betas` is the paper's
beta_{i+1}, and a time index t in {0, ..., T-1} is fed to the network.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import DtypeInConfig, to_float32

SCHEDULES = ("linear", "cosine")


def linear_betas(timesteps, beta_start=1e-4, beta_end=0.02):
    """beta_t evenly spaced from beta_1 to beta_T (Ho et al. 2020: 1e-4 to
    0.02 for T = 1000); float64, shape (T,)."""
    return np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)


def cosine_betas(timesteps, offset=0.008, max_beta=0.999):
    """Nichol & Dhariwal 2021: alpha_bar(t) = f(t) / f(0) with
    f(t) = cos^2((t / T + s) / (1 + s) * pi / 2), s = `offset`, and
    beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1) clipped to `max_beta`."""
    steps = np.arange(timesteps + 1, dtype=np.float64) / timesteps
    f = np.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], max_beta)


class NoiseSchedule:
    """beta_t, alpha_t, alpha_bar_t of a T-step diffusion (Cheat sheet 7.4.4).

    Args:
        timesteps: T, the number of noising steps.
        kind: "linear" (Ho et al.: beta from `beta_start` to `beta_end`;
            with T much below 1000, x_T keeps some of x_0) or "cosine"
            (Nichol & Dhariwal 2021).
        beta_start, beta_end: the linear schedule's beta_1 and beta_T.

    Attributes (float64 NumPy arrays of shape (T,), 0-based):
        betas, alphas (1 - beta), alpha_bars (cumulative products),
        alpha_bars_prev (alpha_bar_{t-1}, 1 before the first step),
        posterior_variances (beta~_t = (1 - alpha_bar_{t-1}) /
        (1 - alpha_bar_t) beta_t, the variance of q(x_{t-1} | x_t, x_0)).
    """

    def __init__(self, timesteps=1000, kind="linear", beta_start=1e-4,
                 beta_end=0.02):  # fmt: skip
        self.timesteps = checks.positive_int("timesteps", timesteps)
        self.kind = checks.choice("kind", kind, SCHEDULES)
        self.beta_start = checks.interval(
            "beta_start", beta_start, 0.0, 1.0, low_open=True
        )
        self.beta_end = checks.interval(
            "beta_end", beta_end, self.beta_start, 1.0
        )
        if kind == "linear":
            betas = linear_betas(timesteps, self.beta_start, self.beta_end)
        else:
            betas = cosine_betas(timesteps)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alpha_bars = np.cumprod(self.alphas)
        self.alpha_bars_prev = np.concatenate([[1.0], self.alpha_bars[:-1]])
        self.posterior_variances = (
            (1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars) * betas
        )

    def get_config(self):
        return {
            "timesteps": self.timesteps,
            "kind": self.kind,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
        }

    def gather(self, name, t, ndim=4):
        """Entry t of the attribute `name` as a float32 tensor of shape
        (B, 1, ..., 1) with `ndim` axes, to broadcast over (B, H, W, C)."""
        values = ops.convert_to_tensor(getattr(self, name), "float32")
        picked = ops.take(values, ops.cast(t, "int32"), axis=0)
        return ops.reshape(picked, (-1,) + (1,) * (ndim - 1))

    def q_sample(self, x0, t, noise):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.

        Args:
            x0: (B, H, W, C) images in [-1, 1].
            t: (B,) integer time indices in {0, ..., T-1}.
            noise: eps, the shape of `x0`.

        Returns:
            x_t, float32, the shape of `x0`: a draw of q(x_t | x_0).
        """
        x0, noise = to_float32(x0), to_float32(noise)
        ab = self.gather("alpha_bars", t, len(x0.shape))
        return ops.sqrt(ab) * x0 + ops.sqrt(1.0 - ab) * noise

    def predict_x0(self, x_t, t, eps):
        """x_0 from x_t and the noise in it: (x_t - sqrt(1 - a_t) eps) /
        sqrt(a_t), a_t = alpha_bar_t (inverts `q_sample`)."""
        x_t, eps = to_float32(x_t), to_float32(eps)
        ab = self.gather("alpha_bars", t, len(x_t.shape))
        return (x_t - ops.sqrt(1.0 - ab) * eps) / ops.sqrt(ab)


def to_model_range(pixels):
    """Pixels in [0, 1] -> the model's [-1, 1]: 2x - 1."""
    return 2.0 * to_float32(pixels) - 1.0


def to_pixels(x):
    """The model's [-1, 1] -> pixels in [0, 1], clipped: (x + 1) / 2."""
    return ops.clip((to_float32(x) + 1.0) / 2.0, 0.0, 1.0)


def diffusion_loss(y_true, y_pred):
    """L_simple per example: || eps - eps_theta(x_t, t) ||^2 / D.

    Cheat sheet 7.4.4 (Ho et al. 2020, eq. 14), the squared error of the
    predicted noise averaged over the D = H * W * C entries of an image
    (as Ho et al.'s code does; the sum differs by the constant factor D).

    Args:
        y_true: eps, the noise added, shape (B, ...).
        y_pred: eps_theta(x_t, t), the network's prediction, same shape.

    Returns:
        float32 tensor of shape (B,).

    Example ((1 - 0)^2 + (0 - 2)^2 over two entries):

    >>> float(diffusion_loss([[1.0, 0.0]], [[0.0, 2.0]])[0])
    2.5
    """
    y_true, y_pred = to_float32(y_true), to_float32(y_pred)
    squared = ops.square(y_true - y_pred)
    return ops.mean(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=1)


@keras.saving.register_keras_serializable(package="keras_cheats")
class DiffusionLoss(DtypeInConfig, keras.losses.Loss):
    """L_simple = || eps - eps_theta(x_t, t) ||^2 / D, Cheat sheet 7.4.4;
    see `diffusion_loss`.

    Args:
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> float(DiffusionLoss()([[1.0, 0.0]], [[0.0, 2.0]]))
    2.5
    """

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="diffusion_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return diffusion_loss(y_true, y_pred)
