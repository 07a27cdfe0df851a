"""Digit (higher-level) capsule layer with dynamic routing (7.3.2, step 4).

Each lower capsule u_i (N_in of them, D_in-dimensional) predicts each upper
capsule j through its own matrix W_ij (D_in x D_out):

    u_hat_{j|i} = W_ij u_i

and routing-by-agreement (see `routing.py`) combines the predictions into
the upper capsules v_j. Paper sizes: 1152 8-D capsules in, 10 16-D capsules
out, 3 routing iterations, W of 1152 x 10 x 8 x 16 = 1,474,560 weights.

There is no bias: the paper's s_j = sum_i c_ij u_hat_{j|i} has none, and
neither has CapsNet-Keras, whose parameter counts this layer reproduces.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.layers.routing import routing_by_agreement


@keras.saving.register_keras_serializable(package="keras_cheats")
class DigitCapsules(keras.layers.Layer):
    """Capsules routed by agreement from lower capsules (Cheat sheet 7.3.2).

    u_hat_{j|i} = W_ij u_i;  c_ij = softmax_j(b_ij);
    v_j = squash(sum_i c_ij u_hat_{j|i});  b_ij += u_hat_{j|i} . v_j

    Args:
        num_capsules: number of upper capsules N_out (paper: 10 classes).
        capsule_dim: dimension D_out of each upper capsule (paper: 16).
        routing_iterations: routing iterations r >= 1 (paper: 3).
        stop_gradient_routing: True (default) treats the coupling
            coefficients as constants in the backward pass, like
            CapsNet-Keras; False backpropagates through all iterations,
            like the paper. See `routing.py`.
        kernel_initializer: initializer of W (CapsNet-Keras: glorot
            uniform).

    Call:
        inputs: lower capsules u (B, N_in, D_in).

    Returns:
        upper capsules v (B, N_out, D_out).
    """

    def __init__(
        self,
        num_capsules=10,
        capsule_dim=16,
        routing_iterations=3,
        stop_gradient_routing=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_capsules = checks.positive_int("num_capsules", num_capsules)
        self.capsule_dim = checks.positive_int("capsule_dim", capsule_dim)
        self.routing_iterations = checks.positive_int(
            "routing_iterations", routing_iterations
        )
        if not isinstance(stop_gradient_routing, bool):
            raise ValueError(
                "`stop_gradient_routing` must be a bool; received "
                f"stop_gradient_routing={stop_gradient_routing!r}."
            )
        self.stop_gradient_routing = stop_gradient_routing
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or None in input_shape[1:]:
            raise ValueError(
                "`input_shape` must be (batch, N_in, D_in) with known N_in "
                f"and D_in; received input_shape={input_shape!r}."
            )
        _, n_in, d_in = input_shape
        # W_ij for every pair (i, j): (N_in, N_out, D_in, D_out).
        self.kernel = self.add_weight(
            name="kernel",
            shape=(n_in, self.num_capsules, d_in, self.capsule_dim),
            initializer=self.kernel_initializer,
        )

    def call(self, inputs):
        # u_hat_{j|i} = W_ij u_i for all i, j: (B, N_in, N_out, D_out).
        u_hat = ops.einsum("bid,ijde->bije", inputs, self.kernel)
        return routing_by_agreement(
            u_hat,
            iterations=self.routing_iterations,
            stop_gradient=self.stop_gradient_routing,
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_capsules, self.capsule_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_capsules=self.num_capsules,
            capsule_dim=self.capsule_dim,
            routing_iterations=self.routing_iterations,
            stop_gradient_routing=self.stop_gradient_routing,
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer
            ),
        )
        return config
