"""experiments.activation_charts: what the panels draw and where."""

import numpy as np
import pytest

from experiments import activation_charts as charts
from experiments import raster
from keras_cheats import activations


def _has(image, colour):
    return bool(np.all(np.isclose(image, colour), axis=-1).any())


def test_one_panel_per_activation_with_function_and_derivative():
    panel = charts.activation_panel("relu", size=101, span=4.0)
    assert panel.shape == (117, 101, 3)
    plot = panel[16:]
    assert _has(plot, charts.BLUE) and _has(plot, charts.ORANGE)
    # x = 4 maps to the last inner column; relu(4) = 4 to the top row and
    # relu'(4) = 1 to row 1 + (4 - 1) * 98 / 8 = 37.75.
    assert np.isclose(plot[1:4, 98], charts.BLUE).all(-1).any()
    assert np.isclose(plot[36:40, 98], charts.ORANGE).all(-1).any()
    grid = charts.activation_panels()
    rows = -(-len(activations.DERIVATIVES) // 3)
    assert grid.shape[0] == rows * (16 + 150 + 2 * 16)  # name, plot, margins


def test_gradient_norm_chart_puts_each_network_on_the_log_scale():
    norms = {
        "sigmoid": {"init": [1e-6, 1e-3, 1.0], "trained": [1e-5, 1e-3, 1.0]},
        "relu": {"init": [1.0, 1.0, 1.0], "trained": [1.0, 1.0, 1.0]},
    }
    image = charts.gradient_norm_chart(norms, width=300, height=200)
    red, blue = charts.COLOURS[0], charts.COLOURS[1]
    assert _has(image, red) and _has(image, blue)
    with pytest.raises(KeyError):
        charts.label(np.ones((10, 10, 3)), 0, 0, "?")


def test_label_writes_letters_and_digits():
    image = np.ones((12, 40, 3))
    charts.label(image, 1, 1, "Relu 2", scale=2)
    assert (image < 1).any()
    assert set(raster.FONT) >= set("sigmoidtanhreluleaky_elugelu")
