"""build_recurrent_classifier and RecurrentConfig (Cheat sheet 7.2)."""

import keras
import numpy as np
import pytest

from keras_cheats.models.recurrent import (
    RecurrentConfig,
    build_recurrent_classifier,
)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _rnn_step(x, state, kernel, recurrent, bias):
    (h,) = state
    return (np.tanh(x @ kernel + h @ recurrent + bias),)


def _gru_step(x, state, kernel, recurrent, bias):
    (h,) = state
    n = h.shape[-1]
    xz, xr, xn = np.split(x @ kernel + bias[0], 3, axis=-1)
    hz, hr, hn = np.split(h @ recurrent + bias[1], 3, axis=-1)
    z, r = _sigmoid(xz + hz), _sigmoid(xr + hr)
    candidate = np.tanh(xn + r * hn)
    assert candidate.shape[-1] == n
    return (z * h + (1 - z) * candidate,)


def _lstm_step(x, state, kernel, recurrent, bias):
    h, c = state
    i, f, g, o = np.split(x @ kernel + h @ recurrent + bias, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


_STEPS = {"rnn": (_rnn_step, 1), "gru": (_gru_step, 1), "lstm": (_lstm_step, 2)}


def _numpy_forward(model, cell, images):
    """The cheat-sheet recurrences in NumPy, with the model's weights."""
    step, num_states = _STEPS[cell]
    b, steps = images.shape[0], images.shape[1]
    x = images.reshape(b, steps, -1)  # rows as time steps
    layer = 1
    while True:
        try:
            rnn = model.get_layer(f"recurrent_{layer}")
        except ValueError:
            break
        kernel, recurrent, bias = rnn.get_weights()
        units = recurrent.shape[0]
        state = tuple(np.zeros((b, units)) for _ in range(num_states))
        outputs = []
        for t in range(steps):
            state = step(x[:, t], state, kernel, recurrent, bias)
            outputs.append(state[0])
        x = np.stack(outputs, axis=1)
        layer += 1
    w, bias = model.get_layer("output").get_weights()
    return x[:, -1] @ w + bias


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_numpy_recurrences(cell, seed):
    rng = np.random.default_rng(seed)
    h, w, c = rng.integers(2, 6, size=3)
    units, layers = int(rng.integers(2, 6)), int(rng.integers(1, 3))
    model = build_recurrent_classifier(
        (int(h), int(w), int(c)),
        3,
        RecurrentConfig(cell=cell, units=units, num_layers=layers),
    )
    # Random biases too (Keras initializes them to 0, or 1 for f_t).
    model.set_weights(
        [rng.normal(0, 0.5, v.shape) for v in model.get_weights()]
    )
    images = rng.uniform(size=(4, h, w, c)).astype("float32")
    expected = _numpy_forward(model, cell, images.astype("float64"))
    got = keras.ops.convert_to_numpy(model(images))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("cell", "recurrent_params"),
    [
        ("rnn", 128 * (28 + 128 + 1)),
        ("gru", 3 * 128 * (28 + 128 + 2)),
        ("lstm", 4 * 128 * (28 + 128 + 1)),
    ],
)
def test_mnist_rows_parameter_counts(cell, recurrent_params):
    model = build_recurrent_classifier(
        (28, 28, 1), 10, RecurrentConfig(cell=cell)
    )
    assert tuple(model.get_layer("rows").output.shape) == (None, 28, 28)
    assert model.get_layer("recurrent_1").count_params() == recurrent_params
    assert model.count_params() == recurrent_params + 128 * 10 + 10
    assert tuple(model.output.shape) == (None, 10)


def test_any_image_shape_is_rows_of_width_times_channels():
    model = build_recurrent_classifier(
        (8, 5, 3), 4, RecurrentConfig(cell="gru", units=6, num_layers=2)
    )
    assert tuple(model.get_layer("rows").output.shape) == (None, 8, 15)
    assert tuple(model.get_layer("recurrent_1").output.shape) == (None, 8, 6)
    assert tuple(model.get_layer("recurrent_2").output.shape) == (None, 6)
    two_d = build_recurrent_classifier((8, 8), 10)
    assert tuple(two_d.get_layer("rows").output.shape) == (None, 8, 8)


def test_dropout_and_softmax_options():
    model = build_recurrent_classifier(
        (4, 4, 1),
        3,
        RecurrentConfig(
            cell="rnn", units=4, dropout=0.5, output_activation=("softmax")
        ),
    )
    assert model.get_layer("dropout").rate == 0.5
    x = np.random.default_rng(0).uniform(size=(2, 4, 4, 1))
    probs = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_keras_file_round_trip(tmp_path):
    model = build_recurrent_classifier(
        (6, 6, 1), 3, RecurrentConfig(cell="lstm", units=5, num_layers=2)
    )
    x = np.random.default_rng(0).uniform(size=(2, 6, 6, 1)).astype("float32")
    path = tmp_path / "lstm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)),
        keras.ops.convert_to_numpy(model(x)),
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "transformer"}, "cell='transformer'"),
        ({"units": 0}, "units=0"),
        ({"num_layers": 1.5}, "num_layers=1.5"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"output_activation": "nope"}, "output_activation='nope'"),
    ],
)
def test_bad_config_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RecurrentConfig(**kwargs)


def test_bad_input_shape_and_config():
    with pytest.raises(ValueError, match=r"input_shape=\(784,\)"):
        build_recurrent_classifier((784,), 10)
    with pytest.raises(ValueError, match="config="):
        build_recurrent_classifier((28, 28, 1), 10, {"cell": "gru"})
