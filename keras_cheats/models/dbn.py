"""Deep belief network: stacked RBMs, then an MLP (Cheat sheet 7.4.5).

Hinton, Osindero and Teh 2006: train an RBM on the data, then a second
RBM on the first one's hidden probabilities p(h1 | v), and so on (greedy
layer-wise pretraining). The stack's recognition weights then initialise
a sigmoid MLP, which is fine-tuned with backpropagation (Hinton and
Salakhutdinov 2006):

    h_l = sigmoid(c_l + h_{l-1} W_l),  h_0 = v   (RBM l's p(h | v))
    logits = h_L W_out + b_out                   (a new softmax head)

`up_pass` is the first line on data; `dbn_classifier` builds the MLP
with `keras_cheats.models.mlp.build_mlp` (so the same network from a
random initialisation is `build_mlp` with the same `MLPConfig`) and
copies each RBM's (W, c) into its Dense layer.
"""

import keras
import numpy as np

from keras_cheats.layers.rbm import RBM
from keras_cheats.models.mlp import MLPConfig, build_mlp


def mlp_config(hidden_units):
    """The fine-tuned network's `MLPConfig`: sigmoid hidden layers of
    `hidden_units`, logits out (the softmax is the loss's)."""
    return MLPConfig(
        hidden_units=tuple(hidden_units),
        activation="sigmoid",
        output_activation=None,
    )


def up_pass(rbms, x, batch_size=1024):
    """[p(h_1 | v), p(h_2 | h_1), ...] of `x` (N, D), as float32 arrays.

    Each layer's input is the previous layer's probabilities (mean field).
    """
    outputs, h = [], np.asarray(x, np.float32).reshape(len(x), -1)
    for rbm in rbms:
        h = np.concatenate(
            [
                keras.ops.convert_to_numpy(rbm(h[i : i + batch_size]))
                for i in range(0, len(h), batch_size)
            ]
        )
        outputs.append(h)
    return outputs


def down_pass(rbms, h):
    """The mean-field reconstruction p(v | ...p(h_{L-1} | h_L)) of the top
    layer's states `h` (N, H_L): (N, D) probabilities."""
    for rbm in reversed(rbms):
        h = keras.ops.convert_to_numpy(rbm.visible_probabilities(h))
    return h


def dbn_classifier(input_shape, num_classes, rbms, name="dbn"):
    """The MLP of `mlp_config` whose hidden layer l starts at RBM l's
    (W_l, c_l); the head keeps its random initialisation.

    Args:
        input_shape: one example's shape, e.g. (28, 28, 1) (flattened).
        num_classes: output units (logits).
        rbms: built `RBM` layers, input side first; RBM l's W has
            shape (units of layer l - 1, units of layer l).

    Returns:
        keras.Model (B, *input_shape) -> logits (B, num_classes).
    """
    if not rbms or not all(isinstance(r, RBM) and r.built for r in rbms):
        raise ValueError(
            f"`rbms` must be a non-empty list of built RBM layers; "
            f"received rbms={rbms!r}."
        )
    model = build_mlp(
        input_shape, num_classes, mlp_config([r.units for r in rbms]), name
    )
    visible = int(np.prod(input_shape))
    for i, rbm in enumerate(rbms, start=1):
        expected = (visible, rbm.units)
        if tuple(rbm.kernel.shape) != expected:
            raise ValueError(
                f"RBM {i} has W of shape {tuple(rbm.kernel.shape)}; "
                f"expected {expected} to follow the layer below"
            )
        model.get_layer(f"dense_{i}").set_weights(
            [np.asarray(rbm.kernel), np.asarray(rbm.hidden_bias)]
        )
        visible = rbm.units
    return model
