"""The PyTorch twins of benchmarks/torch_models.py (cheat sheet 2.3, 7.x)."""

import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch twins need torch (pip install torch)"
)

from benchmarks import torch_models  # noqa: E402
from experiments import data, registry  # noqa: E402
from experiments.train import Config  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
INFO = data.DatasetInfo("random", (28, 28, 1), 10, 8000, 0)


def _keras_model(workload):
    return registry.get(workload).build(INFO, Config(model=workload))


def _random_images(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    return x, rng.integers(0, 10, n)


@pytest.mark.parametrize("workload", torch_models.WORKLOADS)
def test_parameter_count_equals_keras(workload):
    module, _ = torch_models.build(workload)
    keras_count = _keras_model(workload).count_params()
    assert torch_models.count_params(module) == keras_count


@pytest.mark.parametrize("workload", torch_models.WORKLOADS)
def test_one_epoch_returns_positive_seconds(workload):
    x, y = _random_images(512)
    threads = torch.get_num_threads()
    try:
        seconds = torch_models.train(workload, x, y, epochs=1, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)  # the setting is process-wide
    assert len(seconds) == 1
    assert math.isfinite(seconds[0]) and seconds[0] > 0


def test_mlp_loss_falls_on_learnable_labels():
    # Faint noise with one bright row per class: row 2 * label.
    x, y = _random_images(256)
    x *= 0.1
    x[np.arange(len(x)), 2 * y] = 1.0
    torch.manual_seed(0)
    module, loss_fn = torch_models.build("mlp")
    optimizer = torch_models.adam(module)
    images, labels = torch_models.to_tensors(x, y)
    with torch.no_grad():
        before = float(loss_fn(module, images, labels))
    for _ in range(5):
        order = torch.randperm(len(images))
        for i in range(0, len(images), 64):
            idx = order[i : i + 64]
            torch_models.train_step(
                module, loss_fn, optimizer, images[idx], labels[idx]
            )
    with torch.no_grad():
        after = float(loss_fn(module, images, labels))
    assert after < 0.5 * before


def test_capsnet_routes_all_capsules_at_once():
    module, loss_fn = torch_models.build("capsnet")
    x, y = torch_models.to_tensors(*_random_images(3))
    module.eval()
    out = module(x)
    assert out["lengths"].shape == (3, 10)
    assert out["reconstruction"].shape == (3, 1, 28, 28)
    assert bool(torch.all(out["lengths"] < 1))
    u_hat = torch.randn(2, 288, 10, 16)
    v = torch_models.routing_by_agreement(u_hat, iterations=3)
    assert v.shape == (2, 10, 16)
    with torch.no_grad():
        assert float(loss_fn(module.train(), x, y)) > 0


def test_capsnet_loss_equals_keras_with_the_same_weights():
    from keras_cheats.models import capsnet

    keras_model = _keras_model("capsnet")
    module, loss_fn = torch_models.build("capsnet")
    w = {v.path: torch.from_numpy(v.numpy()) for v in keras_model.weights}
    convs = {"conv1": module.conv1, "primary_caps/conv": module.primary}
    dense = [m for m in module.decoder if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for name, conv in convs.items():  # HWIO -> OIHW
            conv.weight.copy_(w[f"{name}/kernel"].permute(3, 2, 0, 1))
            conv.bias.copy_(w[f"{name}/bias"])
        module.digit_weights.copy_(w["digit_caps/kernel"])
        for name, linear in zip(("fc1", "fc2", "out"), dense):
            linear.weight.copy_(w[f"decoder/{name}/kernel"].T)
            linear.bias.copy_(w[f"decoder/{name}/bias"])
    x, y = _random_images(4)
    one_hot = np.eye(10, dtype=np.float32)[y]
    outputs = keras_model((x, one_hot), training=True)
    expected = np.mean(capsnet.capsnet_loss((one_hot, x), outputs))
    with torch.no_grad():
        got = float(loss_fn(module.train(), *torch_models.to_tensors(x, y)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_unknown_workload_is_rejected():
    with pytest.raises(ValueError, match="workload"):
        torch_models.build("resnet")


def test_module_imports_without_tensorflow():
    code = (
        "import sys, benchmarks.torch_models; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow'; "
        "assert 'keras' not in sys.modules, 'keras'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
