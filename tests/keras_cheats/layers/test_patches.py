"""PatchEmbedding, ClassToken and PositionEmbedding (Cheat sheet 7.5.2)."""

import keras
import numpy as np
import pytest

from keras_cheats.layers.patches import (
    ClassToken,
    PatchEmbedding,
    PositionEmbedding,
)


def numpy_patch_embedding(images, kernel, bias):
    """x_p^i E + b with patches row by row, pixels (row, column, channel)."""
    p = kernel.shape[0]
    b, h, w, c = images.shape
    patches = images.reshape(b, h // p, p, w // p, p, c)
    patches = patches.transpose(0, 1, 3, 2, 4, 5).reshape(b, -1, p * p * c)
    return patches @ kernel.reshape(p * p * c, -1) + bias


@pytest.mark.parametrize("shape, p", [((8, 8, 1), 2), ((12, 8, 3), 4)])
def test_patch_embedding_is_a_linear_map_of_flattened_patches(shape, p):
    rng = np.random.default_rng(0)
    x = rng.random((2, *shape)).astype("float32")
    layer = PatchEmbedding(p, 5)
    tokens = np.asarray(layer(x))
    n = (shape[0] // p) * (shape[1] // p)
    assert tokens.shape == (2, n, 5)
    assert layer.compute_output_shape((None, *shape)) == (None, n, 5)
    kernel, bias = (np.asarray(w) for w in layer.projection.weights)
    np.testing.assert_allclose(
        tokens, numpy_patch_embedding(x, kernel, bias), rtol=1e-5, atol=1e-6
    )


def test_patch_embedding_numbers_patches_row_by_row():
    # One bright pixel in the patch at row 1, column 0 of a 2 x 2 grid:
    # only token 1 * 2 + 0 = 2 differs from the bias.
    x = np.zeros((1, 4, 4, 1), "float32")
    x[0, 2, 1, 0] = 1.0
    layer = PatchEmbedding(2, 3)
    layer.build(x.shape)
    layer.projection.bias.assign(np.ones(3, "float32"))
    tokens = np.asarray(layer(x))[0]
    changed = np.flatnonzero(np.any(tokens != 1.0, axis=-1))
    assert changed.tolist() == [2]


def test_patch_embedding_refuses_a_patch_that_does_not_divide_the_image():
    with pytest.raises(ValueError, match="width; received patch_size=3"):
        PatchEmbedding(3, 4)(np.zeros((1, 9, 8, 1), "float32"))
    with pytest.raises(ValueError, match="patch_size"):
        PatchEmbedding(0, 4)


def test_class_token_goes_first_and_position_embedding_adds():
    x = np.random.default_rng(1).normal(size=(3, 4, 6)).astype("float32")
    cls = ClassToken()
    out = np.asarray(cls(x))
    assert out.shape == (3, 5, 6)
    np.testing.assert_array_equal(out[:, 1:], x)
    token = np.asarray(cls.token)
    np.testing.assert_array_equal(out[:, :1], np.broadcast_to(token, (3, 1, 6)))
    pos = PositionEmbedding()
    out = np.asarray(pos(x))
    np.testing.assert_allclose(out, x + np.asarray(pos.embedding), rtol=1e-6)
    assert np.asarray(pos.embedding).shape == (1, 4, 6)


def test_layers_survive_a_keras_file_round_trip(tmp_path):
    inputs = keras.Input((8, 8, 2))
    tokens = PatchEmbedding(4, 6, name="patches")(inputs)
    tokens = ClassToken(name="cls")(tokens)
    outputs = PositionEmbedding(name="pos")(tokens)
    model = keras.Model(inputs, outputs)
    for layer in model.layers[1:]:  # non-zero tokens, to see them reload
        layer.set_weights(
            [
                np.random.default_rng(2).normal(size=w.shape)
                for w in layer.weights
            ]
        )
    x = np.random.default_rng(3).random((2, 8, 8, 2)).astype("float32")
    model.save(tmp_path / "tokens.keras")
    loaded = keras.models.load_model(tmp_path / "tokens.keras")
    assert isinstance(loaded.get_layer("patches"), PatchEmbedding)
    assert loaded.get_layer("patches").get_config()["patch_size"] == 4
    assert loaded.get_layer("patches").get_config()["dim"] == 6
    np.testing.assert_array_equal(loaded(x), model(x))
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model.get_layer("patches"))
    )
    assert (clone.patch_size, clone.dim) == (4, 6)
