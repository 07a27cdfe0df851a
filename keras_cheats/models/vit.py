"""Vision Transformer of Dosovitskiy et al. 2020 (Cheat sheet 7.5.2).

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos       patches, eq. 1
    z'_l = z_{l-1} + MSA(LN(z_{l-1}))                     l = 1..L, eq. 2
    z_l = z'_l + MLP(LN(z'_l))                            eq. 3
    y = LN(z_L^0) W_head                                  eq. 4

An image is cut into P x P patches, each a token (`PatchEmbedding`); a
learned class token is put in front and a learned position embedding is
added (`ClassToken`, `PositionEmbedding`); L pre-norm encoder blocks
(`TransformerBlock`) let every token attend to every other; the final
state of the class token, layer-normalized, is classified by one dense
layer ("cls" pooling, the paper's). With pooling="mean" (the default)
there is no class token and the head reads the mean of the final tokens
instead (global average pooling, which the paper also tried; it reached
0.972 against the class token's 0.9685 on MNIST 8,000/2,000, BUILD.md).

With the defaults a 28x28x1 image gives 7 x 7 = 49 patch tokens of width
64 through 4 blocks of 4 heads: 138,890 weights for 10 classes.
Optional augmentation (random shifts and rotations) runs inside the model,
in training only, so the data pipeline stays the same as every other
classifier's.

`VisionTransformer.attention_weights(images)` returns every block's
attention weights from the same layers the classifier runs (what
`keras_cheats.models.attention_rollout` turns into a relevance map).
"""

import dataclasses
from dataclasses import dataclass

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.layers.patches import (
    ClassToken,
    PatchEmbedding,
    PositionEmbedding,
)
from keras_cheats.layers.transformer_block import TransformerBlock

POOLINGS = ("cls", "mean")


@dataclass(frozen=True)
class ViTConfig:
    """Sizes of the Vision Transformer (Cheat sheet 7.5.2).

    Args:
        patch_size: P, the side of the square patches; must divide the
            image height and width.
        dim: D, the width of every token.
        depth: L, the number of encoder blocks.
        heads: h, attention heads per block; must divide `dim`.
        mlp_dim: hidden width of each block's MLP.
        dropout: rate in [0, 1) after the embeddings, the attention output
            and each MLP layer.
        pooling: "cls" (classify the class token) or "mean" (the
            default: no class token; classify the mean of the final
            tokens).
        shift: random translation in training, as a fraction in [0, 0.5)
            of the image height and width (0: none).
        rotation: random rotation in training, as a fraction in [0, 0.5]
            of a full turn (0.05: up to 18 degrees either way; 0: none).
    """

    patch_size: int = 4
    dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_dim: int = 128
    dropout: float = 0.0
    pooling: str = "mean"
    shift: float = 0.0
    rotation: float = 0.0

    def __post_init__(self):
        for name in ("patch_size", "dim", "depth", "heads", "mlp_dim"):
            checks.positive_int(name, getattr(self, name))
        if self.dim % self.heads:
            raise ValueError(
                f"`heads` must divide `dim`; received heads={self.heads} "
                f"and dim={self.dim}."
            )
        checks.rate("dropout", self.dropout)
        checks.choice("pooling", self.pooling, POOLINGS)
        checks.rate("shift", self.shift, high=0.5)
        checks.rate("rotation", self.rotation, high=0.5, high_open=False)


@keras.saving.register_keras_serializable(package="keras_cheats")
class VisionTransformer(keras.Model):
    """ViT classifier: images (B, H, W, C) in [0, 1] -> logits (B, K).

    Args:
        image_shape: (H, W, C); P must divide H and W.
        num_classes: K, the number of logits.
        config: a `ViTConfig` (default: `ViTConfig()`).

    Built at construction. `attention_weights(images)` gives the L blocks'
    weights, each (B, h, T, T) with T = N + 1 tokens for "cls" pooling
    (token 0 is the class token) and T = N for "mean".
    """

    def __init__(self, image_shape, num_classes, config=None, **kwargs):
        kwargs.setdefault("name", "vit")
        super().__init__(**kwargs)
        config = ViTConfig() if config is None else config
        if not isinstance(config, ViTConfig):
            raise ValueError(
                f"`config` must be a ViTConfig; received config={config!r}."
            )
        shape = checks.input_shape(image_shape)
        if len(shape) != 3:
            raise ValueError(
                "`image_shape` must be (height, width, channels); received "
                f"image_shape={image_shape!r}."
            )
        self.image_shape = shape
        self.num_classes = checks.positive_int("num_classes", num_classes)
        self.config = config
        augment = []
        if config.shift:
            augment.append(
                keras.layers.RandomTranslation(
                    config.shift, config.shift, fill_mode="constant"
                )
            )
        if config.rotation:
            augment.append(
                keras.layers.RandomRotation(
                    config.rotation, fill_mode="constant"
                )
            )
        self.augment = augment
        self.patches = PatchEmbedding(config.patch_size, config.dim)
        self.class_token = ClassToken() if config.pooling == "cls" else None
        self.positions = PositionEmbedding()
        self.embedding_dropout = keras.layers.Dropout(config.dropout)
        self.blocks = [
            TransformerBlock(
                config.heads, config.mlp_dim, config.dropout, name=f"block{i}"
            )
            for i in range(config.depth)
        ]
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.head = keras.layers.Dense(num_classes, name="head")
        self.build((None, *shape))

    def build(self, input_shape):
        for layer in self.augment:
            layer.build(input_shape)
        self.patches.build(input_shape)
        shape = self.patches.compute_output_shape(input_shape)
        if self.class_token is not None:
            self.class_token.build(shape)
            shape = self.class_token.compute_output_shape(shape)
        self.positions.build(shape)
        for block in self.blocks:
            block.build(shape)
        self.norm.build(shape)
        self.head.build((None, self.config.dim))
        self.built = True

    def _tokens(self, images, training):
        """z_0: (B, H, W, C) -> (B, T, D), augmented in training."""
        for layer in self.augment:
            images = layer(images, training=training)
        tokens = self.patches(images)
        if self.class_token is not None:
            tokens = self.class_token(tokens)
        return self.embedding_dropout(self.positions(tokens), training=training)

    def call(self, images, training=None):
        z = self._tokens(images, training)
        for block in self.blocks:
            z = block(z, training=training)
        z = self.norm(z)
        pooled = z[:, 0] if self.class_token is not None else ops.mean(z, 1)
        return self.head(pooled)

    def attention_weights(self, images):
        """Each block's attention weights in inference mode: a list of L
        tensors (B, h, T, T); row t of a head sums to 1."""
        z = self._tokens(images, training=False)
        weights = []
        for block in self.blocks:
            z, w = block(z, training=False, return_attention_scores=True)
            weights.append(w)
        return weights

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            num_classes=self.num_classes,
            config=dataclasses.asdict(self.config),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(
            image_shape=tuple(config.pop("image_shape")),
            num_classes=config.pop("num_classes"),
            config=ViTConfig(**config.pop("config")),
            **config,
        )


def build_vit(image_shape, num_classes, config=None, name="vit"):
    """A built `VisionTransformer` (Cheat sheet 7.5.2); see the class."""
    return VisionTransformer(image_shape, num_classes, config, name=name)
