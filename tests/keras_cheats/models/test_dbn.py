"""keras_cheats.models.dbn: the stack's passes and the MLP it starts."""

import keras
import numpy as np
import pytest

from keras_cheats.layers.rbm import RBM
from keras_cheats.models import dbn


def _rbms(sizes, seed=0):
    rng = np.random.default_rng(seed)
    rbms = []
    for visible, hidden in zip(sizes, sizes[1:]):
        rbm = RBM(hidden)
        rbm.build((None, visible))
        rbm.set_weights(
            [
                rng.normal(0, 0.3, (visible, hidden)).astype("float32"),
                rng.normal(0, 0.3, visible).astype("float32"),
                rng.normal(0, 0.3, hidden).astype("float32"),
            ]
        )
        rbms.append(rbm)
    return rbms


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_classifier_hidden_layers_are_the_up_pass():
    rbms = _rbms([12, 5, 3])
    x = np.random.default_rng(1).random((4, 3, 4, 1)).astype("float32")
    model = dbn.dbn_classifier((3, 4, 1), 2, rbms)
    first, second = dbn.up_pass(rbms, x)
    w1, _, c1 = rbms[0].get_weights()
    np.testing.assert_allclose(
        first, _sigmoid(x.reshape(4, -1) @ w1 + c1), rtol=1e-5
    )
    hidden = keras.Model(model.input, model.get_layer("dense_2").output)
    np.testing.assert_allclose(hidden(x), second, rtol=1e-5, atol=1e-6)
    head = model.get_layer("output")
    assert head.activation is keras.activations.linear  # logits
    # The same MLP from scratch has the same layers and shapes.
    scratch = dbn.mlp_config((5, 3))
    assert scratch.activation == "sigmoid" and scratch.hidden_units == (5, 3)


def test_down_pass_inverts_layer_by_layer():
    rbms = _rbms([6, 4, 2], seed=2)
    top = np.random.default_rng(3).random((5, 2)).astype("float32")
    h1 = rbms[1].visible_probabilities(top)
    want = rbms[0].visible_probabilities(h1)
    np.testing.assert_allclose(dbn.down_pass(rbms, top), want, rtol=1e-6)


def test_stacks_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="non-empty list of built RBM"):
        dbn.dbn_classifier((4,), 2, [])
    with pytest.raises(ValueError, match=r"RBM 2 has W of shape \(4, 2\)"):
        dbn.dbn_classifier((6,), 2, _rbms([6, 5]) + _rbms([4, 2]))
