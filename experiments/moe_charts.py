"""Pictures of a mixture of experts' routing, drawn with NumPy only.

`load_bars`: one panel per model (a row of panels per model, one panel
per seed), one bar per expert: its share of the test assignments kept
(blue) and dropped over capacity (red, on top); the gray lines are at
multiples of the uniform share 1/E. `routing_map`: the same layout of
panels, rows the classes (0 at the top), columns the experts (0 on the
left), the darker the larger the share of that class's first choices.
Small digits label the experts and the classes.

Images are (H, W, 3) floats in [0, 1], for `experiments.images.save_png`.
"""

import numpy as np

from experiments.raster import BLACK, GRAY, rows_of_panels, text

BLUE, RED = (0.18, 0.36, 0.75), (0.85, 0.25, 0.2)


def load_bars(kept, dropped, height=200, bar=24, space=8):
    """Bar charts of expert load, one panel per model (and seed).

    Args:
        kept: (P, E) shares of the assignments each expert kept, or
            (R, P, E) for R rows of P panels.
        dropped: the same shape: shares dropped over capacity.

    Returns:
        (H, W, 3) image; the vertical scale is the same in every panel.
    """
    kept, dropped = np.asarray(kept, float), np.asarray(dropped, float)
    if kept.ndim == 2:
        kept, dropped = kept[None], dropped[None]
    rows, _, e = kept.shape
    uniform = 1.0 / e
    top = max(float((kept + dropped).max()), uniform)
    top = uniform * np.ceil(top / uniform + 0.25)  # headroom
    px = height / top
    panels = []
    kept, dropped = kept.reshape(-1, e), dropped.reshape(-1, e)
    for row in range(len(kept)):
        width = e * (bar + space) + space
        p = np.ones((height + 14, width, 3))
        for g in np.arange(uniform, top, uniform):  # lines at 1/E, 2/E, ...
            p[height - int(round(g * px))] = GRAY
        for i in range(e):
            x0 = space + i * (bar + space)
            k_px = int(round(kept[row, i] * px))
            d_px = int(round(dropped[row, i] * px))
            p[height - k_px : height, x0 : x0 + bar] = BLUE
            p[height - k_px - d_px : height - k_px, x0 : x0 + bar] = RED
            text(p, height + 3, x0 + bar // 2 - 3 * len(str(i)), i)
        p[height] = BLACK
        panels.append(p)
    per_row = len(panels) // rows
    return rows_of_panels(
        [panels[i : i + per_row] for i in range(0, len(panels), per_row)]
    )


def routing_map(shares, cell=20):
    """Heat maps of (class, expert) shares, one panel per model (and seed).

    Args:
        shares: (P, C, E), each row a class's shares over the experts, or
            (R, P, C, E) for R rows of P panels.

    Returns:
        (H, W, 3) image: white for 0, dark blue for 1.
    """
    shares = np.clip(np.asarray(shares, float), 0.0, 1.0)
    if shares.ndim == 3:
        shares = shares[None]
    rows, _, c, e = shares.shape
    shares = shares.reshape(-1, c, e)
    m = len(shares)
    margin = 14
    panels = []
    for row in range(m):
        p = np.ones((c * cell + margin, e * cell + margin, 3))
        blue = np.array([0.05, 0.15, 0.5])
        for j in range(c):
            for i in range(e):
                color = 1.0 - shares[row, j, i] * (1.0 - blue)
                y0, x0 = margin + j * cell, margin + i * cell
                p[y0 : y0 + cell - 1, x0 : x0 + cell - 1] = color
            text(p, margin + j * cell + cell // 2 - 5, 2, j)
        for i in range(e):
            text(p, 2, margin + i * cell + cell // 2 - 3, i)
        panels.append(p)
    per_row = m // rows
    return rows_of_panels(
        [panels[i : i + per_row] for i in range(0, m, per_row)]
    )
