"""Transfer learning models (Cheat sheet 2.4): a pretrained base with a new
head, for 2.4.1 fine-tuning and 2.4.2 feature extraction.

`feature_extractor` cuts a `build_cnn` classifier at its flattened feature
maps; `TransferClassifier` puts a new head (dropout, dense) on such a base.
Freeze the base (`base.trainable = False`) and train the head: feature
extraction; then unfreeze it and train everything at a low learning rate:
fine-tuning. `experiments.transfer` runs both against training from
scratch.

Keras 3 note: a base called with training=False inside a *functional*
model is not kept in inference mode; the outer model's training=True
overrides the call argument (keras-team/keras#20285). `TransferClassifier`
is therefore a subclassed model whose `call` passes training=False to the
base explicitly, which Keras honours; a test checks the moving statistics
stay bitwise the same.
"""

import keras


def feature_extractor(classifier):
    """The base: a `build_cnn` classifier up to its flattened feature maps
    (the layer named "head"), (B, H, W, C) -> (B, h * w * filters[-1]),
    sharing its layers and weights."""
    return keras.Model(
        classifier.input, classifier.get_layer("head").output, name="base"
    )


@keras.saving.register_keras_serializable(package="keras_cheats")
class TransferClassifier(keras.Model):
    """A pretrained base with a new head (Cheat sheet 2.4).

    y = Dense(Dropout(base(x, training=False))). The base always runs in
    inference mode (BatchNorm uses and keeps its moving statistics), also
    when the base is trainable (fine-tuning); `base.trainable = False`
    freezes it (feature extraction).

    Args:
      base: a model mapping images to (B, features).
      num_classes: units of the new head (logits).
      dropout: dropout rate before the head.
    """

    def __init__(self, base, num_classes, dropout=0.25, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.num_classes = num_classes
        self.dropout_rate = dropout
        self.dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.head = keras.layers.Dense(num_classes, name="new_head")
        # Built now, so that an optimizer built on trainable_variables
        # before the first call (as `loops.fit` does) sees the head.
        self.build((None, *base.input_shape[1:]))

    def build(self, input_shape):
        self.head.build(self.base.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, training=None):
        features = self.base(x, training=False)  # (B, features)
        return self.head(self.dropout(features, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            base=keras.saving.serialize_keras_object(self.base),
            num_classes=self.num_classes,
            dropout=self.dropout_rate,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        base = keras.saving.deserialize_keras_object(config.pop("base"))
        return cls(base=base, **config)
