"""Image-text logits with a learnt temperature, as in CLIP (Radford et al.
2021), cheat sheet 7.7.4:

    s_ij = exp(t) * u_i . v_j / (||u_i|| ||v_j||),   0 <= t <= log(100)

The temperature tau = exp(-t) is learnt through its logarithm (t can then
move over orders of magnitude with steps of one size, and exp keeps the
scale positive). CLIP starts at tau = 0.07 and clamps t to at most
log(100) after each step, so the logits never exceed 100 in size; here
the weight carries that clamp as a Keras constraint (the optimizer applies
it after each update) and the forward pass clips too, so a value assigned
by hand is clipped as well.
"""

import math

import keras
from keras import ops

from keras_cheats import checks


@keras.saving.register_keras_serializable(package="keras_cheats")
class ContrastiveLogits(keras.layers.Layer):
    """Scaled cosine similarities of every image with every text.

    Args:
        init_temperature: tau at initialisation (CLIP: 0.07), in
            [1 / max_scale, 1].
        max_scale: the largest scale exp(t) (CLIP: 100), > 1.

    Call: `(u, v)` with u (N, d) and v (M, d) -> (N, M) logits s_ij =
    exp(t) cos(u_i, v_j). `scale` is exp(t) after clipping.
    """

    def __init__(self, init_temperature=0.07, max_scale=100.0, **kwargs):
        super().__init__(**kwargs)
        self.max_scale = checks.interval(
            "max_scale", max_scale, 1.0, low_open=True
        )
        self.init_temperature = checks.interval(
            "init_temperature", init_temperature, 1.0 / self.max_scale, 1.0
        )
        self.max_log_scale = math.log(self.max_scale)
        self.log_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(
                -math.log(self.init_temperature)
            ),
            constraint=self.clip_log_scale,
            name="log_scale",
        )

    def clip_log_scale(self, t):
        """t clipped to [0, log(max_scale)]: tau in [1 / max_scale, 1]."""
        return ops.clip(t, 0.0, self.max_log_scale)

    @property
    def scale(self):
        return ops.exp(self.clip_log_scale(self.log_scale))

    def call(self, u, v):
        u = ops.normalize(ops.cast(u, "float32"), axis=-1)
        v = ops.normalize(ops.cast(v, "float32"), axis=-1)
        return self.scale * ops.matmul(u, ops.transpose(v))

    def compute_output_shape(self, u_shape, v_shape):
        return (u_shape[0], v_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            init_temperature=self.init_temperature, max_scale=self.max_scale
        )
        return config
