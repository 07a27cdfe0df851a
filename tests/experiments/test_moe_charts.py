"""experiments.moe_charts: bar heights and heat-map shades."""

import numpy as np

from experiments import moe_charts


def test_load_bars_are_as_tall_as_the_shares():
    kept = [[0.5, 0.25, 0.25, 0.0]]
    dropped = [[0.25, 0.0, 0.0, 0.0]]
    image = moe_charts.load_bars(kept, dropped, height=200)
    blue = np.all(np.isclose(image, moe_charts.BLUE), axis=-1)
    red = np.all(np.isclose(image, moe_charts.RED), axis=-1)
    heights = blue.sum(0)[blue.sum(0) > 0]
    # Scale: top = 1/4 * ceil(0.75 / 0.25 + 0.25) = 1; 200 px per unit.
    assert sorted(set(heights.tolist())) == [50, 100]
    assert red.sum(0).max() == 50
    assert image.min() >= 0 and image.max() <= 1


def test_routing_map_darkens_with_the_share():
    image = moe_charts.routing_map([[[1.0, 0.0], [0.5, 0.5]]], cell=20)
    # Panel at (16, 16); cells start 14 px further in; cell (0, 0) is 1.
    full = image[16 + 14 + 10, 16 + 14 + 10]
    empty = image[16 + 14 + 10, 16 + 14 + 30]
    half = image[16 + 14 + 30, 16 + 14 + 10]
    np.testing.assert_allclose(empty, 1.0)
    assert full.sum() < half.sum() < empty.sum()


def test_rows_of_panels_share_one_scale():
    kept = np.full((2, 3, 4), 0.25)
    one_row = moe_charts.load_bars(kept[0], np.zeros((3, 4)))
    grid = moe_charts.load_bars(kept, np.zeros_like(kept))
    assert grid.shape == (2 * one_row.shape[0], one_row.shape[1], 3)
    np.testing.assert_array_equal(grid[: one_row.shape[0]], one_row)
