"""The picture of a search of `experiments.nas`, drawn with NumPy only.

`trials_chart`: one panel per tuner, side by side (random search, then
Hyperband). In a panel each dot is a trial, left to right in the order
they ran (the numbers below count trials), at the height of its best
validation accuracy; the gray lines are at 0.1 steps, labeled on the
left. Dark blue: a model trained to the full --epochs; light blue: a
shorter Hyperband trial (the early rounds of successive halving); red:
the best trial; the black line: the default model's validation accuracy
(when given). Images are (H, W, 3) floats in [0, 1], for
`experiments.images.save_png`.
"""

import math

import numpy as np

from experiments.raster import BLACK, GRAY, dot, text

DARK, LIGHT, RED = (0.18, 0.36, 0.75), (0.6, 0.75, 0.95), (0.85, 0.25, 0.2)


def panel(
    trials, low, best_id, full_epochs, reference=None, height=200, step=14
):
    """One tuner's trials: (H, W, 3). `low` is the accuracy at the bottom
    (a multiple of 0.1); trials without a score are left out; a black
    line at `reference` unless it is None."""
    left, bottom = 34, 22  # room for the labels
    width = left + step * (len(trials) + 1)
    image = np.ones((height + bottom + 8, width, 3))
    top = 8

    def row(accuracy):  # accuracy -> pixel row
        return top + round((1.0 - accuracy) / (1.0 - low) * height)

    for tenth in range(round(low * 10), 11):
        r = row(tenth / 10)
        image[r, left:] = GRAY
        text(image, r - 5, 2, f"{tenth / 10:.1f}")
    image[top : top + height + 1, left] = BLACK
    if reference is not None:
        image[row(max(reference, low)), left:] = BLACK
    for i, trial in enumerate(trials):
        x = left + step * (i + 1)
        if (i + 1) % 5 == 0:
            text(image, top + height + 6, x - 4 * len(str(i + 1)), str(i + 1))
        if trial["val_accuracy"] is None:
            continue
        color = (
            RED
            if trial["trial_id"] == best_id
            else DARK
            if trial["model_epochs"] >= full_epochs
            else LIGHT
        )
        dot(image, x, row(max(trial["val_accuracy"], low)), color)
    return image


def trials_chart(searches, reference=None, full_epochs=None, gap=16):
    """The panels of `searches` ({tuner: what `experiments.nas.search`
    returns}) side by side, on a common accuracy scale, with a line at
    the `reference` accuracy (e.g. the default model's) unless None."""
    scores = [
        t["val_accuracy"]
        for s in searches.values()
        for t in s["trials"]
        if t["val_accuracy"] is not None
    ] + ([] if reference is None else [reference])
    low = min(0.9, math.floor(min(scores, default=0.9) * 10) / 10)
    if full_epochs is None:
        full_epochs = max(
            (t["model_epochs"] for s in searches.values() for t in s["trials"]),
            default=1,
        )
    panels = [
        panel(s["trials"], low, s["best_trial_id"], full_epochs, reference)
        for s in searches.values()
    ]
    h = max(p.shape[0] for p in panels)
    w = sum(p.shape[1] for p in panels) + gap * (len(panels) + 1)
    out = np.ones((h + 2 * gap, w, 3))
    x = gap
    for p in panels:
        out[gap : gap + p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out
