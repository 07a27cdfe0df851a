"""Pictures of small graphs and of accuracies, drawn with NumPy only.

`draw_graph`: a graph whose nodes have positions (x, y) in [0, 1] on an
(S, S, 3) white canvas; edges are gray lines, or, with edge weights (GAT
attention), lines from light to dark red by weight; nodes are squares
coloured from dark blue (intensity 0) to yellow (intensity 1).
`accuracy_bars`: one bar per model, its height the accuracy (gray lines
at 0.25, 0.5, 0.75), the percentage written above in small digits.

Images are (H, W, 3) floats in [0, 1], for `experiments.images.save_png`.
"""

import numpy as np

from experiments.raster import line, text

WHITE, GRAY, BLACK = (1.0, 1.0, 1.0), (0.75, 0.75, 0.75), (0.0, 0.0, 0.0)
BLUE = (0.18, 0.36, 0.75)


def _intensity_color(v):
    """Dark blue (0) to yellow (1)."""
    v = float(np.clip(v, 0.0, 1.0))
    return (0.1 + 0.9 * v, 0.1 + 0.8 * v, 0.5 - 0.4 * v)


def draw_graph(nodes, edges, size=112, edge_weights=None, node_radius=2):
    """Draws one graph (see the module docstring).

    Args:
      nodes: (n, 3) [intensity, x, y], x and y in [0, 1].
      edges: (2, e) (sender, receiver) local indices.
      size: the canvas side S in pixels.
      edge_weights: (e,) in [0, 1] or None (all gray).
      node_radius: half the side of a node's square.

    Returns:
      (S, S, 3) float image.
    """
    nodes, edges = np.asarray(nodes), np.asarray(edges).reshape(2, -1)
    image = np.ones((size, size, 3), np.float32)
    margin = node_radius + 2
    xy = margin + nodes[:, 1:3] * (size - 1 - 2 * margin)
    order = range(edges.shape[1])
    if edge_weights is not None:
        order = np.argsort(edge_weights)  # the heaviest on top
    for k in order:
        j, i = edges[:, k]
        if j == i:
            continue
        color = GRAY
        if edge_weights is not None:
            a = float(np.clip(edge_weights[k], 0.0, 1.0))
            color = (1.0 - 0.2 * a, 0.9 * (1 - a), 0.9 * (1 - a))
        line(image, xy[j], xy[i], color)
    r = node_radius
    for (x, y), v in zip(np.rint(xy).astype(int), nodes[:, 0], strict=True):
        image[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1] = (
            _intensity_color(v)
        )
    return image


def accuracy_bars(accuracies, height=120, bar=24, gap=12):
    """One blue bar per accuracy in [0, 1] (in the order given), its
    percentage above it. Returns (H, W, 3)."""
    values = [float(np.clip(a, 0.0, 1.0)) for a in accuracies]
    top = 14  # room for the numbers
    width = gap + len(values) * (bar + gap)
    image = np.ones((top + height + 1, width, 3), np.float32)
    for level in (0.25, 0.5, 0.75, 1.0):
        image[top + int(round((1 - level) * height))] = GRAY
    image[top + height] = BLACK
    for i, v in enumerate(values):
        left = gap + i * (bar + gap)
        bar_top = top + int(round((1 - v) * height))
        image[bar_top : top + height, left : left + bar] = BLUE
        text(image, max(bar_top - 12, 0), left, round(100 * v))
    return image
