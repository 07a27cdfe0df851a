"""The cheat sheet's worked examples (7.1, 7.3.1) and the numbers of 7.3.

Oracles are the hand computations, written out term by term. The test names
are the ones ERRATA.md cites.
"""

import io
import math

import keras
import numpy as np
import pytest

from keras_cheats import worked_examples as we

# ---- 7.1: the 2-2-1 MLP ------------------------------------------------------


@pytest.fixture(scope="module")
def mlp_trace():
    return we.trace(we.mlp_7_1())


def test_mlp_7_1_hidden_pre_activation(mlp_trace):
    # z1 = W1 x + b1 = [0.4*0.5 - 0.6*0.8 + 0.1, 0.7*0.5 + 0.1*0.8 - 0.2]
    z1 = [0.2 - 0.48 + 0.1, 0.35 + 0.08 - 0.2]
    np.testing.assert_allclose(mlp_trace["z1"], z1, atol=1e-6)
    np.testing.assert_allclose(mlp_trace["z1"], [-0.18, 0.23], atol=1e-6)


def test_mlp_7_1_relu(mlp_trace):
    np.testing.assert_allclose(mlp_trace["h"], [0.0, 0.23], atol=1e-6)


def test_mlp_7_1_output_pre_activation(mlp_trace):
    # z2 = 0.9 * 0 + (-0.3) * 0.23 + 0.05 = -0.069 + 0.05
    np.testing.assert_allclose(mlp_trace["z2"], [-0.019], atol=1e-6)


def test_mlp_7_1_sigmoid_output(mlp_trace):
    y_hat = 1.0 / (1.0 + math.exp(0.019))  # 0.495250...
    np.testing.assert_allclose(mlp_trace["y_hat"], [y_hat], atol=1e-6)
    assert round(float(mlp_trace["y_hat"][0]), 3) == 0.495


def test_mlp_7_1_every_printed_number_is_right():
    assert we.errata("mlp_7_1") == []


# ---- 7.3.1: the 4x4 CNN ------------------------------------------------------


@pytest.fixture(scope="module")
def cnn_trace():
    return we.trace(we.cnn_7_3_1())


def test_cnn_7_3_1_feature_map(cnn_trace):
    # Y(i, j) = 1*X[i,j] + 0*X[i,j+1] - 1*X[i+1,j] + 2*X[i+1,j+1] + 0
    expected = [
        [1 - 4 + 2 * 5, 2 - 5 + 2 * 6, 3 - 6 + 2 * 1],  # 7, 9, -1
        [4 - 7 + 2 * 8, 5 - 8 + 2 * 9, 6 - 9 + 2 * 2],  # 13, 15, 1
        [7 - 0 + 2 * 1, 8 - 1 + 2 * 2, 9 - 2 + 2 * 3],  # 9, 11, 13
    ]
    assert expected == [[7, 9, -1], [13, 15, 1], [9, 11, 13]]
    np.testing.assert_allclose(cnn_trace["conv"], expected, atol=1e-6)


def test_cnn_7_3_1_feature_map_numpy_oracle(cnn_trace):
    x, k = we.CNN_X, we.CNN_K
    y = np.array(
        [
            [np.sum(x[i : i + 2, j : j + 2] * k) for j in range(3)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(cnn_trace["conv"], y, atol=1e-6)


def test_cnn_7_3_1_relu(cnn_trace):
    expected = [[7, 9, 0], [13, 15, 1], [9, 11, 13]]
    np.testing.assert_allclose(cnn_trace["relu"], expected, atol=1e-6)


def test_cnn_7_3_1_max_pool_stride_1(cnn_trace):
    # max(7, 9, 13, 15), max(9, 0, 15, 1), max(13, 15, 9, 11),
    # max(15, 1, 11, 13)
    np.testing.assert_allclose(cnn_trace["pool"], [[15, 15], [15, 15]])


def test_keras_default_max_pool_stride_gives_1x1(cnn_trace):
    z = cnn_trace["relu"][None, :, :, None]  # (1, 3, 3, 1)
    pooled = keras.layers.MaxPooling2D(2)(z)  # strides default to 2
    assert tuple(pooled.shape) == (1, 1, 1, 1)
    assert float(keras.ops.convert_to_numpy(pooled).squeeze()) == 15.0


def test_cnn_7_3_1_flatten(cnn_trace):
    np.testing.assert_allclose(cnn_trace["flatten"], [15, 15, 15, 15])


def test_cnn_7_3_1_logits(cnn_trace):
    z1 = 0.1 * 15 + 0.2 * 15 - 0.1 * 15 + 0.05 * 15 + 0.5  # 4.25
    z2 = -0.3 * 15 + 0.2 * 15 + 0.4 * 15 + 0.1 * 15 - 0.5  # 5.5
    np.testing.assert_allclose(cnn_trace["logits"], [z1, z2], atol=1e-5)
    np.testing.assert_allclose(cnn_trace["logits"], [4.25, 5.5], atol=1e-5)


def test_cnn_7_3_1_exp_logits(cnn_trace):
    expected = [math.exp(4.25), math.exp(5.5)]  # 70.105, 244.692
    np.testing.assert_allclose(cnn_trace["exp_logits"], expected, rtol=1e-5)


def test_cnn_7_3_1_probabilities(cnn_trace):
    p1 = 1.0 / (1.0 + math.exp(5.5 - 4.25))  # 0.22270
    np.testing.assert_allclose(
        cnn_trace["probabilities"], [p1, 1 - p1], atol=1e-6
    )
    np.testing.assert_allclose(
        cnn_trace["probabilities"], [0.2227, 0.7773], atol=5e-5
    )


def test_cnn_7_3_1_head_on_the_cheat_sheets_flattened_vector():
    # From the cheat sheet's own (wrong) v = [12, 12, 12, 12] its dense and
    # softmax arithmetic is right except e^4.3, printed 73.4.
    model = we.cnn_7_3_1()
    head = keras.Sequential(
        [model.get_layer("logits"), model.get_layer("probabilities")]
    )
    v = np.full((1, 4), 12.0, dtype="float32")
    logits = keras.ops.convert_to_numpy(model.get_layer("logits")(v))[0]
    probs = keras.ops.convert_to_numpy(head(v))[0]
    np.testing.assert_allclose(logits, [3.5, 4.3], atol=1e-5)
    assert round(math.exp(3.5), 1) == 33.1
    assert round(math.exp(4.3), 1) == 73.7  # printed: 73.4
    np.testing.assert_allclose(np.exp(logits), [33.1155, 73.6998], atol=1e-3)
    np.testing.assert_allclose(probs, [0.31, 0.69], atol=5e-3)


def test_cnn_7_3_1_errata_are_exactly_these():
    assert we.errata("cnn_7_3_1") == [
        "conv",
        "relu",
        "pool",
        "flatten",
        "logits",
        "exp_logits",
        "probabilities",
    ]


def test_print_trace_marks_each_wrong_number():
    out = io.StringIO()
    we.print_trace("cnn_7_3_1", file=out)
    assert out.getvalue().count("WRONG") == 7
    out = io.StringIO()
    we.print_trace("mlp_7_1", file=out)
    text = out.getvalue()
    assert "WRONG" not in text and text.count(" ok") == 4


def test_trace_and_print_trace_reject_unknown_input():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="`x` must be given"):
        we.trace(model)
    with pytest.raises(ValueError, match="example='rnn'"):
        we.print_trace("rnn")


# ---- 7.3: the other numbers --------------------------------------------------


def test_7_3_feature_map_size_2x2_filter_on_64x64():
    y = keras.layers.Conv2D(1, 2)(np.zeros((1, 64, 64, 1), "float32"))
    assert tuple(y.shape[1:3]) == (64 - 2 + 1, 64 - 2 + 1) == (63, 63)


def test_7_3_conv_parameter_count_864_plus_32():
    conv = keras.layers.Conv2D(32, 3)
    conv.build((None, 64, 64, 3))
    kernel, bias = conv.get_weights()
    assert kernel.size == 32 * 3 * 3 * 3 == 864
    assert bias.size == 32
    assert conv.count_params() == 896
