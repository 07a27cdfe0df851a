"""Primary capsule layer (Cheat sheet 7.3.2, step 3).

A convolution with `channels * capsule_dim` filters, reshaped so that each
group of `capsule_dim` consecutive channels at each position is one capsule,
then squashed. Paper sizes: 32 channels of 8-D capsules, 9x9 kernel, stride
2 on the (20, 20, 256) conv output -> (6, 6, 32 * 8) -> (1152, 8).
The convolution has no activation: squash is the non-linearity (as in the
paper and CapsNet-Keras).
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.layers.squash import squash


@keras.saving.register_keras_serializable(package="keras_cheats")
class PrimaryCapsules(keras.layers.Layer):
    """Convolution, reshape to capsules, squash (Cheat sheet 7.3.2).

    u_i = squash(conv(x)_i), each u_i a `capsule_dim`-vector, with
    v = ||s||^2 / (1 + ||s||^2) * s / ||s||.

    Args:
        channels: capsule channels (paper: 32).
        capsule_dim: capsule dimension (paper: 8).
        kernel_size: square kernel size (paper: 9).
        strides: convolution stride (paper: 2).
        padding: "valid" (paper) or "same".
        kernel_initializer: initializer of the convolution kernel.

    Call:
        inputs: feature map (B, H, W, C).

    Returns:
        capsules (B, H' * W' * channels, capsule_dim).
    """

    def __init__(
        self,
        channels=32,
        capsule_dim=8,
        kernel_size=9,
        strides=2,
        padding="valid",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = checks.positive_int("channels", channels)
        self.capsule_dim = checks.positive_int("capsule_dim", capsule_dim)
        self.kernel_size = checks.positive_int("kernel_size", kernel_size)
        self.strides = checks.positive_int("strides", strides)
        if padding not in ("valid", "same"):
            raise ValueError(
                "`padding` must be one of ['same', 'valid']; "
                f"received padding={padding!r}."
            )
        self.padding = padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.conv = keras.layers.Conv2D(
            self.channels * self.capsule_dim,
            self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            kernel_initializer=self.kernel_initializer,
            name="conv",
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs):
        x = self.conv(inputs)  # (B, H', W', channels * capsule_dim)
        h, w = x.shape[1], x.shape[2]
        # (B, H' * W' * channels, capsule_dim): one row per capsule.
        u = ops.reshape(x, (-1, h * w * self.channels, self.capsule_dim))
        return squash(u)

    def compute_output_shape(self, input_shape):
        _, h, w, _ = self.conv.compute_output_shape(input_shape)
        return (input_shape[0], h * w * self.channels, self.capsule_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=self.channels,
            capsule_dim=self.capsule_dim,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer
            ),
        )
        return config
