"""TransferClassifier and feature_extractor (Cheat sheet 2.4)."""

import keras
import numpy as np

from keras_cheats.models import (
    CNNConfig,
    TransferClassifier,
    build_cnn,
    feature_extractor,
)

# The CNN of experiments.transfer, small: batch norm after each convolution,
# logits.
SMALL = CNNConfig(
    filters=(4, 8), batch_norm=True, dense_units=(16,), output_activation=None
)


def _source(num_classes=5):
    return build_cnn((8, 8, 1), num_classes, SMALL, name="cnn")


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 8, 8, 1)).astype("float32")


def _moving(model):
    return {v.path: np.array(v) for v in model.variables if "moving" in v.path}


def test_feature_extractor_shares_the_classifier_up_to_its_head():
    source = _source()
    base = feature_extractor(source)
    assert tuple(base.output.shape) == (None, 2 * 2 * 8)  # 8x8 -> 4 -> 2
    assert base.get_layer("conv_1") is source.get_layer("conv_1")
    x = _images(3, 0)
    features = keras.Model(source.input, source.get_layer("head").output)
    np.testing.assert_array_equal(np.asarray(base(x)), features(x))


def test_a_frozen_base_leaves_only_the_new_head_trainable():
    base = feature_extractor(_source())
    base.trainable = False
    model = TransferClassifier(base, 3)
    assert [v.path.split("/")[-2] for v in model.trainable_variables] == [
        "new_head",
        "new_head",
    ]
    assert tuple(model(_images(2, 0)).shape) == (2, 3)


def test_why_a_subclass_keras_3_overrides_training_false_in_functional():
    """In a functional model, base(x, training=False) does not stay in
    inference mode when the outer model trains (keras-team/keras#20285);
    TransferClassifier's call does. If Keras changes this, the functional
    form becomes an option again."""
    base = feature_extractor(_source())
    x = _images(8, 0)
    inputs = keras.Input((8, 8, 1))
    functional = keras.Model(
        inputs, keras.layers.Dense(5)(base(inputs, training=False))
    )
    moving = _moving(base)
    TransferClassifier(base, 5)(x, training=True)
    assert all(np.array_equal(v, moving[p]) for p, v in _moving(base).items())
    functional(x, training=True)
    assert not all(
        np.array_equal(v, moving[p]) for p, v in _moving(base).items()
    )


def test_transfer_classifier_keras_file_round_trip(tmp_path):
    model = TransferClassifier(feature_extractor(_source()), 3)
    x = _images(2, 1)
    model.save(tmp_path / "transfer.keras")
    loaded = keras.saving.load_model(tmp_path / "transfer.keras")
    assert isinstance(loaded, TransferClassifier)
    assert loaded.num_classes == 3
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
