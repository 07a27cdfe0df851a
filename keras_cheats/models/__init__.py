"""Model builders of cheat-sheet section 7: the MLP (7.1), recurrent
classifiers (7.2), the convolutional classifier (7.3.1), the capsule network
(7.3.2), the autoencoder (7.4.1), the VAE and DB-VAE (7.4.2) and the DCGAN
(7.4.3); and the transfer-learning classifier of section 2.4 (a pretrained
base with a new head, for fine-tuning and feature extraction)."""

from keras_cheats.models.autoencoder import (
    AutoencoderConfig,
    build_autoencoder,
    reconstruction_error,
)
from keras_cheats.models.capsnet import (
    CapsNetConfig,
    CapsNetLoss,
    build_capsnet,
    capsnet_loss,
)
from keras_cheats.models.cnn import CNNConfig, build_cnn
from keras_cheats.models.dbvae import (
    DBVAE,
    DBVAEConfig,
    DBVAELoss,
    IndicatorAccuracy,
    build_classifier,
    build_dbvae,
    dbvae_targets,
)
from keras_cheats.models.dcgan import (
    DCGAN,
    DCGANConfig,
    build_discriminator,
    build_generator,
    discriminator_loss,
    generator_loss,
)
from keras_cheats.models.mlp import MLPConfig, build_mlp
from keras_cheats.models.recurrent import (
    RecurrentConfig,
    build_recurrent_classifier,
)
from keras_cheats.models.transfer import (
    TransferClassifier,
    feature_extractor,
)
from keras_cheats.models.vae import (
    VAE,
    VAEConfig,
    VAELoss,
    VAETerm,
    build_vae,
    vae_metrics,
)

__all__ = [
    "DBVAE",
    "DCGAN",
    "VAE",
    "AutoencoderConfig",
    "CNNConfig",
    "CapsNetConfig",
    "CapsNetLoss",
    "DBVAEConfig",
    "DBVAELoss",
    "DCGANConfig",
    "IndicatorAccuracy",
    "MLPConfig",
    "RecurrentConfig",
    "TransferClassifier",
    "VAEConfig",
    "VAELoss",
    "VAETerm",
    "build_autoencoder",
    "build_capsnet",
    "build_classifier",
    "build_cnn",
    "build_dbvae",
    "build_discriminator",
    "build_generator",
    "build_mlp",
    "build_recurrent_classifier",
    "build_vae",
    "capsnet_loss",
    "dbvae_targets",
    "discriminator_loss",
    "feature_extractor",
    "generator_loss",
    "reconstruction_error",
    "vae_metrics",
]
