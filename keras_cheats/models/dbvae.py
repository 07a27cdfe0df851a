"""Debiasing variational autoencoder, DB-VAE (Cheat sheet 7.4.2;
Amini, Soleimany, Schwarting, Bhatia and Rus 2019, "Uncovering and
Mitigating Algorithmic Bias through Learned Latent Structure").

The encoder is the classifier: one network gives the class logit and the
mean and log-variance of q(z | x); a decoder reconstructs the input from a
sample z. The loss is the cheat sheet's

    L_total = L_y(y, y_hat) + I_f(y) * L_VAE
    L_VAE   = reconstruction + beta * KL        (as in `vae.VAELoss`)

with L_y the binary cross-entropy on every image and I_f(y) = 1 only for
the indicator class (the class whose hidden subgroups may be rare), so the
latent space models that class alone. `keras_cheats.debias` turns that
latent space into per-image sampling probabilities (adaptive resampling).

The default architecture is a small convolutional network (the MIT 6.S191
lab's is larger, for 64x64 faces): 3x3 stride-2 convolutions 32, 64,
dense 128, then Dense heads logit (1), mean (d), log_var (d); the decoder
mirrors it with Conv2DTranspose.

Targets are a dict {"image": x, "label": y} with integer labels; the
indicator is `label == target_class`, so the same loss serves digit labels
(target_class = the digit) and binary labels (target_class = 1).
"""

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from keras_cheats import checks
from keras_cheats.models.autoencoder import build_decoder, check_image_shape
from keras_cheats.models.vae import (
    VAE,
    VAEConfig,
    build_encoder,
    check_likelihood,
    vae_terms,
)

_register = keras.saving.register_keras_serializable(package="keras_cheats")


@dataclass(frozen=True)
class DBVAEConfig(VAEConfig):
    """Architecture of `build_dbvae`: a `VAEConfig` with other defaults.

    Args:
        kind: "conv" (default) or "mlp".
        latent_dim: size d of z (default 16).
        hidden_units: Dense layers after the convolutions (mirrored in the
            decoder).
        filters: "conv" only: filters of each 3x3 stride-2 convolution.
        activation: hidden activation.
        seed: seed of the sampling layer (None: random).
    """

    kind: str = "conv"
    latent_dim: int = 16


@_register
class DBVAE(VAE):
    """A VAE whose encoder also classifies.

    Args:
        encoder: a model image -> [logit (B, 1), mean (B, d), log_var (B, d)].
        decoder: a model z (B, d) -> pixel logits (B, H, W, C).
        seed: seed of the sampling layer (None: random).

    Call returns the VAE's dict plus "logit" (B,) and "probability" (B,),
    the probability of the indicator class.
    """

    def _heads(self, images, training=False):
        logit, mean, log_var = self.encoder(images, training=training)
        return ops.squeeze(logit, axis=-1), mean, log_var

    def _moments(self, images, training=False):
        return self._heads(images, training=training)[1:]

    def call(self, images, training=False):
        logit, mean, log_var = self._heads(images, training=training)
        z = self.sampling([mean, log_var])
        logits = self.decoder(z, training=training)
        return {
            "logit": logit,
            "probability": ops.sigmoid(logit),
            "reconstruction": ops.sigmoid(logits),
            "reconstruction_logits": logits,
            "mean": mean,
            "log_var": log_var,
            "z": z,
        }

    def classify(self, images):
        """Probability (N,) of the indicator class, in inference mode."""
        return ops.sigmoid(self._heads(images, training=False)[0])


def build_dbvae(input_shape, config=None, name="dbvae"):
    """Build a `DBVAE` for images of `input_shape`.

    Args:
        input_shape: (H, W, C).
        config: a `DBVAEConfig`.
        name: model name.

    Returns:
        A built `DBVAE`.
    """
    config = DBVAEConfig() if config is None else config
    if not isinstance(config, DBVAEConfig):
        raise ValueError(
            f"`config` must be a DBVAEConfig; received config={config!r}."
        )
    image_shape = check_image_shape(input_shape)
    d = config.latent_dim
    encoder = build_encoder(
        image_shape, config, (("logit", 1), ("mean", d), ("log_var", d))
    )
    decoder = build_decoder(
        d,
        image_shape,
        config.kind,
        config.hidden_units,
        config.filters,
        config.activation,
        output_activation=None,
    )
    model = DBVAE(encoder, decoder, seed=config.seed, name=name)
    model(np.zeros((1, *image_shape), np.float32))  # build
    return model


def build_classifier(input_shape, config=None, name="classifier"):
    """The DB-VAE's encoder with only its logit head: the plain classifier
    to compare against (same layers, no decoder, no VAE loss).

    Returns:
        A functional `keras.Model` image -> logit (B, 1).
    """
    config = DBVAEConfig() if config is None else config
    if not isinstance(config, DBVAEConfig):
        raise ValueError(
            f"`config` must be a DBVAEConfig; received config={config!r}."
        )
    image_shape = check_image_shape(input_shape)
    return build_encoder(image_shape, config, (("logit", 1),), name=name)


def indicator(labels, target_class):
    """I_f(y): 1.0 where label == target_class, else 0.0; shape (B,)."""
    labels = ops.reshape(labels, (-1,))
    return ops.cast(
        ops.equal(labels, ops.cast(target_class, labels.dtype)), "float32"
    )


@dataclass(frozen=True)
class DBVAELoss:
    """L_total = BCE(I_f(y), logit) + I_f(y) * vae_weight * L_VAE, per image.

    A per-example callable `loss(targets, outputs) -> (B,)` for
    `loops.supervised` and `loops.StepModel.compile`, with targets
    {"image": x, "label": y}.

    Args:
        target_class: the indicator class (label value with I_f = 1).
        beta: KL weight inside L_VAE.
        likelihood: "mse" (||x - x'||^2) or "bernoulli" (summed BCE).
        vae_weight: weight of L_VAE against the classification loss
            (default 0.01). The reconstruction is summed over pixels (tens
            per 28x28 image with "mse") while the cross-entropy is below 1,
            so a small weight keeps the shared encoder a classifier first.
    """

    target_class: int = 1
    beta: float = 1.0
    likelihood: str = "mse"
    vae_weight: float = 0.01

    def __post_init__(self):
        if not isinstance(self.target_class, (int, np.integer)) or isinstance(
            self.target_class, bool
        ):
            raise ValueError(
                "`target_class` must be an int; received "
                f"target_class={self.target_class!r}."
            )
        object.__setattr__(
            self, "beta", checks.rate("beta", self.beta, high=float("inf"))
        )
        object.__setattr__(
            self,
            "vae_weight",
            checks.rate("vae_weight", self.vae_weight, high=float("inf")),
        )
        check_likelihood(self.likelihood)

    def terms(self, targets, outputs):
        """(classification (B,), VAE loss (B,), indicator (B,))."""
        is_target = indicator(targets["label"], self.target_class)
        classification = ops.binary_crossentropy(
            is_target, ops.cast(outputs["logit"], "float32"), from_logits=True
        )
        recon, kl = vae_terms(targets["image"], outputs, self.likelihood)
        return classification, recon + self.beta * kl, is_target

    def __call__(self, targets, outputs):
        classification, vae_loss, is_target = self.terms(targets, outputs)
        return classification + is_target * self.vae_weight * vae_loss


def dbvae_targets(images, labels):
    """Pipeline map (images, labels) -> (images, {"image", "label"})."""
    return images, {"image": images, "label": labels}


@_register
class IndicatorAccuracy(keras.metrics.Mean):
    """Accuracy of the binary decision probability > 0.5 vs I_f(y).

    `update_state(targets, outputs)`: targets {"label": y} (or the labels),
    outputs a dict with "logit" (or the logits themselves).
    """

    def __init__(self, target_class=1, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.target_class = int(target_class)

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = y_true["label"] if isinstance(y_true, dict) else y_true
        logit = y_pred["logit"] if isinstance(y_pred, dict) else y_pred
        truth = indicator(labels, self.target_class)
        guess = ops.cast(ops.reshape(logit, (-1,)) > 0, "float32")
        correct = ops.cast(ops.equal(truth, guess), "float32")
        return super().update_state(correct, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "target_class": self.target_class}
