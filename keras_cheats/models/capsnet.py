"""Capsule network of Sabour, Frosst and Hinton 2017 (Cheat sheet 7.3.2).

Architecture (paper sizes on a 28x28x1 image):

    image (28, 28, 1)
    conv1         9x9, 256 filters, stride 1, ReLU      -> (20, 20, 256)
    primary_caps  9x9, 32 x 8-D capsules, stride 2      -> (1152, 8)
    digit_caps    routing by agreement, 3 iterations    -> (10, 16)
    lengths       ||v_j|| = class probability           -> (10,)
    mask          keep the true (training) / longest capsule
    decoder       512 ReLU - 1024 ReLU - 784 sigmoid    -> (28, 28, 1)

Loss (`capsnet_loss`): margin loss on the lengths plus 0.0005 x the sum of
squared reconstruction errors (paper, section 4.1).

Model interface (for a custom GradientTape loop). The model has two inputs,
(image, label), always, and returns a dict:

    y_pred = model((images, one_hot_labels), training=True)
    y_pred["lengths"]          # (B, num_classes)
    y_pred["reconstruction"]   # (B, *image_shape)
    loss = capsnet_loss((one_hot_labels, images), y_pred)   # (B,)

The label is an optional input used only by the Mask layer and only when
training=True (the decoder then reconstructs from the true class capsule).
With training=False the label is ignored and the longest capsule is kept,
so evaluation may pass the same (images, labels) batches, or
`model((images, None))` when there is no label.

Parameter count (paper config, 28x28x1, 10 classes), checked by a test:

    conv1         9*9*1*256 + 256          =    20,992
    primary_caps  9*9*256*256 + 256        = 5,308,672
    digit_caps    1152*10*8*16 (no bias)   = 1,474,560
    decoder       160*512 + 512 + 512*1024 + 1024 + 1024*784 + 784
                                           = 1,411,344
    total                                  = 8,215,568
    without the decoder                    = 6,804,224

Both equal the figures CapsNet-Keras (XifengGuo) reports: 8,215,568 in
total and 6,804,224 for its evaluation model without the decoder. They
match because, like CapsNet-Keras, the DigitCaps layer has no bias (the
paper's s_j = sum_i c_ij u_hat_{j|i} has none) while conv1 and the primary
convolution do have one. A DigitCaps bias of one 16-D vector per class, as
some other ports add, would give 160 (10 x 16) more.
"""

from dataclasses import dataclass

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.layers import DigitCapsules, Length, Mask, PrimaryCapsules
from keras_cheats.losses import margin_loss
from keras_cheats.models.mlp import check_classes

RECONSTRUCTION_WEIGHT = 0.0005


@dataclass(frozen=True)
class CapsNetConfig:
    """Sizes of `build_capsnet` (Cheat sheet 7.3.2); defaults = the paper.

    Args:
        conv_filters: filters of the first convolution (paper: 256).
        conv_kernel_size: its square kernel size (paper: 9), stride 1.
        primary_channels: primary capsule channels (paper: 32).
        primary_dim: primary capsule dimension (paper: 8).
        primary_kernel_size: primary convolution kernel (paper: 9).
        primary_strides: primary convolution stride (paper: 2).
        digit_dim: output capsule dimension (paper: 16).
        routing_iterations: routing iterations (paper: 3).
        stop_gradient_routing: no gradient through the coupling
            coefficients (True, like CapsNet-Keras) or through every
            routing iteration (False, the paper). Same forward values.
        decoder_units: hidden Dense sizes of the decoder (paper: 512,
            1024); its output layer has one sigmoid unit per pixel.
    """

    conv_filters: int = 256
    conv_kernel_size: int = 9
    primary_channels: int = 32
    primary_dim: int = 8
    primary_kernel_size: int = 9
    primary_strides: int = 2
    digit_dim: int = 16
    routing_iterations: int = 3
    stop_gradient_routing: bool = True
    decoder_units: tuple = (512, 1024)

    def __post_init__(self):
        for name in (
            "conv_filters",
            "conv_kernel_size",
            "primary_channels",
            "primary_dim",
            "primary_kernel_size",
            "primary_strides",
            "digit_dim",
            "routing_iterations",
        ):
            checks.positive_int(name, getattr(self, name))
        if not isinstance(self.stop_gradient_routing, bool):
            raise ValueError(
                "`stop_gradient_routing` must be a bool; received "
                f"stop_gradient_routing={self.stop_gradient_routing!r}."
            )
        object.__setattr__(
            self,
            "decoder_units",
            checks.positive_ints("decoder_units", self.decoder_units),
        )

    @classmethod
    def paper(cls):
        """The paper's sizes (the defaults): about 8.2 M parameters."""
        return cls()

    @classmethod
    def small(cls):
        """A quick configuration: conv 64, 8 primary channels x 8-D.

        On 28x28x1: (20, 20, 64) -> (288, 8) -> (10, 16); 705,728
        parameters before the (unchanged) 512-1024 decoder, 2,117,072 in
        total.
        """
        return cls(conv_filters=64, primary_channels=8)


def build_capsnet(input_shape, num_classes, config=None, name="capsnet"):
    """Build the capsule network with decoder (Cheat sheet 7.3.2).

    v_j = ||s_j||^2 / (1 + ||s_j||^2) * s_j / ||s_j||, routed by agreement;
    class probability = ||v_j||.

    Args:
        input_shape: image shape (H, W, C), or (H, W) for one channel.
            Pixels are expected in [0, 1] (the decoder ends in a sigmoid).
        num_classes: number of output capsules (classes), >= 2.
        config: a `CapsNetConfig` (default: the paper's sizes).
        name: model name.

    Returns:
        keras.Model with inputs (image (B, *input_shape), label
        (B, num_classes), optional) and outputs
        {"lengths": (B, num_classes), "reconstruction": (B, *input_shape)}.
        Layers "conv1", "primary_caps", "digit_caps", "lengths", "mask"
        and "decoder" (a nested model) can be looked up by name.

    Raises:
        ValueError: for a bad argument or an image too small for the
            two 'valid' convolutions.
    """
    config = CapsNetConfig() if config is None else config
    if not isinstance(config, CapsNetConfig):
        raise ValueError(
            f"`config` must be a CapsNetConfig; received config={config!r}."
        )
    input_shape = checks.input_shape(input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(
            "`input_shape` must be (H, W, C) or (H, W); "
            f"received input_shape={input_shape!r}."
        )
    check_classes(num_classes, "softmax")  # >= 2 classes
    _check_fits(input_shape, config)

    image = keras.Input(shape=input_shape, name="image")
    label = keras.Input(shape=(num_classes,), name="label", optional=True)
    x = image
    if len(input_shape) == 2:
        x = keras.layers.Reshape((*input_shape, 1), name="add_channel")(x)
    x = keras.layers.Conv2D(
        config.conv_filters,
        config.conv_kernel_size,
        activation="relu",
        name="conv1",
    )(x)  # (B, H - k + 1, W - k + 1, conv_filters)
    u = PrimaryCapsules(
        channels=config.primary_channels,
        capsule_dim=config.primary_dim,
        kernel_size=config.primary_kernel_size,
        strides=config.primary_strides,
        name="primary_caps",
    )(x)  # (B, N_in, primary_dim)
    v = DigitCapsules(
        num_capsules=num_classes,
        capsule_dim=config.digit_dim,
        routing_iterations=config.routing_iterations,
        stop_gradient_routing=config.stop_gradient_routing,
        name="digit_caps",
    )(u)  # (B, num_classes, digit_dim)
    lengths = Length(name="lengths")(v)  # (B, num_classes)
    masked = Mask(name="mask")(v, label)  # (B, num_classes, digit_dim)
    reconstruction = _decoder(
        num_classes, config.digit_dim, input_shape, config.decoder_units
    )(masked)
    return keras.Model(
        [image, label],
        {"lengths": lengths, "reconstruction": reconstruction},
        name=name,
    )


def _check_fits(input_shape, config):
    """Raise ValueError if the two 'valid' convolutions do not fit."""
    side = min(input_shape[0], input_shape[1])
    conv_side = side - config.conv_kernel_size + 1
    if conv_side < config.primary_kernel_size:
        raise ValueError(
            "`input_shape` is too small: a "
            f"{config.conv_kernel_size}x{config.conv_kernel_size} then a "
            f"{config.primary_kernel_size}x{config.primary_kernel_size} "
            "'valid' convolution need a side of at least "
            f"{config.conv_kernel_size + config.primary_kernel_size - 1}; "
            f"received input_shape={input_shape!r}."
        )


def _decoder(num_classes, digit_dim, image_shape, units):
    """Reconstruction MLP: masked capsules -> image (Cheat sheet 7.3.2).

    (B, num_classes, digit_dim) -> flatten -> Dense(u, ReLU) for u in
    `units` -> Dense(H*W*C, sigmoid) -> (B, *image_shape).
    """
    pixels = 1
    for d in image_shape:
        pixels *= d
    layers = [
        keras.Input(shape=(num_classes, digit_dim)),
        keras.layers.Flatten(name="flatten"),
    ]
    for i, n in enumerate(units, start=1):
        layers.append(keras.layers.Dense(n, activation="relu", name=f"fc{i}"))
    layers.append(keras.layers.Dense(pixels, activation="sigmoid", name="out"))
    layers.append(keras.layers.Reshape(image_shape, name="to_image"))
    return keras.Sequential(layers, name="decoder")


def _unpack(value, keys, what):
    """(a, b) from a 2-tuple/list or a dict with one of each key pair."""
    if isinstance(value, dict):
        found = []
        for options in keys:
            key = next((k for k in options if k in value), None)
            if key is None:
                raise ValueError(
                    f"`{what}` as a dict needs one of the keys "
                    f"{list(options)}; received keys {sorted(value)}."
                )
            found.append(value[key])
        return tuple(found)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(value)
    raise ValueError(
        f"`{what}` must be a 2-tuple or a dict with keys "
        f"{[k[0] for k in keys]}; received {what} of type "
        f"{type(value).__name__}."
    )


def capsnet_loss(y_true, y_pred, reconstruction_weight=RECONSTRUCTION_WEIGHT):
    """Margin loss + 0.0005 x reconstruction SSE, per sample (7.3.2).

    L = sum_k T_k max(0, 0.9 - ||v_k||)^2
        + 0.5 (1 - T_k) max(0, ||v_k|| - 0.1)^2
        + 0.0005 * sum_pixels (reconstruction - image)^2

    Args:
        y_true: (one_hot_labels (B, K), images (B, *image_shape)), or a
            dict with keys "label" (or "lengths") and "image" (or
            "reconstruction").
        y_pred: the model's output dict {"lengths", "reconstruction"}, or
            a (lengths, reconstruction) tuple.
        reconstruction_weight: weight of the sum of squared errors.

    Returns:
        float32 tensor (B,).
    """
    checks.rate(
        "reconstruction_weight", reconstruction_weight, high=float("inf")
    )
    labels, images = _unpack(
        y_true, (("label", "lengths"), ("image", "reconstruction")), "y_true"
    )
    lengths, reconstruction = _unpack(
        y_pred, (("lengths",), ("reconstruction",)), "y_pred"
    )
    margin = margin_loss(labels, lengths)  # (B,)
    images = ops.cast(images, "float32")
    reconstruction = ops.cast(reconstruction, "float32")
    batch = ops.shape(reconstruction)[0]
    # Flatten so that (B, 28, 28) and (B, 28, 28, 1) images both work.
    error = ops.reshape(reconstruction, (batch, -1)) - ops.reshape(
        images, (batch, -1)
    )
    sse = ops.sum(ops.square(error), axis=-1)  # (B,)
    return margin + reconstruction_weight * sse


@keras.saving.register_keras_serializable(package="keras_cheats")
class CapsNetLoss(keras.losses.Loss):
    """`capsnet_loss` as a Keras loss: loss(y_true, y_pred, sample_weight).

    Reduces the per-sample values (default: mean over the batch), weighted
    by `sample_weight` if given. See `capsnet_loss` for the formula and
    the y_true / y_pred structures.

    Args:
        reconstruction_weight: weight of the reconstruction SSE (0.0005).
        reduction, name, dtype: as for any `keras.losses.Loss`.
    """

    def __init__(
        self,
        reconstruction_weight=RECONSTRUCTION_WEIGHT,
        reduction="sum_over_batch_size",
        name="capsnet_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.reconstruction_weight = checks.rate(
            "reconstruction_weight", reconstruction_weight, high=float("inf")
        )

    def call(self, y_true, y_pred):
        return capsnet_loss(y_true, y_pred, self.reconstruction_weight)

    def get_config(self):
        config = super().get_config()
        config.update(reconstruction_weight=self.reconstruction_weight)
        return config
