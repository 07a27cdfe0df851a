"""experiments.raster: the charts' drawing primitives, pixel by pixel."""

import numpy as np

from experiments import raster


def _canvas(h=12, w=16):
    return np.ones((h, w, 3))


def _ink(image):
    return ~np.all(image == 1.0, axis=-1)


def test_text_draws_the_glyphs_side_by_side():
    image = _canvas()
    raster.text(image, 1, 2, "1.", scale=1)
    one = np.array(list(raster.FONT["1"]), int).reshape(5, 3).astype(bool)
    np.testing.assert_array_equal(_ink(image)[1:6, 2:5], one)
    assert _ink(image)[5, 7] and _ink(image).sum() == one.sum() + 1
    numbers = _canvas()
    raster.text(numbers, 1, 2, 475.9, scale=1)  # a number: its integer part
    strings = _canvas()
    raster.text(strings, 1, 2, "475", scale=1)
    np.testing.assert_array_equal(numbers, strings)


def test_line_joins_both_ends_and_drops_what_falls_outside():
    image = _canvas()
    raster.line(image, (0, 0), (9, 3), raster.BLACK)
    ink = _ink(image)
    assert ink[0, 0] and ink[3, 9] and ink.sum() == 10  # one pixel a column
    thick = _canvas()
    raster.line(thick, (2, 5), (6, 5), raster.BLACK, width=2)
    assert np.array_equal(np.nonzero(_ink(thick).any(1))[0], [4, 5])
    outside = _canvas()
    raster.line(outside, (-5, 2), (20, 2), raster.BLACK)
    assert _ink(outside)[2].all() and _ink(outside).sum() == 16


def test_polyline_and_dot():
    image = _canvas()
    raster.polyline(image, [0, 5, 5], [0, 0, 5], raster.BLACK)
    assert _ink(image)[0, :6].all() and _ink(image)[:6, 5].all()
    assert _ink(image).sum() == 11
    single = _canvas()
    raster.polyline(single, [3], [4], raster.BLACK)
    assert _ink(single).sum() == 1 and _ink(single)[4, 3]
    disc = _canvas()
    raster.dot(disc, 8, 6, raster.BLACK, radius=1)
    assert _ink(disc).sum() == 5 and _ink(disc)[6, 8]


def test_panels_side_by_side_and_in_rows():
    a, b = np.zeros((2, 3, 3)), np.zeros((4, 1, 3))
    out = raster.side_by_side([a, b], gap=2, margin=1)
    assert out.shape == (4 + 2, 3 + 2 + 1 + 2, 3)
    assert _ink(out).sum() == 2 * 3 + 4 * 1
    assert _ink(out)[1:3, 1:4].all() and _ink(out)[1:5, 6].all()
    grid = raster.rows_of_panels([[a, b], [a]], gap=2)
    assert grid.shape == ((4 + 4) + (2 + 4), 3 + 2 + 1 + 4, 3)  # margins 2
    assert _ink(grid).sum() == 2 * (2 * 3) + 4
