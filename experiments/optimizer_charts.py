"""Training-loss curves of several optimizers in one chart, NumPy only.

`loss_curves`: one panel, x the training step (0 at the left, the last
step at the right: the number under the right end), y the training loss
on a log scale over the range of the losses, with gray lines at 1, 2
and 5 times the powers of 10 (labelled on the left); one coloured curve
per optimizer, and under the panel a legend: a square of each curve's
colour followed by the optimizer's index (1 for the first of `curves`,
and so on; the pixel font has digits only, so the names are in the
caller's docstring).
Images are (H, W, 3) floats in [0, 1] for `experiments.images.save_png`.
"""

import numpy as np

from experiments import raster

# The curves' colours, in the order of the optimizers (index 1, 2, ...).
COLORS = (
    (0.35, 0.35, 0.35),  # 1 gray
    (0.12, 0.47, 0.71),  # 2 blue
    (1.0, 0.5, 0.05),  # 3 orange
    (0.17, 0.63, 0.17),  # 4 green
    (0.84, 0.15, 0.16),  # 5 red
    (0.58, 0.4, 0.74),  # 6 purple
    (0.55, 0.34, 0.29),  # 7 brown
    (0.9, 0.47, 0.76),  # 8 pink
)
GRID = (0.85, 0.85, 0.85)


def loss_curves(curves, indices=None, width=480, height=240):
    """The chart of the module docstring.

    Args:
        curves: a list of (steps, losses) pairs, one per optimizer (at most
            8): the step at the end of each point's block of steps, and
            the mean training loss over that block (> 0).
        indices: each curve's index (1 to 8), which picks its colour and
            is its number in the legend; default 1, 2, ...
        width, height: the plot's size in pixels.

    Returns:
        (height + 46, width + 48, 3) image.
    """
    if not 1 <= len(curves) <= len(COLORS):
        raise ValueError(f"{len(curves)} curves; expected 1 to {len(COLORS)}")
    indices = list(indices or range(1, len(curves) + 1))
    if len(indices) != len(curves) or not all(
        1 <= i <= len(COLORS) for i in indices
    ):
        raise ValueError(
            f"indices={indices}; expected one index from 1 to {len(COLORS)}"
            " per curve"
        )
    losses = np.concatenate([np.asarray(c[1], float) for c in curves])
    losses = np.clip(losses[np.isfinite(losses)], 1e-4, None)
    if not losses.size:
        losses = np.array([0.1, 1.0])
    lo = np.log10(losses.min()) - 0.05  # the y range: the losses', padded
    hi = max(np.log10(losses.max()) + 0.05, lo + 0.5)
    x_max = max([max(c[0], default=1) for c in curves] + [1])
    image = np.ones((height + 46, width + 48, 3))
    plot = image[4 : 4 + height, 44 : 44 + width]

    def x_of(step):  # 0 .. x_max -> column 1 .. width - 2
        return 1 + np.asarray(step, float) * (width - 3) / x_max

    def y_of(loss):  # 10^hi .. 10^lo -> row 1 .. height - 2
        t = (hi - np.log10(np.clip(loss, 1e-4, None))) / (hi - lo)
        return 1 + t * (height - 3)

    for e in range(int(np.floor(lo)), int(np.ceil(hi)) + 1):
        for mantissa in (1, 2, 5):  # gray lines at 1, 2, 5 x 10^e
            value = mantissa * 10.0**e
            if not lo <= np.log10(value) <= hi:
                continue
            row = int(round(float(y_of(value))))
            plot[row, 1:-1] = GRID
            label = f"{value:.{max(-e, 0)}f}"
            raster.text(image, 4 + max(row - 5, 0), 2, label)
    plot[[0, -1], :] = 0.0  # a black frame
    plot[:, [0, -1]] = 0.0
    for i, (steps, values) in enumerate(curves):
        values = np.asarray(values, float)
        ok = np.isfinite(values)
        if ok.any():
            xs, ys = x_of(np.asarray(steps)[ok]), y_of(values[ok])
            raster.polyline(plot, xs, ys, COLORS[indices[i] - 1], width=2)
    raster.text(image, height + 8, 44, 0)
    raster.text(image, height + 8, 44 + width - 8 * len(str(x_max)), x_max)
    for i, index in enumerate(indices):  # the legend: colour, then index
        left = 44 + 48 * i
        image[height + 28 : height + 40, left : left + 12] = COLORS[index - 1]
        raster.text(image, height + 29, left + 16, index)
    return image
