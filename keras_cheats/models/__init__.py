"""Model builders of cheat-sheet section 7: the MLP (7.1), recurrent
classifiers (7.2), the convolutional classifier (7.3.1), the capsule network
(7.3.2), the autoencoder (7.4.1), the VAE and DB-VAE (7.4.2) and the DCGAN
(7.4.3), the DDPM (7.4.4), the deep belief network (7.4.5), the Vision
Transformer (7.5) with attention rollout (9.3), the neural Turing machine
and its LSTM baseline (7.7.2), the ODE-net (7.7.3), the
CLIP-style image-text model (7.7.4), the Q-network and actor-critic (7.8);
and the transfer-learning classifier of section 2.4 (a pretrained base with
a new head, for fine-tuning and feature extraction)."""

from keras_cheats.models.attention_rollout import (
    attention_rollout,
    rollout_maps,
    vit_rollout_maps,
)
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
from keras_cheats.models.clip import (
    CLIP,
    build_clip,
    build_image_encoder,
    build_text_encoder,
    build_text_tower,
    caption_vectorizer,
)
from keras_cheats.models.cnn import CNNConfig, build_cnn
from keras_cheats.models.dbn import dbn_classifier, down_pass, up_pass
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
from keras_cheats.models.diffusion import (
    DiffusionLoss,
    NoiseSchedule,
    cosine_betas,
    diffusion_loss,
    linear_betas,
    to_model_range,
    to_pixels,
)
from keras_cheats.models.diffusion_sampling import (
    ancestral_sample,
    ancestral_step,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    noise_predictor,
)
from keras_cheats.models.diffusion_unet import (
    DenoiserConfig,
    SinusoidalEmbedding,
    TimeResBlock,
    build_denoiser,
)
from keras_cheats.models.mlp import MLPConfig, build_mlp
from keras_cheats.models.ntm import (
    build_lstm,
    build_ntm,
    lstm_units_for,
)
from keras_cheats.models.odenet import ODENetConfig, build_odenet
from keras_cheats.models.recurrent import (
    RecurrentConfig,
    build_recurrent_classifier,
)
from keras_cheats.models.reinforcement import (
    build_actor_critic,
    build_q_network,
    numpy_forward,
    update_target,
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
from keras_cheats.models.vit import VisionTransformer, ViTConfig, build_vit

__all__ = [
    "CLIP",
    "ODENetConfig",
    "build_actor_critic",
    "build_clip",
    "build_q_network",
    "numpy_forward",
    "update_target",
    "build_image_encoder",
    "build_lstm",
    "build_ntm",
    "lstm_units_for",
    "build_odenet",
    "build_text_encoder",
    "build_text_tower",
    "caption_vectorizer",
    "DenoiserConfig",
    "DiffusionLoss",
    "NoiseSchedule",
    "SinusoidalEmbedding",
    "TimeResBlock",
    "ViTConfig",
    "VisionTransformer",
    "ancestral_sample",
    "ancestral_step",
    "attention_rollout",
    "build_denoiser",
    "build_vit",
    "cosine_betas",
    "dbn_classifier",
    "ddim_sample",
    "ddim_step",
    "ddim_timesteps",
    "diffusion_loss",
    "down_pass",
    "linear_betas",
    "noise_predictor",
    "rollout_maps",
    "to_model_range",
    "to_pixels",
    "up_pass",
    "vit_rollout_maps",
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
