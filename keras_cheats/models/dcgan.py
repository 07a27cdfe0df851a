"""Deep convolutional GAN of Radford, Metz and Chintala 2015 (Cheat sheet
7.4.3).

A generator G maps noise z ~ N(0, I) to an image; a discriminator D maps
an image to the logit of "real". They play the minimax game of Goodfellow
et al. 2014 (the cheat sheet has the section heading only):

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))]

trained by alternating two gradient steps with two optimizers, with the
per-example losses (D(.) = sigmoid(logit)):

    L_D = -log D(x) - log(1 - D(G(z)))    (`discriminator_loss`)
    L_G = -log D(G(z))                    (`generator_loss`, the
                                           non-saturating form)

Architecture for 28x28x1 with the defaults (DCGAN's rules: strided
convolutions instead of pooling, batch norm in G, LeakyReLU in D, tanh
output, no dense hidden layers):

    G: z (100) -> dense 7*7*128 -> BN, LeakyReLU -> (7, 7, 128)
       -> 5x5 transposed conv 64, stride 2 -> BN, LeakyReLU -> (14, 14, 64)
       -> 5x5 transposed conv 1, stride 2, tanh -> (28, 28, 1) in [-1, 1]
       -> x / 2 + 1/2 -> pixels in [0, 1]
    D: image in [0, 1] -> 2x - 1 -> 5x5 conv 64, stride 2, LeakyReLU 0.2,
       dropout -> (14, 14, 64) -> 5x5 conv 128, stride 2, LeakyReLU,
       dropout -> (7, 7, 128) -> flatten -> dense 1 (the logit)

Each entry of `generator_filters` is one doubling, so the generator starts
from (H / 2^k, W / 2^k) with k = len(generator_filters): 7x7 for MNIST,
2x2 for the 8x8 scikit-learn digits, 8x8 for 32x32 CIFAR-10. Images whose
sides are not multiples of 2^k are rejected with a ValueError.
"""

import dataclasses
from dataclasses import dataclass

import keras
from keras import ops

from keras_cheats import checks


@dataclass(frozen=True)
class DCGANConfig:
    """Sizes of the DCGAN (Cheat sheet 7.4.3).

    Args:
        latent_dim: size of the noise vector z.
        generator_filters: filters of the generator's maps, coarsest
            first; the last transposed convolution maps the final one to
            the image channels. Its length is the number of doublings.
        discriminator_filters: filters of the discriminator's stride-2
            convolutions.
        kernel_size: square kernel of every (transposed) convolution.
        leaky_slope: negative slope of the LeakyReLU activations.
        dropout: dropout rate after each discriminator convolution.
    """

    latent_dim: int = 100
    generator_filters: tuple = (128, 64)
    discriminator_filters: tuple = (64, 128)
    kernel_size: int = 5
    leaky_slope: float = 0.2
    dropout: float = 0.3

    def __post_init__(self):
        checks.positive_int("latent_dim", self.latent_dim)
        checks.positive_int("kernel_size", self.kernel_size)
        for name in ("generator_filters", "discriminator_filters"):
            value = checks.positive_ints(name, getattr(self, name))
            if not value:
                raise ValueError(
                    f"`{name}` must name at least one layer; "
                    f"received {name}={getattr(self, name)!r}."
                )
            object.__setattr__(self, name, value)
        checks.rate("leaky_slope", self.leaky_slope)
        checks.rate("dropout", self.dropout)


def _check_image_shape(image_shape, config):
    shape = checks.input_shape(image_shape)
    factor = 2 ** len(config.generator_filters)
    if len(shape) != 3 or shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"`image_shape` must be (H, W, C) with H and W multiples of "
            f"{factor} (the generator doubles a (H/{factor}, W/{factor}) map "
            f"{len(config.generator_filters)} times); received "
            f"image_shape={image_shape!r}. Resize the images (e.g. to "
            "28x28) or change `generator_filters`."
        )
    return shape


def build_generator(image_shape, config=None, name="generator"):
    """G: (B, latent_dim) noise -> (B, H, W, C) images in [0, 1]."""
    config = DCGANConfig() if config is None else config
    height, width, channels = _check_image_shape(image_shape, config)
    factor = 2 ** len(config.generator_filters)
    h0, w0, f0 = height // factor, width // factor, config.generator_filters[0]
    k, slope = config.kernel_size, config.leaky_slope

    z = keras.Input(shape=(config.latent_dim,), name="z")
    # The projection: z -> (B, h0 * w0 * f0) -> (B, h0, w0, f0).
    x = keras.layers.Dense(h0 * w0 * f0, use_bias=False, name="project")(z)
    x = keras.layers.BatchNormalization(name="project_bn")(x)
    x = keras.layers.LeakyReLU(slope, name="project_act")(x)
    x = keras.layers.Reshape((h0, w0, f0), name="start")(x)
    for i, filters in enumerate(config.generator_filters[1:], start=1):
        # Each stride-2 transposed convolution doubles the map size.
        x = keras.layers.Conv2DTranspose(
            filters,
            k,
            strides=2,
            padding="same",
            use_bias=False,
            name=f"up_{i}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"up_{i}_bn")(x)
        x = keras.layers.LeakyReLU(slope, name=f"up_{i}_act")(x)
    x = keras.layers.Conv2DTranspose(
        channels,
        k,
        strides=2,
        padding="same",
        activation="tanh",
        name="to_image",
    )(x)  # (B, H, W, C) in [-1, 1]
    images = keras.layers.Rescaling(0.5, offset=0.5, name="pixels")(x)
    return keras.Model(z, images, name=name)


def build_discriminator(image_shape, config=None, name="discriminator"):
    """D: (B, H, W, C) images in [0, 1] -> (B, 1) logits of "real"."""
    config = DCGANConfig() if config is None else config
    shape = _check_image_shape(image_shape, config)
    images = keras.Input(shape=shape, name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="centre")(images)
    for i, filters in enumerate(config.discriminator_filters, start=1):
        # Each stride-2 convolution halves the map size ("same" padding).
        x = keras.layers.Conv2D(
            filters,
            config.kernel_size,
            strides=2,
            padding="same",
            name=f"down_{i}",
        )(x)
        x = keras.layers.LeakyReLU(config.leaky_slope, name=f"down_{i}_act")(x)
        if config.dropout > 0:
            x = keras.layers.Dropout(config.dropout, name=f"down_{i}_drop")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(1, name="logit")(x)
    return keras.Model(images, logits, name=name)


@keras.saving.register_keras_serializable(package="keras_cheats")
class DCGAN(keras.Model):
    """The generator and discriminator of a DCGAN (Cheat sheet 7.4.3).

    `model.generator` and `model.discriminator` are the two sub-models a
    GAN training step differentiates separately (one optimizer each);
    calling the model generates: `model(z)` is `model.generator(z)`.

    Args:
        image_shape: (H, W, C) of the images, H and W multiples of
            2 ** len(config.generator_filters).
        config: a `DCGANConfig`, or its fields as a dict.
    """

    def __init__(self, image_shape, config=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = DCGANConfig(**config)
        config = DCGANConfig() if config is None else config
        if not isinstance(config, DCGANConfig):
            raise ValueError(
                f"`config` must be a DCGANConfig; received config={config!r}."
            )
        self.image_shape = _check_image_shape(image_shape, config)
        self.config = config
        self.latent_dim = config.latent_dim
        self.generator = build_generator(self.image_shape, config)
        self.discriminator = build_discriminator(self.image_shape, config)
        # Both sub-models are built here; a GAN step calls them, never the
        # model itself, so without this model.save warns "not yet built".
        self.built = True

    def call(self, z, training=None):
        """(B, latent_dim) noise -> (B, H, W, C) images in [0, 1]."""
        return self.generator(z, training=training)

    def build(self, input_shape=None):
        self.built = True  # both sub-models are built at construction

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            config=dataclasses.asdict(self.config),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        inner = dict(config.pop("config"))
        for name in ("generator_filters", "discriminator_filters"):
            inner[name] = tuple(inner[name])
        return cls(
            image_shape=tuple(config.pop("image_shape")),
            config=DCGANConfig(**inner),
            **config,
        )


def discriminator_loss(real_logits, fake_logits):
    """L_D = -log D(x) - log(1 - D(G(z))) per example (Cheat sheet 7.4.3).

    With D = sigmoid(l): -log sigmoid(l) = softplus(-l) and
    -log(1 - sigmoid(l)) = softplus(l), computed without overflow.

    Args:
        real_logits: (B, 1) or (B,) logits of D on real images.
        fake_logits: the same shape, D's logits on generated images.

    Returns:
        (B,) losses.
    """
    real = ops.reshape(real_logits, (-1,))
    fake = ops.reshape(fake_logits, (-1,))
    return ops.softplus(-real) + ops.softplus(fake)


def generator_loss(fake_logits):
    """L_G = -log D(G(z)) = softplus(-l) per example, the non-saturating
    generator loss (Cheat sheet 7.4.3); (B, 1) or (B,) -> (B,)."""
    return ops.softplus(-ops.reshape(fake_logits, (-1,)))
