"""A small CLIP (Radford et al. 2021), cheat sheet 7.7.4 (multi-modal
models): an image tower and a text tower map into one d-dimensional space
of unit vectors, where a matching image and caption point the same way.

    image x  -> CNN trunk (section 7.3.1) -> Dense(d) -> u / ||u||
    caption  -> TextVectorization (character 1..n-grams) -> Embedding
             -> mean over the n-grams -> Dense(hidden, relu) -> Dense(d)
             -> v / ||v||
    logits   s_ij = exp(t) cos(u_i, v_j)    (`ContrastiveLogits`)

The text tower is a bag of character n-grams (fastText-like): a word
never seen in training ("sete") still shares n-grams ("se", "ete") with
words that were ("sette", "siete"), where a word vocabulary would only
have an out-of-vocabulary token. The TextVectorization is adapted on the
training captions outside any compiled step; training feeds the token
ids (`CLIP` takes `(images, tokens)`), and `build_text_encoder` wraps the
adapted layer and the tower into one model on strings, which saves and
loads with its vocabulary.
"""

import keras

from keras_cheats import checks
from keras_cheats.layers.contrastive_logits import ContrastiveLogits
from keras_cheats.models import cnn


def caption_vectorizer(captions, ngrams=3):
    """A TextVectorization adapted on `captions`: lower case, punctuation
    stripped, split into characters, then every 1..`ngrams`-gram of
    characters (spaces included) is a token; the ids of a batch are
    padded with 0 to its longest caption. Unseen n-grams map to id 1
    ([UNK])."""
    checks.positive_int("ngrams", ngrams)
    vectorizer = keras.layers.TextVectorization(
        standardize="lower_and_strip_punctuation",
        split="character",
        ngrams=tuple(range(1, ngrams + 1)),
        output_mode="int",
        name="vectorizer",
    )
    vectorizer.adapt(list(captions))
    return vectorizer


def build_image_encoder(image_shape, embed_dim, name="image_encoder"):
    """Images (B, H, W, C) -> unit vectors (B, embed_dim): the default CNN
    of `keras_cheats.models.cnn` up to its 128-unit dense layer (no
    dropout), then a linear projection and L2 normalisation."""
    checks.positive_int("embed_dim", embed_dim)
    trunk = cnn.build_cnn(
        image_shape, 10, cnn.CNNConfig(dense_units=(128,), dropout=0.0)
    )
    h = trunk.get_layer("dense_1").output
    z = keras.layers.Dense(embed_dim, name="projection")(h)
    z = keras.layers.UnitNormalization(name="unit")(z)
    return keras.Model(trunk.input, z, name=name)


def build_text_tower(
    vocab_size, embed_dim, token_dim=64, hidden=128, name="text_tower"
):
    """Token ids (B, L), 0 = padding -> unit vectors (B, embed_dim):
    embedding, mean over the non-padding tokens, a ReLU layer, a linear
    projection and L2 normalisation."""
    checks.positive_int("vocab_size", vocab_size)
    checks.positive_int("embed_dim", embed_dim)
    checks.positive_int("token_dim", token_dim)
    checks.positive_int("hidden", hidden)
    tokens = keras.Input((None,), dtype="int64", name="tokens")
    e = keras.layers.Embedding(
        vocab_size, token_dim, mask_zero=True, name="embedding"
    )(tokens)  # (B, L, token_dim), padding masked
    h = keras.layers.GlobalAveragePooling1D(name="mean")(e)  # masked mean
    h = keras.layers.Dense(hidden, activation="relu", name="hidden")(h)
    z = keras.layers.Dense(embed_dim, name="projection")(h)
    z = keras.layers.UnitNormalization(name="unit")(z)
    return keras.Model(tokens, z, name=name)


def build_text_encoder(vectorizer, text_tower, name="text_encoder"):
    """Strings (B,) -> unit vectors: `vectorizer` then `text_tower`, one
    model that saves to a .keras file with the vocabulary."""
    captions = keras.Input((), dtype="string", name="captions")
    return keras.Model(captions, text_tower(vectorizer(captions)), name=name)


class CLIP(keras.Model):
    """The two towers and the learnt temperature.

    `model((images, tokens))` -> (u, v): (B, d) unit vectors of the
    images and of their captions' token ids; `model.logits(u, v)` -> the
    (N, M) scaled similarities. Under a distribution strategy the towers
    run per replica and the logits can be taken over gathered vectors.
    """

    def __init__(self, image_encoder, text_tower, logits=None, **kwargs):
        super().__init__(**kwargs)
        self.image_encoder = image_encoder
        self.text_tower = text_tower
        self.contrastive_logits = logits or ContrastiveLogits(name="logits")
        self.built = True  # the towers are built models; t is made above

    def call(self, inputs, training=None):
        images, tokens = inputs
        u = self.image_encoder(images, training=training)
        v = self.text_tower(tokens, training=training)
        return u, v

    def logits(self, u, v):
        return self.contrastive_logits(u, v)


def build_clip(image_shape, vocab_size, embed_dim=64, init_temperature=0.07):
    """A `CLIP` with the towers of this module and a learnt temperature
    (CLIP's 0.07 at first by default; the logit scale at most 100)."""
    return CLIP(
        build_image_encoder(image_shape, embed_dim),
        build_text_tower(vocab_size, embed_dim),
        ContrastiveLogits(init_temperature, name="logits"),
        name="clip",
    )
