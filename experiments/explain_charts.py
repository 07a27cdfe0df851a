"""Pictures of `experiments.explain`, drawn with NumPy only.

`attribution_grid`: one row per test digit; the digit, then one map per
method in the order given. A signed map (integrated gradients, SHAP, LIME)
is red where it raises the predicted class's score and blue where it
lowers it, on a scale symmetric about 0; an absolute map (saliency,
SmoothGrad) is black (0) to red (its largest value). Each map is scaled
on its own; a method run on fewer images leaves the later cells white.

`deletion_chart`: the mean deletion curve of each method, x the fraction
of pixels removed (0 to 1), y the probability of the predicted class
(0 at the bottom, 1 at the top), random removal in gray; under the plot,
one colored swatch per method (in the order of COLORS) with its area
under the curve (lower = more faithful).
"""

import numpy as np

from experiments import raster

COLORS = {
    "saliency": (0.85, 0.1, 0.1),
    "integrated_gradients": (0.1, 0.3, 0.85),
    "smoothgrad": (0.1, 0.6, 0.2),
    "shap": (0.6, 0.1, 0.7),
    "lime": (0.95, 0.55, 0.0),
    "random": (0.55, 0.55, 0.55),
}


def heat(attribution, scale=4):
    """An (H, W) or (H, W, C) map as an (H*scale, W*scale, 3) picture."""
    a = np.asarray(attribution, np.float64)
    a = a.sum(axis=-1) if a.ndim == 3 else a
    top = np.abs(a).max()
    a = a / top if top > 0 else a
    rgb = np.ones((*a.shape, 3))
    if a.min() < 0:  # signed: white at 0, red > 0, blue < 0
        pos, neg = np.clip(a, 0, 1), np.clip(-a, 0, 1)
        rgb[..., 0] -= neg
        rgb[..., 1] -= pos + neg
        rgb[..., 2] -= pos
    else:  # absolute: black at 0 to red at the largest value
        rgb[..., 0] = a
        rgb[..., 1] = rgb[..., 2] = 0.0
    return np.kron(np.clip(rgb, 0, 1), np.ones((scale, scale, 1)))


def attribution_grid(images, maps, scale=4, gap=4):
    """Rows: image i, then maps[method][i] for each method.

    Args:
        images: (N, H, W, C) in [0, 1].
        maps: {method: (>= N, H, W[, C]) attributions}.
    """
    rows = []
    for i, image in enumerate(np.asarray(images)):
        gray = np.repeat(image[..., :1], 3, axis=-1) if image.shape[-1] == 1 \
            else image  # fmt: skip
        cells = [np.kron(gray, np.ones((scale, scale, 1)))]
        blank = np.ones_like(cells[0])  # a method run on fewer images
        cells += [heat(m[i], scale) if i < len(m) else blank
                  for m in maps.values()]  # fmt: skip
        rows.append(cells)
    return raster.rows_of_panels(rows, gap=gap)


def deletion_chart(fractions, curves, aucs, width=360, height=200):
    """Mean curves {method: (T,)} over fractions (T,); aucs {method: float}."""
    image = np.ones((height + 16 + 24 * len(curves), width + 20, 3))
    plot = image[8 : height + 8, 10 : width + 10]
    plot[[0, -1], :] = 0.0
    plot[:, [0, -1]] = 0.0
    xs = 1 + np.asarray(fractions) * (width - 3)
    for method, curve in curves.items():
        ys = height - 2 - np.clip(np.asarray(curve), 0, 1) * (height - 3)
        raster.polyline(plot, xs, ys, COLORS.get(method, (0, 0, 0)), width=2)
    for k, method in enumerate(curves):
        top = height + 16 + 24 * k
        color = COLORS.get(method, (0, 0, 0))
        image[top : top + 14, 10:40] = color
        raster.text(image, top + 2, 50, f"{aucs[method]:.3f}", scale=2)
    return image
