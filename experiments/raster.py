"""The few drawing primitives of the experiments' charts, in NumPy.

matplotlib is not a dependency: bars, dots, curves and graphs are drawn
straight into (H, W, 3) float images in [0, 1], which
`experiments.images.save_png` writes. Points are (x, y) pixel coordinates
(column, row); whatever falls outside the image is not drawn.
"""

import numpy as np

WHITE, GRAY, BLACK = (1.0, 1.0, 1.0), (0.8, 0.8, 0.8), (0.0, 0.0, 0.0)

# 3 x 5 pixel glyphs, one string of 15 bits per character, row by row:
# digits, ".", lower-case letters (j, q, v, z missing), "-", "_", "+", " ".
FONT = {
    **dict(zip("0123456789", [
        "111101101101111", "010110010010111", "111001111100111",
        "111001111001111", "101101111001001", "111100111001111",
        "111100111101111", "111001001001001", "111101111101111",
        "111101111001111",
    ])),
    ".": "000000000000010",
    "a": "010101111101101", "b": "110101110101110", "c": "011100100100011",
    "d": "110101101101110", "e": "111100110100111", "f": "111100110100100",
    "g": "011100101101011", "h": "101101111101101", "i": "111010010010111",
    "k": "101101110101101", "l": "100100100100111", "m": "101111111101101",
    "n": "110101101101101", "o": "010101101101010", "p": "110101110100100",
    "r": "110101110101101", "s": "011100010001110", "t": "111010010010010",
    "u": "101101101101111", "w": "101101111111101", "x": "101101010101101",
    "y": "101101010010010", "-": "000000111000000", "_": "000000000000111",
    "+": "000010111010000", " ": "000000000000000",
}  # fmt: skip


def text(image, top, left, string, color=BLACK, scale=2):
    """Writes `string` (characters of FONT; a number as its integer part)
    with its top left corner at (top, left); a character is 4 * scale
    pixels wide."""
    if not isinstance(string, str):
        string = str(int(string))
    for i, ch in enumerate(string):
        glyph = np.array(list(FONT[ch]), int).reshape(5, 3)
        glyph = np.kron(glyph, np.ones((scale, scale), int)).astype(bool)
        x0 = left + i * 4 * scale
        region = image[top : top + 5 * scale, x0 : x0 + 3 * scale]
        region[glyph[: region.shape[0], : region.shape[1]]] = color


def line(image, p, q, color, width=1):
    """Draws the segment from p to q, `width` pixels thick."""
    steps = int(max(abs(q[0] - p[0]), abs(q[1] - p[1]))) + 1
    xs = np.rint(np.linspace(p[0], q[0], steps)).astype(int)
    ys = np.rint(np.linspace(p[1], q[1], steps)).astype(int)
    h, w = image.shape[:2]
    for dy in range(-(width // 2), width - width // 2):
        for dx in range(width):
            x, y = xs + dx, ys + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            image[y[ok], x[ok]] = color


def polyline(image, xs, ys, color, width=1):
    """Joins the points (xs[i], ys[i]) in order; one point is one pixel."""
    points = list(zip(xs, ys, strict=True))
    for p, q in zip(points[:-1], points[1:]):
        line(image, p, q, color, width)
    if len(points) == 1:
        line(image, points[0], points[0], color, width)


def dot(image, x, y, color, radius=3):
    """A filled disc centred on (x, y)."""
    rows, cols = np.ogrid[: image.shape[0], : image.shape[1]]
    image[(rows - y) ** 2 + (cols - x) ** 2 <= radius**2] = color


def side_by_side(panels, gap=16, margin=0):
    """(H_i, W_i, 3) panels left to right on white, top-aligned, `gap`
    pixels apart and `margin` pixels from every edge."""
    h = max(p.shape[0] for p in panels)
    w = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    out = np.ones((h + 2 * margin, w + 2 * margin, 3))
    left = margin
    for p in panels:
        out[margin : margin + p.shape[0], left : left + p.shape[1]] = p
        left += p.shape[1] + gap
    return out


def rows_of_panels(rows, gap=16):
    """Rows (lists of panels) top to bottom, each row `side_by_side` with
    a margin of `gap`, the narrower rows padded with white on the right."""
    strips = [side_by_side(row, gap, margin=gap) for row in rows]
    w = max(s.shape[1] for s in strips)
    return np.concatenate(
        [np.pad(s, ((0, 0), (0, w - s.shape[1]), (0, 0)), constant_values=1)
         for s in strips]
    )  # fmt: skip
