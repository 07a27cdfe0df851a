"""The Vision Transformer (Cheat sheet 7.5.2)."""

import dataclasses

import keras
import numpy as np
import pytest

from keras_cheats.models.vit import VisionTransformer, ViTConfig, build_vit

TINY = ViTConfig(patch_size=2, dim=8, depth=2, heads=2, mlp_dim=16)


@pytest.mark.parametrize("pooling, tokens", [("cls", 17), ("mean", 16)])
def test_shapes_and_attention_weights(pooling, tokens):
    config = dataclasses.replace(TINY, pooling=pooling)
    model = build_vit((8, 8, 1), 10, config)
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    assert model(x).shape == (3, 10)
    weights = model.attention_weights(x)
    assert len(weights) == 2
    for w in weights:
        assert w.shape == (3, 2, tokens, tokens)
        np.testing.assert_allclose(np.asarray(w).sum(-1), 1.0, rtol=1e-5)
    has_token = any(v.name == "class_token" for v in model.weights)
    assert has_token == (pooling == "cls")


def test_attention_weights_come_from_the_classifier_s_own_layers():
    # Changing block 1's query kernel changes what attention_weights gives
    # for block 1 (and not block 0): no second copy of the network.
    model = build_vit((8, 8, 1), 10, TINY)
    x = np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")
    before = [np.asarray(w) for w in model.attention_weights(x)]
    kernel = model.blocks[1].attention.query_dense.kernel
    kernel.assign(kernel * 3.0)
    after = [np.asarray(w) for w in model.attention_weights(x)]
    np.testing.assert_array_equal(before[0], after[0])
    assert not np.allclose(before[1], after[1])


def test_augmentation_and_dropout_act_in_training_only():
    config = dataclasses.replace(TINY, shift=0.2, rotation=0.1, dropout=0.1)
    model = build_vit((8, 8, 1), 10, config)
    plain = build_vit((8, 8, 1), 10, TINY)
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(2).random((4, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(model(x), plain(x))
    assert not np.allclose(model(x, training=True), model(x))


def test_config_rejects_bad_values_by_name():
    for kwargs, name in (
        ({"heads": 3}, "heads"),
        ({"pooling": "max"}, "pooling"),
        ({"dropout": 1.0}, "dropout"),
        ({"shift": 0.5}, "shift"),
        ({"depth": 0}, "depth"),
    ):
        with pytest.raises(ValueError, match=name):
            ViTConfig(**kwargs)
    with pytest.raises(ValueError, match="patch_size"):
        build_vit((28, 28, 1), 10, dataclasses.replace(TINY, patch_size=3))
    with pytest.raises(ValueError, match="image_shape"):
        build_vit((28, 28), 10, TINY)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_saved_and_loaded_vit_gives_the_same_outputs(tmp_path, pooling):
    config = dataclasses.replace(TINY, pooling=pooling, shift=0.1)
    model = build_vit((8, 8, 1), 4, config, name="tiny_vit")
    x = np.random.default_rng(3).random((2, 8, 8, 1)).astype("float32")
    path = tmp_path / "vit.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, VisionTransformer)
    assert loaded.config == config and loaded.name == "tiny_vit"
    np.testing.assert_array_equal(loaded(x), model(x))
    for a, b in zip(loaded.attention_weights(x), model.attention_weights(x)):
        np.testing.assert_array_equal(a, b)
