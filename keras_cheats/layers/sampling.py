"""The reparameterization trick of the VAE (Cheat sheet 7.4.2).

The encoder gives the mean mu and the log-variance log sigma^2 of
q(z | x) = N(mu, sigma^2 I). Sampling z ~ q directly has no gradient with
respect to mu and sigma, so the cheat sheet writes

    z = mu + sigma * eps,   eps ~ N(0, I),   sigma = exp(log sigma^2 / 2)

which moves the randomness into eps: dz/dmu = 1 and
dz/d(log sigma^2) = sigma * eps / 2 are ordinary derivatives.
"""

import keras
from keras import ops


def reparameterize(mean, log_var, eps):
    """z = mean + exp(log_var / 2) * eps, elementwise (Cheat sheet 7.4.2).

    Args:
        mean: mu, shape (batch, d).
        log_var: log sigma^2, shape (batch, d).
        eps: standard normal noise, shape (batch, d).

    Returns:
        z, shape (batch, d).
    """
    return mean + ops.exp(0.5 * log_var) * eps


@keras.saving.register_keras_serializable(package="keras_cheats")
class Sampling(keras.layers.Layer):
    """Draws z = mu + sigma * eps with eps ~ N(0, I) (Cheat sheet 7.4.2).

    The layer samples in training and in inference alike: a VAE's test
    loss (the negative ELBO) is an expectation over q(z | x) and is
    estimated with one draw per image. To decode the mean instead, skip
    the layer (e.g. `VAE.reconstruct`).

    Args:
        seed: seed of the layer's own random stream (None: random).

    Call arguments:
        inputs: `[mean, log_var]`, each (batch, d).

    Returns:
        z, shape (batch, d).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (
            not isinstance(seed, int) or isinstance(seed, bool)
        ):
            raise ValueError(
                f"`seed` must be an int or None; received seed={seed!r}."
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = _unpack(inputs)
        eps = keras.random.normal(
            ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator
        )
        return reparameterize(mean, log_var, eps)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config


def _unpack(inputs):
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(
            "`inputs` must be [mean, log_var]; received "
            f"{type(inputs).__name__} of length "
            f"{len(inputs) if hasattr(inputs, '__len__') else '?'}."
        )
    mean, log_var = inputs
    if tuple(mean.shape) != tuple(log_var.shape):
        raise ValueError(
            "`mean` and `log_var` must have the same shape; received "
            f"mean.shape={tuple(mean.shape)}, "
            f"log_var.shape={tuple(log_var.shape)}."
        )
    return mean, log_var
