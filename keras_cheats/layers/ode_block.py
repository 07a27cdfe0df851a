"""ODE block: a continuous-depth residual block (Cheat sheet 7.7.3).

Chen, Rubanova, Bettencourt and Duvenaud 2018, "Neural Ordinary
Differential Equations":

    h(t1) = h(t0) + integral_{t0}^{t1} f(h(t), t; theta) dt,

solved numerically (`keras_cheats.layers.ode_solvers`). f is a small
conv net with time as an extra input channel (Chen et al.'s ConcatConv):

    f(h, t) = conv2([relu(norm2(conv1([relu(norm1(h)), t]))), t])

with 3x3 "same" convolutions keeping the C channels and group norms.
With solver="euler" and steps=1 the block is h + f(h, t0): a residual
block with the same f, hence the same parameters, which makes the
ResNet against ODE-net comparison parameter-matched by construction.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_cheats import checks
from keras_cheats.layers import ode_solvers

SOLVERS = ("euler", "rk4", "dopri5")


@keras.saving.register_keras_serializable(package="keras_cheats")
class ODEFunc(keras.layers.Layer):
    """The dynamics f(h, t; theta) of an `ODEBlock` (Cheat sheet 7.7.3).

    f(h, t) = conv2([relu(norm2(conv1([relu(norm1(h)), t]))), t]), where
    [x, t] appends a channel filled with the time t (if `time_channel`).

    Args:
        groups: groups of the two group normalizations; must divide the
            number of channels C.
        time_channel: append t as a channel before each convolution
            (9 C extra weights each); False makes f autonomous, f(h).

    Call: (h of shape (B, H, W, C), scalar t) -> (B, H, W, C).
    """

    def __init__(self, groups=8, time_channel=True, **kwargs):
        super().__init__(**kwargs)
        self.groups = checks.positive_int("groups", groups)
        if not isinstance(time_channel, bool):
            raise ValueError(
                "`time_channel` must be a bool; received "
                f"time_channel={time_channel!r}."
            )
        self.time_channel = time_channel

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(
                f"`groups` must divide the {channels} channels; received "
                f"groups={self.groups}."
            )
        extra = 1 if self.time_channel else 0
        inner = (*input_shape[:-1], channels + extra)
        self.norm1 = keras.layers.GroupNormalization(self.groups, name="norm1")
        self.norm2 = keras.layers.GroupNormalization(self.groups, name="norm2")
        self.conv1 = keras.layers.Conv2D(channels, 3, padding="same",
                                         name="conv1")  # fmt: skip
        self.conv2 = keras.layers.Conv2D(channels, 3, padding="same",
                                         name="conv2")  # fmt: skip
        self.norm1.build(input_shape)
        self.conv1.build(inner)
        self.norm2.build(input_shape)
        self.conv2.build(inner)

    def _with_time(self, x, t):
        if not self.time_channel:
            return x
        plane = ops.ones_like(x[..., :1]) * ops.cast(t, x.dtype)  # (B,H,W,1)
        return ops.concatenate([x, plane], axis=-1)

    def call(self, h, t):
        x = self.conv1(self._with_time(ops.relu(self.norm1(h)), t))
        return self.conv2(self._with_time(ops.relu(self.norm2(x)), t))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups, time_channel=self.time_channel)
        return config


@keras.saving.register_keras_serializable(package="keras_cheats")
class ODEBlock(keras.layers.Layer):
    """h(t1) = h(t0) + integral_{t0}^{t1} f(h, t) dt (Cheat sheet 7.7.3).

    The number of function evaluations of the last call is kept in the
    non-trainable weight `nfe` (fixed solvers: steps x 1 or 4; dopri5:
    1 + 6 per attempted step, so it varies with the input and training).

    Args:
        solver: "euler", "rk4" (fixed steps) or "dopri5" (adaptive).
        steps: steps of the fixed solvers (ignored by dopri5).
        rtol, atol: tolerances of dopri5.
        max_steps: most step attempts of dopri5.
        t1: the end time (t0 = 0).
        groups, time_channel: of the `ODEFunc`.

    Call: (B, H, W, C) -> (B, H, W, C). Example: with solver="euler" and
    steps=1 the output is h + f(h, 0), a residual block (a test asserts).
    """

    def __init__(
        self, solver="rk4", steps=4, rtol=1e-3, atol=1e-3, max_steps=64,
        t1=1.0, groups=8, time_channel=True, **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        self.solver = checks.choice("solver", solver, SOLVERS)
        self.steps = checks.positive_int("steps", steps)
        self.rtol = checks.interval("rtol", rtol, 0, None, low_open=True)
        self.atol = checks.interval("atol", atol, 0, None, low_open=True)
        self.max_steps = checks.positive_int("max_steps", max_steps)
        self.t1 = checks.interval("t1", t1, 0, None, low_open=True)
        self.func = ODEFunc(groups, time_channel, name="func")

    def build(self, input_shape):
        self.func.build(input_shape)
        self.nfe = self.add_weight(
            name="nfe", shape=(), initializer="zeros", trainable=False,
            aggregation="only_first_replica",
        )  # fmt: skip

    def f(self, h, t):
        """dh/dt = f(h, t), as the solvers call it (t may be a float)."""
        return self.func(h, t=t)

    def solve(self, h, t0, t1, return_states=False):
        """(h(t1), nfe) from h = h(t0) with this block's solver; with
        `return_states` (fixed solvers only) also the states per step."""
        if self.solver == "dopri5":
            return ode_solvers.odeint_dopri5(
                self.f, h, t0, t1, self.rtol, self.atol, self.max_steps
            )
        return ode_solvers.odeint_fixed(
            self.f, h, t0, t1, self.steps, self.solver, return_states
        )

    def call(self, inputs):
        h, nfe = self.solve(inputs, 0.0, self.t1)
        self.nfe.assign(tf.cast(nfe, self.nfe.dtype))
        return h

    def trajectory(self, inputs, points=5):
        """The states h(t) at `points` equally spaced times from 0 to t1,
        each interval solved with this block's solver (fixed solvers:
        max(1, steps // intervals) steps per interval).

        Returns a list of `points` tensors of the input's shape.
        """
        checks.integer("points", points, 2)
        intervals = points - 1
        block = self.steps // intervals if self.solver != "dopri5" else 0
        states, h = [inputs], inputs
        for i in range(intervals):
            t0, t1 = self.t1 * i / intervals, self.t1 * (i + 1) / intervals
            if self.solver == "dopri5":
                h, _ = self.solve(h, t0, t1)
            else:
                h, _ = ode_solvers.odeint_fixed(
                    self.f, h, t0, t1, max(1, block), self.solver
                )
            states.append(h)
        return states

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            solver=self.solver, steps=self.steps, rtol=self.rtol,
            atol=self.atol, max_steps=self.max_steps, t1=self.t1,
            groups=self.func.groups, time_channel=self.func.time_channel,
        )  # fmt: skip
        return config
