"""Variational autoencoder (Cheat sheet 7.4.2).

    mu, log sigma^2 = f_theta(x)                 (encoder)
    z = mu + sigma * eps,  eps ~ N(0, I)          (reparameterization)
    x' = g_phi(z)                                 (decoder)
    L_VAE = E[||x - x'||^2] + beta * D_KL(q_phi(z|x) || p(z))

The default follows the cheat sheet's PyTorch example: 784-128, two
20-unit heads for mu and log sigma^2, decoder 20-128-784 with a sigmoid.
`kind="conv"` puts 3x3 stride-2 convolutions before the Dense layers and
Conv2DTranspose layers after them.

Loss (`VAELoss`), per image, summed over pixels and latent dimensions:

    likelihood="mse":        ||x - x'||^2            + beta * KL
    likelihood="bernoulli":  sum_p BCE(x_p, x'_p)    + beta * KL

With "bernoulli" and beta = 1 this is the negative ELBO in nats,
-log p(x | z) + KL (one draw of z), the number VAE papers report. With
"mse" it is the negative ELBO of a Gaussian decoder N(x', I/2) less the
constant (P / 2) log(pi) for P pixels (P = 784: 448.7 nats), a density
of continuous images, so it is not comparable to Bernoulli nats.

Model interface:

    out = vae(images)    # dict, every call draws a fresh z
    out["reconstruction"]          # (B, H, W, C), sigmoid(logits)
    out["reconstruction_logits"]   # (B, H, W, C)
    out["mean"], out["log_var"], out["z"]   # (B, latent_dim)
    vae.sample(n)                  # n images decoded from z ~ N(0, I)
    vae.interpolate(x_a, x_b, 8)   # decoded means along a line
"""

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from keras_cheats import checks
from keras_cheats.layers.sampling import Sampling
from keras_cheats.losses import gaussian_kl
from keras_cheats.models.autoencoder import (
    build_decoder,
    check_image_shape,
    check_stack_config,
    encoder_body,
)

LIKELIHOODS = ("mse", "bernoulli")
TERMS = ("reconstruction", "kl", "neg_elbo")
_register = keras.saving.register_keras_serializable(package="keras_cheats")


def _check_seed(seed):
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool)
    ):
        raise ValueError(
            f"`seed` must be an int or None; received seed={seed!r}."
        )
    return seed


def check_likelihood(likelihood):
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"`likelihood` must be one of {list(LIKELIHOODS)}; "
            f"received likelihood={likelihood!r}."
        )
    return likelihood


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of `build_vae` (Cheat sheet 7.4.2).

    Args:
        kind: "mlp" (the cheat sheet's) or "conv" (Conv2D down,
            Conv2DTranspose up).
        latent_dim: size d of z (cheat sheet: 20).
        hidden_units: Dense layers after the input (mirrored in the
            decoder); cheat sheet: (128,).
        filters: "conv" only: filters of each 3x3 stride-2 convolution.
        activation: hidden activation.
        seed: seed of the sampling layer's random stream (None: random).
    """

    kind: str = "mlp"
    latent_dim: int = 20
    hidden_units: tuple = (128,)
    filters: tuple = (32, 64)
    activation: str = "relu"
    seed: int | None = None

    def __post_init__(self):
        check_stack_config(self)
        _check_seed(self.seed)


def build_encoder(image_shape, config, heads, name="encoder"):
    """The encoder f_theta: image -> one linear Dense head per entry.

    Args:
        image_shape: (H, W, C).
        config: a `VAEConfig` (or any object with kind, hidden_units,
            filters and activation).
        heads: ((name, units), ...), e.g. (("mean", d), ("log_var", d)).

    Returns:
        A functional `keras.Model` with one output per head, in order (a
        single tensor for a single head).
    """
    image = keras.Input(image_shape, name="image")
    features = encoder_body(
        image,
        config.kind,
        config.hidden_units,
        config.filters,
        config.activation,
    )
    outputs = [
        keras.layers.Dense(units, name=head)(features) for head, units in heads
    ]
    if len(outputs) == 1:
        outputs = outputs[0]
    return keras.Model(image, outputs, name=name)


@_register
class VAE(keras.Model):
    """Encoder -> Sampling -> decoder (Cheat sheet 7.4.2).

    Args:
        encoder: a model image -> [mean, log_var], each (B, d).
        decoder: a model z (B, d) -> pixel logits (B, H, W, C).
        seed: seed of the sampling layer (None: random).

    Call returns the dict described in the module docstring.
    """

    def __init__(self, encoder, decoder, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.seed = _check_seed(seed)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.latent_dim = int(decoder.inputs[0].shape[-1])

    def _moments(self, images, training=False):
        """(mean, log_var) of q(z | x); subclasses may have more outputs."""
        mean, log_var = self.encoder(images, training=training)
        return mean, log_var

    def call(self, images, training=False):
        mean, log_var = self._moments(images, training=training)
        z = self.sampling([mean, log_var])
        logits = self.decoder(z, training=training)
        return {
            "reconstruction": ops.sigmoid(logits),
            "reconstruction_logits": logits,
            "mean": mean,
            "log_var": log_var,
            "z": z,
        }

    def encode(self, images):
        """(mean, log_var) of q(z | x), each (N, d), in inference mode."""
        return self._moments(images, training=False)

    def decode(self, z):
        """Images (N, H, W, C) in [0, 1] for codes z (N, d)."""
        return ops.sigmoid(self.decoder(z, training=False))

    def reconstruct(self, images):
        """Decodes the mean of q(z | x): a reconstruction without noise."""
        return self.decode(self.encode(images)[0])

    def sample(self, n, seed=None):
        """Generation: n images decoded from z ~ p(z) = N(0, I).

        Args:
            n: number of images.
            seed: int for a repeatable draw, or None.

        Returns:
            Tensor (n, H, W, C) in [0, 1].
        """
        checks.positive_int("n", n)
        _check_seed(seed)
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.decode(z)

    def interpolate(self, image_a, image_b, steps=8):
        """Decodes z_t = (1 - t) mu_a + t mu_b for t = 0, 1/(steps-1), .., 1.

        Args:
            image_a, image_b: single images (H, W, C).
            steps: number of points on the line, >= 2.

        Returns:
            Tensor (steps, H, W, C); the first and last are the
            reconstructions of the two means.
        """
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
            raise ValueError(
                f"`steps` must be an int >= 2; received steps={steps!r}."
            )
        pair = np.stack([np.asarray(image_a), np.asarray(image_b)])
        mean = ops.convert_to_numpy(self.encode(pair.astype(np.float32))[0])
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return self.decode((1.0 - t) * mean[0] + t * mean[1])

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def build_vae(input_shape, config=None, name="vae"):
    """Build a `VAE` for images of `input_shape` (Cheat sheet 7.4.2).

    Args:
        input_shape: (H, W, C).
        config: a `VAEConfig` (default: the cheat sheet's 784-128-20 MLP).
        name: model name.

    Returns:
        A built `VAE`; its encoder outputs [mean, log_var], each
        (B, latent_dim), and its decoder pixel logits (B, H, W, C).
    """
    config = VAEConfig() if config is None else config
    if not isinstance(config, VAEConfig):
        raise ValueError(
            f"`config` must be a VAEConfig; received config={config!r}."
        )
    image_shape = check_image_shape(input_shape)
    d = config.latent_dim
    encoder = build_encoder(image_shape, config, (("mean", d), ("log_var", d)))
    decoder = build_decoder(
        d,
        image_shape,
        config.kind,
        config.hidden_units,
        config.filters,
        config.activation,
        output_activation=None,
    )
    vae = VAE(encoder, decoder, seed=config.seed, name=name)
    vae(np.zeros((1, *image_shape), np.float32))  # build
    return vae


def reconstruction_term(images, logits, likelihood="mse"):
    """-log p(x | z) up to constants, summed over pixels, per image.

    "mse":       ||x - sigmoid(logits)||^2
    "bernoulli": sum_p [-x_p log x'_p - (1 - x_p) log(1 - x'_p)], computed
                 from the logits (stable for saturated pixels).

    Args:
        images: x, (B, H, W, C) in [0, 1].
        logits: decoder logits, same shape.
        likelihood: "mse" or "bernoulli".

    Returns:
        float32 tensor (B,).
    """
    check_likelihood(likelihood)
    images = ops.cast(images, "float32")
    logits = ops.cast(logits, "float32")
    if likelihood == "mse":
        per_pixel = ops.square(images - ops.sigmoid(logits))
    else:
        per_pixel = ops.binary_crossentropy(images, logits, from_logits=True)
    axes = tuple(range(1, len(per_pixel.shape)))
    return ops.sum(per_pixel, axis=axes)


def vae_terms(images, outputs, likelihood="mse"):
    """(reconstruction, KL), each (B,), from a VAE's output dict."""
    recon = reconstruction_term(
        images, outputs["reconstruction_logits"], likelihood
    )
    return recon, gaussian_kl(outputs["mean"], outputs["log_var"])


@dataclass(frozen=True)
class VAELoss:
    """L_VAE = reconstruction + beta * KL per image (Cheat sheet 7.4.2).

    A per-example callable for `loops.supervised` and
    `loops.StepModel.compile`: `loss(images, outputs) -> (B,)` where
    `outputs` is the VAE's dict and the targets are the images themselves.

    Args:
        beta: weight of the KL term (1: the ELBO; > 1: a beta-VAE).
        likelihood: "mse" (the cheat sheet's) or "bernoulli".
    """

    beta: float = 1.0
    likelihood: str = "mse"

    def __post_init__(self):
        object.__setattr__(
            self, "beta", checks.rate("beta", self.beta, high=float("inf"))
        )
        check_likelihood(self.likelihood)

    def __call__(self, images, outputs):
        recon, kl = vae_terms(images, outputs, self.likelihood)
        return recon + self.beta * kl


@_register
class VAETerm(keras.metrics.Mean):
    """Mean over images of one term of the VAE objective.

    term="reconstruction": the reconstruction term of `likelihood`;
    term="kl": D_KL(q(z|x) || N(0, I)); term="neg_elbo": reconstruction +
    KL with the Bernoulli likelihood, in nats per image (beta = 1,
    whatever beta training used).

    `update_state(images, outputs)` takes the targets and the VAE's dict.
    """

    def __init__(
        self, term="reconstruction", likelihood="mse", name=None, **kw
    ):
        if term not in TERMS:
            raise ValueError(
                f"`term` must be one of {list(TERMS)}; received term={term!r}."
            )
        check_likelihood(likelihood)
        super().__init__(name=name or term, **kw)
        self.term, self.likelihood = term, likelihood

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.term == "kl":
            value = gaussian_kl(y_pred["mean"], y_pred["log_var"])
        else:
            likelihood = (
                "bernoulli" if self.term == "neg_elbo" else self.likelihood
            )
            recon, kl = vae_terms(y_true, y_pred, likelihood)
            value = recon + kl if self.term == "neg_elbo" else recon
        return super().update_state(value, sample_weight=sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "term": self.term,
            "likelihood": self.likelihood,
        }


def vae_metrics(likelihood="mse"):
    """The reconstruction and KL terms, plus the negative ELBO in nats when
    the likelihood is Bernoulli."""
    metrics = [
        VAETerm("reconstruction", likelihood),
        VAETerm("kl", likelihood),
    ]
    if likelihood == "bernoulli":
        metrics.append(VAETerm("neg_elbo", likelihood))
    return metrics
