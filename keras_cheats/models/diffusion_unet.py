r"""A small U-Net noise predictor eps_theta(x_t, t) (Cheat sheet 7.4.4),
after Ho et al. 2020's (itself a PixelCNN++ U-Net), much reduced.

The time index t enters through a sinusoidal embedding (Vaswani et al.
2017), emb(t)_k = sin(t w_k), emb(t)_{k + d/2} = cos(t w_k) with
w_k = 10000^(-k / (d/2)), then a two-layer MLP; every residual block adds
a projection of it to its feature maps. With channels (c_1, ..., c_L):

    x_t (H, W, C), t -> 3x3 conv c_1
    down, level i:  TimeResBlock c_i (kept as skip_i), then a stride-2
                    3x3 conv (not after the last level)
    middle:         TimeResBlock c_L           (H / 2^(L-1), W / 2^(L-1))
    up, level i:    concat skip_i, TimeResBlock c_i, then 2x nearest
                    upsampling (not after level 1)
    out:            GroupNorm, swish, 3x3 conv C (zero-initialized) -> eps

A `TimeResBlock` is h + conv(swish(GN(conv(swish(GN(h))) + W emb)))
with a 1x1 convolution on the skip path when the channels change.
"""

import math
from dataclasses import dataclass

import keras
from keras import ops

from keras_cheats import checks

_register = keras.saving.register_keras_serializable(package="keras_cheats")


@_register
class SinusoidalEmbedding(keras.layers.Layer):
    """(B,) time indices -> (B, dim) [sin(t w), cos(t w)] features,
    w_k = max_period^(-k / (dim / 2)), k = 0..dim/2 - 1 (7.4.4).

    Args:
        dim: an even int >= 2, the embedding size.
        max_period: the longest wavelength, 10000 as in the Transformer.
    """

    def __init__(self, dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(
                f"`dim` must be an even int >= 2; received dim={dim!r}."
            )
        self.dim = dim
        self.max_period = checks.interval(
            "max_period", max_period, 1.0, low_open=True
        )

    def call(self, t):
        half = self.dim // 2
        k = ops.arange(half, dtype="float32")
        w = ops.exp(-math.log(self.max_period) * k / half)  # (dim/2,)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * w[None]
        emb = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        return ops.cast(emb, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, max_period=self.max_period)
        return config


def _groups(channels, groups):
    return math.gcd(channels, groups)


@_register
class TimeResBlock(keras.layers.Layer):
    """Residual block conditioned on a time embedding (7.4.4):
    [h (B, H, W, c_in), emb (B, E)] -> (B, H, W, filters).

    Args:
        filters: the output channels.
        groups: GroupNormalization groups (at most; the gcd with the
            channels is used).
        dropout: dropout rate before the second convolution.
    """

    def __init__(self, filters, groups=8, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = checks.positive_int("filters", filters)
        self.groups = checks.positive_int("groups", groups)
        self.dropout = checks.rate("dropout", dropout)

    def build(self, input_shape):
        h_shape, emb_shape = input_shape
        c_in = h_shape[-1]
        self.norm_1 = keras.layers.GroupNormalization(
            _groups(c_in, self.groups), name="norm_1"
        )
        self.conv_1 = keras.layers.Conv2D(
            self.filters, 3, padding="same", name="conv_1"
        )
        self.time = keras.layers.Dense(self.filters, name="time")
        self.norm_2 = keras.layers.GroupNormalization(
            _groups(self.filters, self.groups), name="norm_2"
        )
        self.drop = keras.layers.Dropout(self.dropout)
        self.conv_2 = keras.layers.Conv2D(
            self.filters, 3, padding="same", name="conv_2"
        )
        self.norm_1.build(h_shape)
        self.conv_1.build(h_shape)
        self.time.build(emb_shape)
        out_shape = (*h_shape[:-1], self.filters)
        self.norm_2.build(out_shape)
        self.conv_2.build(out_shape)
        self.skip = None
        if c_in != self.filters:
            self.skip = keras.layers.Conv2D(self.filters, 1, name="skip")
            self.skip.build(h_shape)

    def call(self, inputs, training=None):
        h, emb = inputs
        y = self.conv_1(ops.silu(self.norm_1(h)))
        y = y + self.time(ops.silu(emb))[:, None, None, :]
        y = self.drop(ops.silu(self.norm_2(y)), training=training)
        y = self.conv_2(y)
        return y + (h if self.skip is None else self.skip(h))

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, groups=self.groups, dropout=self.dropout
        )
        return config


@dataclass(frozen=True)
class DenoiserConfig:
    """Sizes of the U-Net noise predictor (Cheat sheet 7.4.4).

    Args:
        channels: c_1, ..., c_L, one per resolution; H and W must be
            multiples of 2^(L-1).
        time_dim: the sinusoidal embedding size (even); the MLP after it
            has 4 * time_dim units.
        groups: GroupNormalization groups.
        dropout: dropout rate in the residual blocks.
    """

    channels: tuple = (32, 64)
    time_dim: int = 32
    groups: int = 8
    dropout: float = 0.0

    def __post_init__(self):
        value = checks.positive_ints("channels", self.channels)
        if not value:
            raise ValueError(
                "`channels` must name at least one level; received "
                f"channels={self.channels!r}."
            )
        object.__setattr__(self, "channels", value)
        checks.positive_int("time_dim", self.time_dim)
        checks.positive_int("groups", self.groups)
        checks.rate("dropout", self.dropout)


def build_denoiser(image_shape, config=None, name="denoiser"):
    """eps_theta: [x_t (B, H, W, C) in [-1, 1], t (B,) int] -> (B, H, W, C)
    float32 predicted noise; a functional model of the layers above."""
    config = DenoiserConfig() if config is None else config
    shape = checks.input_shape(image_shape)
    levels = len(config.channels)
    factor = 2 ** (levels - 1)
    if len(shape) != 3 or shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"`image_shape` must be (H, W, C) with H and W multiples of "
            f"{factor} ({levels} levels of channels {config.channels}); "
            f"received image_shape={image_shape!r}."
        )
    x_in = keras.Input(shape=shape, name="x_t")
    t_in = keras.Input(shape=(), dtype="int32", name="t")
    emb = SinusoidalEmbedding(config.time_dim, name="time_embedding")(t_in)
    emb = keras.layers.Dense(4 * config.time_dim, "silu", name="time_mlp_1")(
        emb
    )
    emb = keras.layers.Dense(4 * config.time_dim, name="time_mlp_2")(emb)

    def block(c, h, block_name):
        return TimeResBlock(c, config.groups, config.dropout, name=block_name)(
            [h, emb]
        )

    h = keras.layers.Conv2D(config.channels[0], 3, padding="same", name="in")(
        x_in
    )
    skips = []
    for i, c in enumerate(config.channels):
        h = block(c, h, f"down_{i}")
        skips.append(h)
        if i < levels - 1:  # halve H and W
            h = keras.layers.Conv2D(
                c, 3, strides=2, padding="same", name=f"downsample_{i}"
            )(h)
    h = block(config.channels[-1], h, "middle")
    for i in reversed(range(levels)):
        h = keras.layers.Concatenate(name=f"skip_{i}")([h, skips[i]])
        h = block(config.channels[i], h, f"up_{i}")
        if i > 0:  # double H and W
            h = keras.layers.UpSampling2D(2, name=f"upsample_{i}")(h)
    h = keras.layers.GroupNormalization(
        _groups(config.channels[0], config.groups), name="out_norm"
    )(h)
    h = keras.layers.Activation("silu", name="out_act")(h)
    eps = keras.layers.Conv2D(
        shape[-1],
        3,
        padding="same",
        kernel_initializer="zeros",
        dtype="float32",
        name="eps",
    )(h)
    return keras.Model([x_in, t_in], eps, name=name)
