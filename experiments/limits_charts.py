"""Charts of the limits experiments (cheat sheet 11), in NumPy only.

Every panel plots values in [0, 1] (accuracies) on a frame with dotted
gray lines at 0.25, 0.5 and 0.75; "1" and "0" are written on the left of
the frame, the largest x (or `label`) under its place on the x axis.
Images are (H, W, 3) floats in [0, 1] for `experiments.images.save_png`.

- `random_label_chart` (experiments.random_labels): left, the train
  accuracy per epoch of each run, blue (0% corrupted labels) to red
  (100%), green the random pixels; right, against the corrupted share
  (0 to 100%): final train accuracy (blue dots) and test accuracy (red
  dots), the random-pixels run as the two dots right of the dashed
  separator, the chance level a dashed gray line.
- `per_class_chart` (experiments.interaction_bias): one panel per
  counter-measure, x the round (0 = before the user stream), one thin
  line per class, blue the classes the stream favours and orange the
  others, thick the mean of each group.
"""

import numpy as np

from experiments import raster

GRAY = (0.6, 0.6, 0.6)
BLUE, RED, GREEN = (0.1, 0.3, 0.8), (0.85, 0.15, 0.1), (0.1, 0.6, 0.2)
LIGHT_BLUE, ORANGE = (0.55, 0.7, 0.95), (0.98, 0.65, 0.35)
DARK_ORANGE = (0.85, 0.4, 0.0)


class Panel:
    """A framed plot area mapping x in [x_min, x_max], y in [0, 1] to
    pixels, with room for labels: `image` is (height + 34, width + 24)."""

    def __init__(self, x_min, x_max, width=300, height=180, label=None):
        self.image = np.ones((height + 34, width + 24, 3))
        self.plot = self.image[12 : 12 + height, 20 : 20 + width]
        self.x_min, self.x_max = x_min, max(x_max, x_min + 1e-9)
        self.w, self.h = width, height
        self.plot[[0, -1], :] = 0.0
        self.plot[:, [0, -1]] = 0.0
        for v in (0.25, 0.5, 0.75):
            self.plot[int(round(float(self.y(v)))), 1:-1:4] = GRAY
        raster.text(self.image, 10, 4, "1")
        raster.text(self.image, height + 2, 4, "0")
        shown = x_max if label is None else label
        left = 20 + float(self.x(shown)) - 4 * len(str(shown))
        raster.text(self.image, height + 18, int(min(left, width)), shown)

    def x(self, value):  # x_min .. x_max -> column 1 .. w - 2
        span = self.x_max - self.x_min
        return 1 + (np.asarray(value, float) - self.x_min) * (self.w - 3) / span

    def y(self, value):  # 0 .. 1 -> row h - 2 .. 1
        return (
            self.h - 2 - np.clip(np.asarray(value, float), 0, 1) * (self.h - 3)
        )

    def curve(self, xs, ys, color, width=1):
        raster.polyline(self.plot, self.x(xs), self.y(ys), color, width)

    def dots(self, xs, ys, color):
        for x, y in zip(self.x(xs), self.y(ys)):
            raster.dot(self.plot, x, y, color)

    def hline(self, value, color, step=4):
        self.plot[int(round(float(self.y(value)))), 1:-1:step] = color


def shade(t):
    """Blue (t = 0) to red (t = 1)."""
    return tuple((1 - t) * b + t * r for b, r in zip(BLUE, RED))


def random_label_chart(runs, chance):
    """The two panels of experiments.random_labels (see the module).

    Args:
        runs: {case: {"corruption": share or None (random pixels),
            "history": {"accuracy": [per epoch]}, "train_accuracy",
            "test_accuracy"}}.
        chance: 1 / number of classes.

    Returns:
        (H, W, 3) image.
    """
    epochs = max(len(r["history"]["accuracy"]) for r in runs.values())
    curves = Panel(1, max(epochs, 2), label=epochs)
    for r in runs.values():
        acc = r["history"]["accuracy"]
        p = r["corruption"]
        color = GREEN if p is None else shade(p)
        curves.curve(np.arange(1, len(acc) + 1), acc, color, width=2)
    levels = Panel(0, 125, label=100)
    levels.plot[1:-1:4, int(round(float(levels.x(112))))] = GRAY
    levels.hline(chance, GRAY, step=8)
    labelled = sorted(
        (r for r in runs.values() if r["corruption"] is not None),
        key=lambda r: r["corruption"],
    )
    for key, color in (("train_accuracy", BLUE), ("test_accuracy", RED)):
        xs = [100 * r["corruption"] for r in labelled]
        ys = [r[key] for r in labelled]
        if xs:
            levels.curve(xs, ys, color)
            levels.dots(xs, ys, color)
        for r in runs.values():
            if r["corruption"] is None:
                levels.dots([120], [r[key]], color)
    return raster.side_by_side([curves.image, levels.image], margin=8)


def per_class_chart(strategies, favoured):
    """One panel per counter-measure (see the module).

    Args:
        strategies: {name: {"per_class": [[accuracy of each class] per
            round, round 0 first]}}.
        favoured: the classes the user stream over-represents.

    Returns:
        (H, W, 3) image.
    """
    panels = []
    for result in strategies.values():
        acc = np.asarray(result["per_class"], float)  # (rounds + 1, K)
        rounds = np.arange(len(acc))
        panel = Panel(0, max(len(acc) - 1, 1), label=len(acc) - 1)
        is_fav = np.isin(np.arange(acc.shape[1]), favoured)
        for k in range(acc.shape[1]):
            panel.curve(rounds, acc[:, k], LIGHT_BLUE if is_fav[k] else ORANGE)
        for group, color in ((is_fav, BLUE), (~is_fav, DARK_ORANGE)):
            if group.any():
                panel.curve(rounds, acc[:, group].mean(1), color, width=3)
        panels.append(panel.image)
    return raster.side_by_side(panels, margin=8)
