"""The self-organizing map (Cheat sheet 7.9): update, neighbourhood,
errors, BMUs and serialization."""

import keras
import numpy as np
import pytest

from keras_cheats.layers.som import (
    SelfOrganizingMap,
    are_grid_neighbours,
    exponential_decay,
    grid_positions,
    neighbourhood,
    som_update,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _map(rows, cols, dim, seed):
    som = SelfOrganizingMap(rows, cols)
    som.build((None, dim))
    rng = np.random.default_rng(seed)
    som.set_weights([rng.random((rows * cols, dim)).astype("float32")])
    return som


def test_update_hand_computed():
    """A 1 x 2 grid, units at r_0 = (0, 0) and r_1 = (0, 1), prototypes
    w_0 = (0, 0), w_1 = (1, 0); inputs x_1 = (0, 1), x_2 = (1, 1);
    eta = 0.5, sigma = 1, so a neighbour one cell away gets
    h = exp(-1 / 2) = a = 0.60653.

    ||x_1 - w_0||^2 = 1 < ||x_1 - w_1||^2 = 2: c(x_1) = 0, h = (1, a).
    ||x_2 - w_0||^2 = 2 > ||x_2 - w_1||^2 = 1: c(x_2) = 1, h = (a, 1).
    w_0 <- w_0 + 0.5 / 2 (1 (x_1 - w_0) + a (x_2 - w_0))
         = 0.25 ((0, 1) + a (1, 1)) = (0.25 a, 0.25 (1 + a))
         = (0.15163, 0.40163)
    w_1 <- w_1 + 0.25 (a (x_1 - w_1) + 1 (x_2 - w_1))
         = (1, 0) + 0.25 (a (-1, 1) + (0, 1)) = (0.84837, 0.40163)
    """
    w = np.array([[0.0, 0.0], [1.0, 0.0]], "float32")
    x = np.array([[0.0, 1.0], [1.0, 1.0]], "float32")
    got = _np(som_update(w, grid_positions(1, 2), x, 0.5, 1.0))
    want = [[0.15163, 0.40163], [0.84837, 0.40163]]
    np.testing.assert_allclose(got, want, atol=1e-5)
    # The docstring's example: one input, x = (0, 1).
    one = _np(som_update(w, grid_positions(1, 2), x[:1], 0.5, 1.0))
    np.testing.assert_allclose(one, [[0, 0.5], [0.6967, 0.3033]], atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neighbourhood_and_update_match_numpy(seed):
    rng = np.random.default_rng(seed)
    rows, cols, dim, batch = rng.integers(1, 5), rng.integers(2, 6), 3, 7
    sigma, eta = rng.uniform(0.3, 3.0), rng.uniform(0.05, 1.0)
    positions = grid_positions(rows, cols)
    k = rows * cols
    bmu = rng.integers(0, k, batch)
    gap = ((positions[bmu][:, None, :] - positions[None]) ** 2).sum(-1)
    h = np.exp(-gap / (2 * sigma**2))  # (B, K)
    got = _np(neighbourhood(positions, bmu.astype("int32"), sigma))
    np.testing.assert_allclose(got, h, rtol=1e-5, atol=1e-7)

    w = rng.random((k, dim)).astype("float32")
    x = rng.random((batch, dim)).astype("float32")
    c = ((x[:, None] - w[None]) ** 2).sum(-1).argmin(1)
    h = np.exp(
        -((positions[c][:, None] - positions[None]) ** 2).sum(-1)
        / (2 * sigma**2)
    )
    # Per example, then averaged: w_j + eta mean_i h_ij (x_i - w_j).
    steps = h[:, :, None] * (x[:, None, :] - w[None])  # (B, K, D)
    want = w + eta * steps.mean(0)
    got = _np(som_update(w, positions, x, eta, sigma))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_positions_neighbours_and_decay():
    np.testing.assert_array_equal(
        grid_positions(2, 3), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    )
    # On a 3 x 4 grid unit 5 is (1, 1): its 8 neighbours, not unit 7 (1, 3).
    first = np.array([5, 5, 5, 5, 0, 3], "int32")
    second = np.array([0, 10, 6, 7, 11, 4], "int32")
    assert _np(are_grid_neighbours(first, second, 4)).tolist() == [
        True, True, True, False, False, False,
    ]  # fmt: skip
    assert float(exponential_decay(2.0, 0.5, 0, 10)) == pytest.approx(2.0)
    assert float(exponential_decay(2.0, 0.5, 10, 10)) == pytest.approx(0.5)
    assert float(exponential_decay(2.0, 0.5, 5, 10)) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_call_and_errors_match_numpy(seed):
    rng = np.random.default_rng(seed + 100)  # x is not among the w_j
    rows, cols, dim = 3, 4, 5
    som = _map(rows, cols, dim, seed)
    w = som.get_weights()[0].astype(np.float64)
    x = rng.random((50, dim)).astype("float32")
    d = np.sqrt(((x[:, None].astype(np.float64) - w[None]) ** 2).sum(-1))
    order = np.argsort(d, axis=1)
    first, second = order[:, 0], order[:, 1]
    out = som(x)
    np.testing.assert_array_equal(_np(out["bmu"]), first)
    np.testing.assert_array_equal(
        _np(out["coordinates"]), np.stack([first // cols, first % cols], 1)
    )
    np.testing.assert_allclose(_np(out["distance"]), d.min(1), rtol=1e-4)
    quantization, topographic = (_np(e) for e in som.errors(x))
    np.testing.assert_allclose(quantization, d.min(1), rtol=1e-4)
    far = (np.abs(first // cols - second // cols) > 1) | (
        np.abs(first % cols - second % cols) > 1
    )
    np.testing.assert_array_equal(topographic, far.astype("float32"))
    assert 0 < far.mean() < 1  # both cases occur


def test_round_trip_keeps_the_map(tmp_path):
    inputs = keras.Input((4,))
    outputs = SelfOrganizingMap(2, 3, name="map")(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).random((6, 4)).astype("float32")
    path = tmp_path / "som.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    before, after = model(x), loaded(x)
    for key in ("bmu", "coordinates", "distance"):
        np.testing.assert_array_equal(_np(before[key]), _np(after[key]))
    layer = loaded.get_layer("map")
    assert (layer.rows, layer.cols, layer.trainable_weights) == (2, 3, [])
    config = keras.saving.serialize_keras_object(model.get_layer("map"))
    copy = keras.saving.deserialize_keras_object(config)
    assert (copy.rows, copy.cols) == (2, 3)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="rows=0"):
        SelfOrganizingMap(0, 3)
    with pytest.raises(ValueError, match="at least 2 units"):
        SelfOrganizingMap(1, 1)
    with pytest.raises(ValueError, match=r"shape \(batch, D\)"):
        SelfOrganizingMap(2, 2).build((None, 4, 4))
