"""Convolutional classifier builder (Cheat sheet 7.3, 7.3.1).

Convolution Y(i, j, k) = sum_m sum_n sum_c F(i+m, j+n, c) K(m, n, c, k) + b_k,
then an activation Z = max(0, Y), then pooling, repeated per block; then
flatten (or global pooling), fully connected layers and softmax.

Tiny images (e.g. the 8x8 scikit-learn digits) work: a pooling layer is
skipped when the feature map is already smaller than the pooling window,
and "same" padding (the default) keeps the map from shrinking below the
kernel. With the defaults a 28x28x1 image goes
28x28x32 -> 14x14x32 -> 14x14x64 -> 7x7x64 -> 3136 -> 128 -> classes,
and an 8x8x1 image 8x8x32 -> 4x4x32 -> 4x4x64 -> 2x2x64 -> 256 -> 128.
"""

from dataclasses import dataclass

import keras

from keras_cheats import checks
from keras_cheats.models.mlp import (
    check_activations,
    check_classes,
)

PADDINGS = ("valid", "same")
POOLINGS = ("max", "average", "none")
HEADS = ("flatten", "global_average", "global_max")


@dataclass(frozen=True)
class CNNConfig:
    """Hyperparameters of `build_cnn` (Cheat sheet 7.3).

    Args:
        filters: filters of each convolution block, e.g. (32, 64).
        kernel_size: square kernel size of every convolution.
        strides: convolution stride (1 moves the filter pixel by pixel).
        padding: "same" (zero padding, keeps the size; default) or "valid"
            (no padding: a k x k filter on an n x n map gives n - k + 1).
        activation: activation after each convolution and dense layer.
        batch_norm: batch normalization between convolution and
            activation.
        pooling: "max", "average" or "none", after each block.
        pool_size: square pooling window, stride equal to the window.
        head: "flatten", "global_average" or "global_max" (global pooling
            reduces each feature map to one value).
        dense_units: units of the fully connected layers after the head.
        dropout: dropout rate after each dense layer (or before the output
            when there is none), in [0, 1).
        output_activation: "softmax" (default), "sigmoid" or None (logits).
    """

    filters: tuple = (32, 64)
    kernel_size: int = 3
    strides: int = 1
    padding: str = "same"
    activation: str = "relu"
    batch_norm: bool = False
    pooling: str = "max"
    pool_size: int = 2
    head: str = "flatten"
    dense_units: tuple = (128,)
    dropout: float = 0.25
    output_activation: str | None = "softmax"

    def __post_init__(self):
        object.__setattr__(
            self, "filters", checks.positive_ints("filters", self.filters)
        )
        if not self.filters:
            raise ValueError(
                "`filters` must name at least one convolution block; "
                f"received filters={self.filters!r}."
            )
        object.__setattr__(
            self,
            "dense_units",
            checks.positive_ints("dense_units", self.dense_units),
        )
        for name in ("kernel_size", "strides", "pool_size"):
            checks.positive_int(name, getattr(self, name))
        checks.choice("padding", self.padding, PADDINGS)
        checks.choice("pooling", self.pooling, POOLINGS)
        checks.choice("head", self.head, HEADS)
        check_activations(self.activation, self.output_activation)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(
                "`batch_norm` must be a bool; "
                f"received batch_norm={self.batch_norm!r}."
            )
        checks.rate("dropout", self.dropout)


def build_cnn(input_shape, num_classes, config=None, name="cnn"):
    """Build a convolutional image classifier (Cheat sheet 7.3.1).

    Per block: Conv2D -> [BatchNormalization] -> activation -> pooling
    (skipped when the map is smaller than the window). Then the head
    (Flatten or global pooling), Dense -> Dropout per dense layer, and
    Dense(num_classes) with `config.output_activation`.

    Args:
        input_shape: (H, W, C), or (H, W) for one channel (a channel axis
            is added inside the model).
        num_classes: number of output units.
        config: a `CNNConfig` (default: 32 and 64 3x3 "same" filters, 2x2
            max pooling, flatten, dense 128, dropout 0.25, softmax).
        name: model name.

    Returns:
        keras.Model mapping (B, *input_shape) to (B, num_classes).

    Raises:
        ValueError: for a bad argument, or a "valid" convolution whose
            kernel does not fit the feature map.
    """
    config = CNNConfig() if config is None else config
    if not isinstance(config, CNNConfig):
        raise ValueError(
            f"`config` must be a CNNConfig; received config={config!r}."
        )
    input_shape = checks.input_shape(input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(
            "`input_shape` must be (H, W, C) or (H, W); "
            f"received input_shape={input_shape!r}."
        )
    check_classes(num_classes, config.output_activation)

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = inputs
    if len(input_shape) == 2:
        x = keras.layers.Reshape((*input_shape, 1), name="add_channel")(x)
    for i, filters in enumerate(config.filters, start=1):
        height, width = x.shape[1], x.shape[2]
        if (
            config.padding == "valid"
            and min(height, width) < config.kernel_size
        ):
            raise ValueError(
                f"`input_shape` is too small for block {i}: a "
                f"{config.kernel_size}x{config.kernel_size} 'valid' "
                f"convolution needs a map of at least that size, got "
                f"{height}x{width}; received input_shape={input_shape!r}. "
                "Use padding='same' or fewer blocks."
            )
        x = keras.layers.Conv2D(
            filters,
            config.kernel_size,
            strides=config.strides,
            padding=config.padding,
            activation=None if config.batch_norm else config.activation,
            name=f"conv_{i}",
        )(x)
        if config.batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Activation(
                config.activation, name=f"activation_{i}"
            )(x)
        if config.pooling != "none" and min(x.shape[1:3]) >= config.pool_size:
            pool = (
                keras.layers.MaxPooling2D
                if config.pooling == "max"
                else keras.layers.AveragePooling2D
            )
            x = pool(config.pool_size, name=f"pool_{i}")(x)
    head = {
        "flatten": keras.layers.Flatten,
        "global_average": keras.layers.GlobalAveragePooling2D,
        "global_max": keras.layers.GlobalMaxPooling2D,
    }[config.head]
    x = head(name="head")(x)
    for i, units in enumerate(config.dense_units, start=1):
        x = keras.layers.Dense(
            units, activation=config.activation, name=f"dense_{i}"
        )(x)
        if config.dropout > 0:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    if not config.dense_units and config.dropout > 0:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation=config.output_activation, name="output"
    )(x)
    return keras.Model(inputs, outputs, name=name)
