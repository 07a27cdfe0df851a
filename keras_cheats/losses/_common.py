"""Helpers shared by the loss modules: dtype casting, a safe square root
and the dtype entry of `get_config` (argument checks: `keras_cheats.checks`).

Every loss computes in float32, whatever the input dtype, so that float16 and
bfloat16 inputs (mixed precision) never lose a log or an exp to underflow.
"""

from keras import ops

COMPUTE_DTYPE = "float32"


def to_float32(x):
    """`x` as a float32 tensor (integers, float16 and bfloat16 upcast)."""
    return ops.cast(ops.convert_to_tensor(x), COMPUTE_DTYPE)


class DtypeInConfig:
    """Mixin: put the loss' compute dtype in `get_config`.

    Keras' `Loss.get_config` keeps only name and reduction, so a loss built
    with `dtype="float64"` would come back from a saved model as float32.
    """

    def get_config(self):
        config = super().get_config()
        config["dtype"] = self.dtype
        return config


def safe_sqrt(x):
    """sqrt(x) for x >= 0 whose gradient at x = 0 is 0 instead of inf.

    The inner `where` keeps sqrt away from 0 so its derivative never sees
    1 / sqrt(0); the outer one puts the exact 0 back.
    """
    positive = x > 0.0
    return ops.where(positive, ops.sqrt(ops.where(positive, x, 1.0)), 0.0)
