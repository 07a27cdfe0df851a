"""build_cnn and CNNConfig (Cheat sheet 7.3)."""

import keras
import numpy as np
import pytest

from keras_cheats.models import CNNConfig, build_cnn


def _shapes(model):
    return {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}


def test_default_on_mnist_shapes():
    model = build_cnn((28, 28, 1), 10)
    shapes = _shapes(model)
    assert shapes["conv_1"] == (28, 28, 32)
    assert shapes["pool_1"] == (14, 14, 32)
    assert shapes["conv_2"] == (14, 14, 64)
    assert shapes["pool_2"] == (7, 7, 64)
    assert shapes["head"] == (3136,)
    assert shapes["output"] == (10,)
    assert model.count_params() == (
        (9 * 32 + 32)
        + (9 * 32 * 64 + 64)
        + (3136 * 128 + 128)
        + (128 * 10 + 10)
    )


def test_tiny_8x8_digits_images():
    model = build_cnn((8, 8, 1), 10)
    assert _shapes(model)["head"] == (2 * 2 * 64,)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    probs = keras.ops.convert_to_numpy(model(x))
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_pooling_is_skipped_on_maps_smaller_than_the_window():
    model = build_cnn((8, 8), 10, CNNConfig(filters=(4, 4, 4, 4)))
    names = [layer.name for layer in model.layers]
    # 8 -> 4 -> 2 -> 1, then no room for a fourth 2x2 pool.
    assert [n for n in names if n.startswith("pool")] == [
        "pool_1",
        "pool_2",
        "pool_3",
    ]
    assert "add_channel" in names  # (H, W) input gets a channel axis
    assert _shapes(model)["head"] == (4,)


def test_valid_padding_shrinks_by_kernel_minus_one():
    config = CNNConfig(
        filters=(1,), kernel_size=2, padding="valid", pooling="none"
    )
    model = build_cnn((64, 64, 1), 2, config)
    assert _shapes(model)["conv_1"] == (63, 63, 1)  # 64 - 2 + 1


def test_valid_padding_too_small_raises():
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8, 1\)"):
        build_cnn((8, 8, 1), 10, CNNConfig(filters=(8, 8, 8), padding="valid"))


@pytest.mark.parametrize(
    ("config", "layer", "cls"),
    [
        (CNNConfig(pooling="average"), "pool_1", keras.layers.AveragePooling2D),
        (
            CNNConfig(head="global_average"),
            "head",
            keras.layers.GlobalAveragePooling2D,
        ),
        (CNNConfig(head="global_max"), "head", keras.layers.GlobalMaxPooling2D),
        (
            CNNConfig(batch_norm=True),
            "batch_norm_2",
            keras.layers.BatchNormalization,
        ),
    ],
)
def test_pooling_head_and_batch_norm_options(config, layer, cls):
    model = build_cnn((16, 16, 3), 5, config)
    assert isinstance(model.get_layer(layer), cls)


def test_global_head_gives_one_value_per_feature_map():
    model = build_cnn(
        (16, 16, 3), 5, CNNConfig(head="global_max", dense_units=())
    )
    assert _shapes(model)["head"] == (64,)
    assert "dropout" in [layer.name for layer in model.layers]


def test_strides_and_no_pooling():
    config = CNNConfig(filters=(8,), strides=2, pooling="none")
    model = build_cnn((28, 28, 1), 10, config)
    assert _shapes(model)["conv_1"] == (14, 14, 8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filters": ()}, r"filters=\(\)"),
        ({"filters": (32, -1)}, r"filters=\(32, -1\)"),
        ({"kernel_size": 0}, "kernel_size=0"),
        ({"padding": "full"}, "padding='full'"),
        ({"pooling": "min"}, "pooling='min'"),
        ({"head": "dense"}, "head='dense'"),
        ({"dropout": -0.1}, "dropout=-0.1"),
        ({"output_activation": "nope"}, "output_activation='nope'"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CNNConfig(**kwargs)


def test_build_rejects_bad_input_shape():
    with pytest.raises(ValueError, match=r"input_shape=\(784,\)"):
        build_cnn((784,), 10)


def test_keras_round_trip(tmp_path):
    model = build_cnn((8, 8, 1), 3, CNNConfig(filters=(4, 8), batch_norm=True))
    path = tmp_path / "cnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(loaded(x)),
        rtol=1e-6,
    )


@pytest.mark.slow
def test_default_cnn_learns_sklearn_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    keras.utils.set_random_seed(0)
    model = build_cnn((8, 8, 1), 10)
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.9
