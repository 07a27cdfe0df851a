"""Model builders of cheat-sheet section 7: the MLP (7.1), the
convolutional classifier (7.3) and the capsule network (7.3.2)."""

from keras_cheats.models.capsnet import (
    CapsNetConfig,
    CapsNetLoss,
    build_capsnet,
    capsnet_loss,
)
from keras_cheats.models.cnn import CNNConfig, build_cnn
from keras_cheats.models.mlp import MLPConfig, build_mlp

__all__ = [
    "CNNConfig",
    "CapsNetConfig",
    "CapsNetLoss",
    "MLPConfig",
    "build_capsnet",
    "build_cnn",
    "build_mlp",
    "capsnet_loss",
]
