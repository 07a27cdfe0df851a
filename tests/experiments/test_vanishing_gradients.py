"""experiments.vanishing_gradients: the per-layer gradient norms against
backpropagation written in NumPy, the sigmoid's vanishing gradients, the
Config's checks, and the experiment run as users run it."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from experiments import vanishing_gradients as vg
from tests.conftest import REPO


def numpy_backprop_norms(model, x, y):
    """||dL/dW_l|| of a Flatten-Dense-sigmoid-...-Dense(logits) network by
    the chain rule: delta_L = (softmax(z) - onehot(y)) / B at the logits,
    dL/dW_l = h_{l-1}^T delta_l, delta_{l-1} = (delta_l W_l^T) s'(a)."""
    dense = [d for d in model.layers if isinstance(d, keras.layers.Dense)]
    ws = [np.asarray(d.kernel, np.float64) for d in dense]
    bs = [np.asarray(d.bias, np.float64) for d in dense]
    h = [x.reshape(len(x), -1).astype(np.float64)]  # h_0 .. h_{L-1}
    for w, b in zip(ws[:-1], bs[:-1]):
        h.append(1 / (1 + np.exp(-(h[-1] @ w + b))))
    z = h[-1] @ ws[-1] + bs[-1]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(z.shape[1])[y]) / len(x)  # dL/dz, (B, classes)
    norms = []
    for layer in range(len(ws) - 1, -1, -1):
        norms.append(np.linalg.norm(h[layer].T @ delta))
        if layer:
            delta = (delta @ ws[layer].T) * h[layer] * (1 - h[layer])
    return np.array(norms[::-1])


def test_gradient_norms_equal_backprop_by_hand():
    rng = np.random.default_rng(0)
    x = rng.random((16, 4, 4, 1)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    keras.utils.set_random_seed(1)
    model = vg.build_mlp("sigmoid", (4, 4, 1), 3, depth=3, width=5)
    got = vg.layer_gradient_norms(model, x, y)
    assert got.shape == (4,)
    np.testing.assert_allclose(got, numpy_backprop_norms(model, x, y),
                               rtol=1e-4)  # fmt: skip


def test_sigmoid_gradients_vanish_and_he_relu_ones_do_not():
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    ratio = {}
    for name in ("sigmoid", "relu_he"):
        keras.utils.set_random_seed(0)
        model = vg.build_mlp(name, (8, 8, 1), 10, depth=10, width=64)
        norms = vg.layer_gradient_norms(model, x, y)
        ratio[name] = norms[0] / norms[-1]
    # Ten sigmoid layers: phi' <= 1/4 each, orders of magnitude lost.
    assert ratio["sigmoid"] < 1e-4
    assert 0.1 < ratio["relu_he"] < 10


def test_batch_norm_statistics_are_left_alone():
    keras.utils.set_random_seed(0)
    model = vg.build_mlp("sigmoid_bn", (8, 8, 1), 10, depth=3, width=8)
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    x = np.random.default_rng(0).random((32, 8, 8, 1)).astype(np.float32)
    vg.layer_gradient_norms(model, x, np.zeros(32, int))
    after = [v.numpy() for v in model.non_trainable_variables]
    assert len(before) == 6  # moving mean and variance of 3 layers
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="networks='swish'; expected one of"):
        vg.Config(networks=("sigmoid", "swish"))
    with pytest.raises(ValueError, match="networks=.*expected each name once"):
        vg.Config(networks=("relu", "relu"))
    with pytest.raises(ValueError, match="depth=0; expected an integer >= 1"):
        vg.Config(depth=0)
    with pytest.raises(ValueError, match="momentum=1.0; expected"):
        vg.Config(momentum=1.0)
    with pytest.raises(ValueError, match="learning_rate=0; expected"):
        vg.Config(learning_rate=0)


@pytest.mark.slow
def test_command_line_shows_the_sigmoid_gradients_vanishing(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.vanishing_gradients",
         "--networks=sigmoid,relu_he", "--depth=10", "--epochs=2",
         "--learning_rate=0.05", f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    sig, relu = saved["networks"]["sigmoid"], saved["networks"]["relu_he"]
    assert len(sig["grad_norms_init"]) == 11  # 10 hidden + the output
    assert sig["first_over_last_init"] < 1e-4 < relu["first_over_last_init"]
    assert relu["train_loss"][-1] < relu["train_loss"][0]
    assert relu["test_accuracy"][-1] > sig["test_accuracy"][-1]
    assert f"{sig['first_over_last_init']:.2e} at init" in done.stdout
    for png in ("gradient_norms.png", "activations.png"):
        assert (tmp_path / png).stat().st_size > 1000
