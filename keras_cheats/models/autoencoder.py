"""Autoencoder (Cheat sheet 7.4.1): an encoder, a decoder, x' ~ x.

    z  = f_theta(x)      (encoder)
    x' = g_phi(z)        (decoder)
    L_AE = ||x - x'||^2  (trained here as the mean over pixels, Keras' MSE)

The default is the cheat sheet's model, 784-128-784: Flatten,
Dense(128, ReLU) as the code, Dense(784, sigmoid), reshaped to the image.
`kind="conv"` uses 3x3 stride-2 convolutions down and Conv2DTranspose
back up (28x28x1 -> 14x14x32 -> 7x7x64 -> code -> 7x7x64 -> 14x14x64 ->
28x28x32 -> 28x28x1). `noise > 0` makes a denoising autoencoder: Gaussian
noise of that standard deviation is added to the inputs in training only,
while the targets stay the clean images.

The encoder and decoder stacks are shared with the VAE and the DB-VAE
(`encoder_body`, `build_decoder`). `reconstruction_error` is the anomaly
score the cheat sheet mentions: inputs unlike the training data
reconstruct worse.
"""

import math
from dataclasses import dataclass

import keras
import numpy as np

from keras_cheats import checks

KINDS = ("mlp", "conv")


def check_kind(kind):
    if kind not in KINDS:
        raise ValueError(
            f"`kind` must be one of {list(KINDS)}; received kind={kind!r}."
        )
    return kind


def check_image_shape(input_shape):
    """(H, W, C) as a tuple of ints, or ValueError."""
    shape = checks.input_shape(input_shape)
    if len(shape) != 3:
        raise ValueError(
            "`input_shape` must be an image shape (H, W, C); "
            f"received input_shape={input_shape!r}."
        )
    return shape


def check_stack_config(config):
    """Validates the encoder/decoder fields shared by the AE, VAE and
    DB-VAE configs (kind, latent_dim, hidden_units, filters, activation),
    normalizing the unit and filter lists to tuples in place."""
    check_kind(config.kind)
    checks.positive_int("latent_dim", config.latent_dim)
    for name in ("hidden_units", "filters"):
        object.__setattr__(
            config, name, checks.positive_ints(name, getattr(config, name))
        )
    if config.kind == "conv" and not config.filters:
        raise ValueError(
            "`filters` must name at least one convolution for "
            f"kind='conv'; received filters={config.filters!r}."
        )
    checks.keras_object(
        "activation",
        config.activation,
        keras.activations.get,
        checks.ACTIVATION_HELP,
    )


@dataclass(frozen=True)
class AutoencoderConfig:
    """Hyperparameters of `build_autoencoder` (Cheat sheet 7.4.1).

    Args:
        kind: "mlp" (Dense layers, the cheat sheet's) or "conv".
        latent_dim: size of the code z (cheat sheet: 128).
        hidden_units: Dense layers between the input and the code (mirrored
            in the decoder); the cheat sheet has none.
        filters: "conv" only: filters of each 3x3 stride-2 convolution.
        activation: activation of the hidden layers and of the code.
        noise: standard deviation of the Gaussian noise added to the inputs
            in training (0 = a plain autoencoder, > 0 = denoising).
    """

    kind: str = "mlp"
    latent_dim: int = 128
    hidden_units: tuple = ()
    filters: tuple = (32, 64)
    activation: str = "relu"
    noise: float = 0.0

    def __post_init__(self):
        check_stack_config(self)
        checks.rate("noise", self.noise, high=math.inf)


def encoder_body(inputs, kind, hidden_units, filters, activation):
    """The shared encoder stack: image -> feature vector.

    "mlp": Flatten, then Dense(units, activation) per `hidden_units`.
    "conv": Conv2D(f, 3, strides=2, "same", activation) per `filters`,
    Flatten, then the Dense layers.

    Args:
        inputs: a symbolic (batch, H, W, C) tensor.

    Returns:
        A symbolic (batch, features) tensor.
    """
    x = inputs
    if kind == "conv":
        for i, f in enumerate(filters, start=1):
            x = keras.layers.Conv2D(
                f,
                3,
                strides=2,
                padding="same",
                activation=activation,
                name=f"conv_{i}",
            )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(
            x
        )
    return x


def build_decoder(
    latent_dim,
    image_shape,
    kind,
    hidden_units,
    filters,
    activation,
    output_activation,
    name="decoder",
):
    """The decoder g_phi: z (batch, latent_dim) -> x' (batch, H, W, C).

    Mirrors `encoder_body`: Dense layers in reverse order of
    `hidden_units`; then "mlp": Dense(H*W*C, output_activation) reshaped;
    "conv": Dense to the smallest feature map (ceil(H / 2^n), same for W,
    n = len(filters)), Conv2DTranspose(f, 3, strides=2) per reversed
    `filters`, a last Conv2DTranspose(C, 3) with `output_activation`, and a
    crop when 2^n does not divide H or W.

    Returns:
        A functional `keras.Model` named `name`.
    """
    height, width, channels = image_shape
    z = keras.Input((latent_dim,), name="z")
    x = z
    for i, units in enumerate(reversed(hidden_units), start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(
            x
        )
    if kind == "mlp":
        x = keras.layers.Dense(
            height * width * channels,
            activation=output_activation,
            name="pixels",
        )(x)
        x = keras.layers.Reshape(image_shape, name="image")(x)
        return keras.Model(z, x, name=name)
    n = len(filters)
    h0, w0 = -(-height // 2**n), -(-width // 2**n)
    x = keras.layers.Dense(
        h0 * w0 * filters[-1], activation=activation, name="project"
    )(x)
    x = keras.layers.Reshape((h0, w0, filters[-1]), name="feature_map")(x)
    for i, f in enumerate(reversed(filters), start=1):
        x = keras.layers.Conv2DTranspose(
            f,
            3,
            strides=2,
            padding="same",
            activation=activation,
            name=f"deconv_{i}",
        )(x)
    x = keras.layers.Conv2DTranspose(
        channels,
        3,
        padding="same",
        activation=output_activation,
        name="pixels",
    )(x)
    extra_h, extra_w = h0 * 2**n - height, w0 * 2**n - width
    if extra_h or extra_w:  # e.g. 7x7 -> 4x4 -> 8x8: crop one row, one col
        x = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), name="crop")(
            x
        )
    return keras.Model(z, x, name=name)


def build_autoencoder(input_shape, config=None, name="autoencoder"):
    """Build the autoencoder x -> z -> x' (Cheat sheet 7.4.1).

    Args:
        input_shape: (H, W, C), e.g. (28, 28, 1).
        config: an `AutoencoderConfig` (default: the cheat sheet's
            784-128-784, ReLU code, sigmoid output).
        name: model name.

    Returns:
        A functional `keras.Model` (batch, H, W, C) -> (batch, H, W, C) in
        [0, 1], with sub-models `get_layer("encoder")` (image -> z) and
        `get_layer("decoder")` (z -> image).
    """
    config = AutoencoderConfig() if config is None else config
    if not isinstance(config, AutoencoderConfig):
        raise ValueError(
            "`config` must be an AutoencoderConfig; "
            f"received config={config!r}."
        )
    image_shape = check_image_shape(input_shape)
    image = keras.Input(image_shape, name="image")
    features = encoder_body(
        image,
        config.kind,
        config.hidden_units,
        config.filters,
        config.activation,
    )
    code = keras.layers.Dense(
        config.latent_dim, activation=config.activation, name="code"
    )(features)
    encoder = keras.Model(image, code, name="encoder")
    decoder = build_decoder(
        config.latent_dim,
        image_shape,
        config.kind,
        config.hidden_units,
        config.filters,
        config.activation,
        output_activation="sigmoid",
    )
    inputs = keras.Input(image_shape, name="inputs")
    x = inputs
    if config.noise > 0:  # active in training only: denoising
        x = keras.layers.GaussianNoise(config.noise, name="noise")(x)
    outputs = decoder(encoder(x))
    return keras.Model(inputs, outputs, name=name)


def reconstruction_error(model, images, batch_size=256):
    """Per-image mean squared error mean_p (x_p - x'_p)^2: the anomaly score.

    Args:
        model: a model mapping images to reconstructions of the same shape
            (an autoencoder; in inference mode, so no input noise).
        images: array (N, H, W, C).
        batch_size: images per forward pass.

    Returns:
        float64 NumPy array (N,): higher means less like the training data.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            f"`images` must have shape (N, H, W, C); received shape "
            f"{images.shape}."
        )
    checks.positive_int("batch_size", batch_size)
    scores = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        out = keras.ops.convert_to_numpy(model(x, training=False))
        out = out.reshape(x.shape).astype(np.float64)
        scores.append(np.mean((x - out) ** 2, axis=(1, 2, 3)))
    return np.concatenate(scores) if scores else np.zeros((0,))
