"""Charts of activations and of per-layer gradient norms, in NumPy only.

`activation_panels`: one small panel per scalar activation of
`keras_cheats.activations.DERIVATIVES`, its name on top; the function
(Keras' own) in blue, its closed-form derivative in orange, gray axes
through 0, ticks at every integer, x and y from -4 to 4.

`gradient_norm_chart`: one panel per moment ("init", "trained"), x the
Dense layer (1 = the input layer, the last = the output layer), y
log10 of the layer's kernel-gradient norm, a gray line and its exponent at
every power of ten, one coloured line per network; the legend below.

Images are (H, W, 3) floats in [0, 1] for `experiments.images.save_png`.
"""

import numpy as np

from experiments import raster
from keras_cheats import activations

BLUE, ORANGE = (0.1, 0.3, 0.8), (0.95, 0.5, 0.05)
GRAY, LIGHT = (0.6, 0.6, 0.6), (0.88, 0.88, 0.88)
COLOURS = (
    (0.85, 0.1, 0.1), (0.1, 0.3, 0.8), (0.1, 0.6, 0.2), (0.95, 0.5, 0.05),
    (0.55, 0.2, 0.7), (0.0, 0.6, 0.7), (0.5, 0.35, 0.2), (0.9, 0.3, 0.6),
)  # fmt: skip


def label(image, top, left, string, color=raster.BLACK, scale=2):
    """`raster.text` of a name in lower case."""
    raster.text(image, top, left, str(string).lower(), color, scale)


def _frame(plot):
    plot[[0, -1], :] = raster.BLACK
    plot[:, [0, -1]] = raster.BLACK


def activation_panel(name, size=150, span=4.0):
    """One (size + 16, size, 3) panel: the name, then the plot."""
    function, derivative = activations.DERIVATIVES[name]
    image = np.ones((size + 16, size, 3))
    label(image, 2, 4, name)
    plot = image[16:]
    x = np.linspace(-span, span, 4 * size)

    def col(v):  # -span .. span -> 1 .. size - 2
        return 1 + (np.asarray(v) + span) * (size - 3) / (2 * span)

    def row(v):  # span .. -span -> 1 .. size - 2
        return 1 + (span - np.asarray(v)) * (size - 3) / (2 * span)

    r0, c0 = int(round(float(row(0)))), int(round(float(col(0))))
    plot[r0, 1:-1] = GRAY  # the x axis
    plot[1:-1, c0] = GRAY  # the y axis
    for t in range(-int(span), int(span) + 1):  # ticks at the integers
        plot[r0 - 2 : r0 + 3, int(round(float(col(t))))] = GRAY
        plot[int(round(float(row(t)))), c0 - 2 : c0 + 3] = GRAY
    y = np.clip(np.asarray(function(x)), -span - 1, span + 1)
    dy = np.clip(np.asarray(derivative(x)), -span - 1, span + 1)
    raster.polyline(plot, col(x), row(dy), ORANGE, width=2)
    raster.polyline(plot, col(x), row(y), BLUE, width=2)
    _frame(plot)
    return image


def activation_panels(names=None, columns=3):
    """Every activation's panel, `columns` per row (see the module)."""
    names = list(names or activations.DERIVATIVES)
    panels = [activation_panel(n) for n in names]
    return raster.rows_of_panels(
        [panels[i : i + columns] for i in range(0, len(panels), columns)]
    )


def gradient_norm_chart(norms, width=360, height=240):
    """Per-layer gradient norms of several networks.

    Args:
        norms: {network: {moment: (L,) norms > 0}}, the same moments (e.g.
            "init", "trained") and L for every network.

    Returns:
        (H, W, 3) image: one panel per moment, the legend below.
    """
    moments = list(next(iter(norms.values())))
    logs = {
        net: {m: np.log10(np.maximum(np.asarray(v, float), 1e-30))
              for m, v in by_moment.items()}
        for net, by_moment in norms.items()
    }  # fmt: skip
    every = np.concatenate([v for d in logs.values() for v in d.values()])
    lo, hi = np.floor(every.min()), np.ceil(every.max())
    hi = max(hi, lo + 1)
    n_layers = len(every) // (len(norms) * len(moments))
    left, bottom = 30, 18

    def col(layer):  # 1 .. L -> left + 4 .. width - 18
        return (
            left
            + 4
            + (np.asarray(layer) - 1)
            * (width - left - 22)
            / max(n_layers - 1, 1)
        )

    def row(value):  # hi .. lo -> 18 .. height - bottom - 4
        return 18 + (hi - np.asarray(value)) * (height - bottom - 22) / (
            hi - lo
        )

    panels = []
    for moment in moments:
        image = np.ones((height, width, 3))
        label(image, 2, left, f"{moment}   log10 grad norm by layer")
        step = int(np.ceil((hi - lo) / 8))  # at most 9 labelled decades
        for e in range(int(lo), int(hi) + 1):
            r = int(round(float(row(e))))
            image[r, left:-1:3] = LIGHT
            if (int(hi) - e) % step == 0:
                label(image, r - 5, 2, str(e), GRAY)
        for layer in range(1, n_layers + 1):
            tick = layer % 5 == 0 and n_layers - layer >= 3
            if layer in (1, n_layers) or tick:
                c = int(round(float(col(layer))))
                image[height - bottom : height - bottom + 3, c] = GRAY
                label(image, height - bottom + 5, c - 3, str(layer), GRAY)
        image[height - bottom, left:-1] = GRAY
        image[14 : height - bottom, left] = GRAY
        for k, net in enumerate(norms):
            layers = np.arange(1, n_layers + 1)
            colour = COLOURS[k % len(COLOURS)]
            raster.polyline(
                image, col(layers), row(logs[net][moment]), colour, width=2
            )
        panels.append(image)
    legend = np.ones((14 * len(norms) + 8, width, 3))
    for k, net in enumerate(norms):
        top = 4 + 14 * k
        legend[top + 3 : top + 7, 4:28] = COLOURS[k % len(COLOURS)]
        label(legend, top, 34, net)
    return raster.rows_of_panels([panels, [legend]])
