"""Test-wide set-up, done once before any TensorFlow op runs.

The CPU is split into two logical devices so that MirroredStrategy tests can
compare two replicas against one device on a machine without GPUs.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu,
    [
        tf.config.LogicalDeviceConfiguration(),
        tf.config.LogicalDeviceConfiguration(),
    ],
)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(
    os.environ.get("KERAS_CHEATS_SHARED", REPO.parent / "shared")
)
MNIST_DIR = SHARED / "data" / "mnist"


@pytest.fixture
def mnist_dir():
    """The real MNIST test set in ../shared/data/mnist, or a skip."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST IDX files not found in {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture(autouse=True)
def _clear_keras_session():
    import keras

    yield
    keras.backend.clear_session(free_memory=False)
