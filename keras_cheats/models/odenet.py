"""ODE-net image classifier and its ResNet twin (Cheat sheet 7.7.3).

As in Chen et al. 2018 (section 3, MNIST), scaled down:

    image -> conv 3x3 (C) -> [norm, relu, conv 4x4 stride 2 (C)] x 2
          -> ODEBlock (or one residual block) -> norm, relu
          -> global average pooling -> dense (classes, logits)

A 28x28x1 image goes 28x28xC -> 14x14xC -> 7x7xC -> ... -> C -> classes;
an 8x8x1 image 8x8xC -> 4x4xC -> 2x2xC. `solver="resnet"` is the ODE block
with one Euler step from 0 to 1, h + f(h, 0): the same f, the same
weights, so the ResNet and the ODE-nets have the same parameter count.
"""

from dataclasses import dataclass

import keras

from keras_cheats import checks
from keras_cheats.layers.ode_block import ODEBlock

SOLVERS = ("resnet", "euler", "rk4", "dopri5")


@dataclass(frozen=True)
class ODENetConfig:
    """Hyperparameters of `build_odenet` (Cheat sheet 7.7.3).

    Args:
        solver: "resnet" (one Euler step: a residual block), "euler" or
            "rk4" (`steps` fixed steps) or "dopri5" (adaptive).
        filters: channels C of every convolution.
        steps: steps of the fixed solvers.
        rtol, atol, max_steps: of dopri5.
        groups: groups of every group normalization (divides `filters`).
        time_channel: f sees t as an extra channel.
    """

    solver: str = "rk4"
    filters: int = 32
    steps: int = 4
    rtol: float = 1e-3
    atol: float = 1e-3
    max_steps: int = 64
    groups: int = 8
    time_channel: bool = True

    def __post_init__(self):
        checks.choice("solver", self.solver, SOLVERS)
        for name in ("filters", "steps", "max_steps", "groups"):
            checks.positive_int(name, getattr(self, name))
        if self.filters % self.groups:
            raise ValueError(
                f"`groups` must divide filters={self.filters}; received "
                f"groups={self.groups}."
            )


def ode_block(config: ODENetConfig) -> ODEBlock:
    """The block of `config`: "resnet" is Euler with one step."""
    resnet = config.solver == "resnet"
    return ODEBlock(
        solver="euler" if resnet else config.solver,
        steps=1 if resnet else config.steps,
        rtol=config.rtol,
        atol=config.atol,
        max_steps=config.max_steps,
        groups=config.groups,
        time_channel=config.time_channel,
        name="ode_block",
    )


def build_odenet(image_shape, num_classes, config=ODENetConfig()):
    """The classifier of the module docstring; outputs logits.

    Args:
        image_shape: (H, W, channels).
        num_classes: number of classes.
        config: `ODENetConfig`.

    Returns:
        keras.Model (B, H, W, channels) -> (B, num_classes); its layer
        "ode_block" is the `ODEBlock` (read its `nfe` after a call).
    """
    checks.positive_int("num_classes", num_classes)
    c, g = config.filters, config.groups
    inputs = keras.Input(image_shape)
    x = keras.layers.Conv2D(c, 3, padding="same", name="stem")(inputs)
    for i in (1, 2):
        x = keras.layers.GroupNormalization(g, name=f"down{i}_norm")(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(
            c, 4, strides=2, padding="same", name=f"down{i}"
        )(x)
    x = ode_block(config)(x)
    x = keras.layers.GroupNormalization(g, name="head_norm")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=f"odenet_{config.solver}")
