"""build_mlp and MLPConfig (Cheat sheet 7.1)."""

import math

import keras
import numpy as np
import pytest

from keras_cheats.models import MLPConfig, build_mlp
from keras_cheats.worked_examples import MLP_B1, MLP_B2, MLP_W1, MLP_W2


def test_default_is_784_128_10():
    model = build_mlp((784,), 10)
    assert model.output_shape == (None, 10)
    assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10
    x = np.random.default_rng(0).uniform(size=(3, 784)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)).sum(axis=1), 1.0, rtol=1e-5
    )


def test_reproduces_the_7_1_example():
    config = MLPConfig(hidden_units=(2,), output_activation="sigmoid")
    model = build_mlp((2,), 1, config)
    model.get_layer("dense_1").set_weights([MLP_W1.T, MLP_B1])
    model.get_layer("output").set_weights([MLP_W2.T, MLP_B2])
    y = keras.ops.convert_to_numpy(model(np.array([[0.5, 0.8]], "float32")))
    np.testing.assert_allclose(y, [[1 / (1 + math.exp(0.019))]], atol=1e-6)


def test_image_input_is_flattened():
    model = build_mlp((28, 28, 1), 10, MLPConfig(hidden_units=(16, 8)))
    assert model.get_layer("flatten").output.shape == (None, 784)
    assert [
        layer.units for layer in model.layers if hasattr(layer, "units")
    ] == [
        16,
        8,
        10,
    ]


def test_options_build_the_layers_they_name():
    config = MLPConfig(
        hidden_units=(4, 3),
        activation="tanh",
        use_bias=False,
        kernel_initializer="ones",
        dropout=0.5,
        batch_norm=True,
        output_activation=None,
    )
    model = build_mlp((5,), 2, config)
    names = [layer.name for layer in model.layers]
    assert names == [
        "inputs",
        "flatten",
        "dense_1",
        "batch_norm_1",
        "activation_1",
        "dropout_1",
        "dense_2",
        "batch_norm_2",
        "activation_2",
        "dropout_2",
        "output",
    ]
    dense = model.get_layer("dense_1")
    assert dense.bias is None and np.all(dense.kernel.numpy() == 1)
    assert model.get_layer("activation_1").get_config()["activation"] == "tanh"
    # No output activation: logits, not probabilities.
    assert model.get_layer("output").get_config()["activation"] == "linear"


def test_l1_l2_penalty_is_a_model_regularization_term():
    config = MLPConfig(
        hidden_units=(3,), kernel_initializer="ones", l1=0.01, l2=0.1
    )
    model = build_mlp((2,), 2, config)
    model(np.zeros((1, 2), "float32"))
    kernels = [model.get_layer(n).kernel.numpy() for n in ("dense_1", "output")]
    expected = sum(
        0.01 * np.abs(k).sum() + 0.1 * np.square(k).sum() for k in kernels
    )
    total = sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses)
    np.testing.assert_allclose(total, expected, rtol=1e-5)
    assert build_mlp((2,), 2).losses == []


def test_binary_sigmoid_output():
    model = build_mlp((3,), 1, MLPConfig(output_activation="sigmoid"))
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_units": (0,)}, r"hidden_units=\(0,\)"),
        ({"hidden_units": 128}, "hidden_units=128"),
        ({"activation": "nope"}, "activation='nope'"),
        ({"kernel_initializer": "nope"}, "kernel_initializer='nope'"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"l2": -0.1}, "l2=-0.1"),
        ({"batch_norm": "yes"}, "batch_norm='yes'"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLPConfig(**kwargs)


def test_config_is_frozen_and_lists_become_tuples():
    config = MLPConfig(hidden_units=[64, 32])
    assert config.hidden_units == (64, 32)
    with pytest.raises(AttributeError):
        config.dropout = 0.3


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((784,), 1), "num_classes=1"),
        (((784,), 0), "num_classes=0"),
        (((0,), 10), r"input_shape=\(0,\)"),
        (((784,), 10, {"dropout": 0.5}), "config="),
    ],
)
def test_build_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        build_mlp(*args)


def test_keras_round_trip(tmp_path):
    model = build_mlp(
        (6,), 3, MLPConfig(hidden_units=(5,), batch_norm=True, l2=1e-3)
    )
    path = tmp_path / "mlp.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(loaded(x)),
        rtol=1e-6,
    )
