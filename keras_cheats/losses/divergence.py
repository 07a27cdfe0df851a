"""Divergences, cheat sheet 4.8 (Keras' KL divergence) and 4.8.1 (the
closed-form KL of a diagonal Gaussian from N(0, I), new code: Keras has no
such loss)."""

import keras
from keras import ops

from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def kl_divergence(y_true, y_pred):
    """Kullback-Leibler divergence KL(p || q), summed over the last axis.

    Cheat sheet 4.8:  L_KL = sum_i p(x_i) log( p(x_i) / q(x_i) )

    with p = `y_true` (the true distribution) and q = `y_pred` (the
    predicted one). Keras clips both to [1e-7, 1] first, so p = 0 adds
    1e-7 log(1e-7 / q) (at most ~2e-6) instead of exactly 0, and q = 0
    gives a finite value and gradient.

    Args:
        y_true: p, shape (batch, ..., N).
        y_pred: q, same shape.

    Returns:
        float32 tensor of shape (batch, ...).

    Example (0.5 log(0.5 / 0.25) + 0.5 log(0.5 / 0.75)):

    >>> round(float(kl_divergence([[0.5, 0.5]], [[0.25, 0.75]])[0]), 4)
    0.1438
    """
    return keras.losses.kl_divergence(to_float32(y_true), to_float32(y_pred))


@_register
class KLDivergence(DtypeInConfig, keras.losses.KLDivergence):
    """KL divergence, cheat sheet 4.8: Keras' `KLDivergence`.

    L_KL = sum_i p(x_i) log(p(x_i) / q(x_i)), p = y_true, q = y_pred; see
    `kl_divergence`.

    >>> round(float(KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]])), 4)
    0.1438
    """


def gaussian_kl(mean, log_var):
    """KL of N(mean, diag(exp(log_var))) from N(0, I), per sample.

    Cheat sheet 4.8.1 (the VAE regulariser), summed over the d latent
    dimensions:

        L_KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)

    Taking log sigma^2 keeps sigma^2 > 0 without constraints. In float32,
    exp(log_var) overflows above log_var ~ 88 (the divergence really is
    that large); log_var = -1e4 is fine.

    Args:
        mean: mu, shape (batch, d).
        log_var: log sigma^2, shape (batch, d).

    Returns:
        float32 tensor of shape (batch,) (all but the last axis kept).

    Example (mu = (1, 0), sigma^2 = (1, 2): -(-1 + log 2 - 1) / 2):

    >>> import math
    >>> round(float(gaussian_kl([[1.0, 0.0]], [[0.0, math.log(2)]])[0]), 4)
    0.6534
    """
    mean = to_float32(mean)
    log_var = to_float32(log_var)
    terms = 1.0 + log_var - ops.square(mean) - ops.exp(log_var)
    return -0.5 * ops.sum(terms, axis=-1)


@_register
class GaussianKL(DtypeInConfig, keras.losses.Loss):
    """Gaussian KL from N(0, I), cheat sheet 4.8.1, as a Keras loss.

    L_KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2); see
    `gaussian_kl`.

    Keras losses take (y_true, y_pred), so `y_pred` is the encoder output
    with mean and log-variance concatenated on the last axis,
    `concatenate([mean, log_var])`, shape (batch, 2d); `y_true` is ignored
    (pass zeros of any shape with the batch size).

    >>> import math
    >>> y_pred = [[1.0, 0.0, 0.0, math.log(2)]]
    >>> round(float(GaussianKL()([[0.0]], y_pred)), 4)
    0.6534
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="gaussian_kl", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_pred = to_float32(y_pred)
        width = y_pred.shape[-1]
        if width is not None and width % 2:
            raise ValueError(
                "`y_pred` must be concatenate([mean, log_var]) with an even "
                f"last axis; received y_pred.shape={tuple(y_pred.shape)}."
            )
        mean, log_var = ops.split(y_pred, 2, axis=-1)
        return gaussian_kl(mean, log_var)
