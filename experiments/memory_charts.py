"""Pictures of the memory experiment, drawn with NumPy only.

`accuracy_chart`: bit accuracy (y, from `low` at the bottom to 1 at the
top; gray lines at low, the middle and 1, labelled in percent) against
sequence length (x), one line per model in the colours of COLORS (NTM
blue, LSTM red), a square at each measured length and a dashed gray line
at the longest training length. Small digits under the x axis give the lengths.

`weightings_picture`: the NTM's write (left) and read (right) weightings
on one sequence, as in Graves et al. 2014, figure 6: rows the memory
locations the heads visit (`used_rows`: a block that may wrap around
from the last row to row 0), columns the time steps, the darker the
larger.

Images are (H, W, 3) floats in [0, 1], for `experiments.images.save_png`.
"""

import numpy as np

from experiments.raster import GRAY, line, text

COLORS = {"ntm": (0.18, 0.36, 0.75), "lstm": (0.85, 0.25, 0.2)}
OTHER = (0.3, 0.6, 0.3)


def accuracy_chart(lengths, accuracies, train_length, low=0.5, size=(240, 400)):
    """Bit accuracy against length, one line per model.

    Args:
        lengths: the K measured lengths, increasing.
        accuracies: {model name: K accuracies in [0, 1]}.
        train_length: the longest training length (the dashed line).
        low: the accuracy at the bottom of the chart.
        size: (height, width) of the plotting area in pixels.

    Returns:
        (H, W, 3) float image.
    """
    lengths = np.asarray(lengths, float)
    h, w = size
    margin, left = 20, 36
    image = np.ones((h + 2 * margin + 12, w + left + margin, 3))
    x_max = max(lengths.max(), train_length)

    def xy(length, accuracy):
        acc = np.clip((accuracy - low) / (1.0 - low), 0.0, 1.0)
        return margin + (1.0 - acc) * h, left + length / x_max * w

    for acc in (low, (low + 1) / 2, 1.0):
        row = int(round(xy(0, acc)[0]))
        image[row, left : left + w] = GRAY
        text(image, row - 5, 2, round(100 * acc))  # percent
    col = int(round(xy(train_length, 1.0)[1]))
    image[margin : margin + h : 6, col] = GRAY  # dashed
    image[margin + 1 : margin + h : 6, col] = GRAY
    image[margin + 2 : margin + h : 6, col] = GRAY
    for name, accs in accuracies.items():
        color = COLORS.get(name, OTHER)
        points = [xy(n, a) for n, a in zip(lengths, accs)]
        for (r0, c0), (r1, c1) in zip(points, points[1:]):
            line(image, (c0, r0), (c1, r1), color, width=2)
        for r, c in points:
            r, c = int(round(r)), int(round(c))
            image[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4] = color
    for n in lengths:
        _, c = xy(n, 1.0)
        text(image, margin + h + 6, int(c) - 4, n)
    return image


def used_rows(write, read, threshold=0.01):
    """The memory rows to draw, in order: the shortest circular block
    holding every row a head weights by more than `threshold` (heads
    wrap around from row N - 1 to row 0), or all N rows if none is."""
    used = (np.max(write, 0) > threshold) | (np.max(read, 0) > threshold)
    n = len(used)
    if not used.any() or used.all():
        return np.arange(n)
    # The longest circular run of unused rows is left out.
    best, start = 0, 0
    for i in np.flatnonzero(used):
        gap = 1
        while not used[(i + gap) % n]:
            gap += 1
        if gap - 1 > best:
            best, start = gap - 1, (i + gap) % n
    return (start + np.arange(n - best)) % n


def weightings_picture(write, read, scale=4):
    """The write and read weightings over time, side by side.

    Args:
        write: (T, N) write weightings.
        read: (T, N) read weightings (one head).
        scale: pixels per memory location and per step.

    Returns:
        (H, W, 3) float image: locations down (the rows of `used_rows`),
        time across, write on the left, read on the right.
    """
    write, read = np.asarray(write), np.asarray(read)
    rows = used_rows(write, read)
    panels = []
    for weights in (write, read):
        gray = 1.0 - np.clip(weights[:, rows].T, 0.0, 1.0)  # (N', T)
        gray = np.kron(gray, np.ones((scale, scale)))
        panels.append(np.repeat(gray[..., None], 3, axis=-1))
    gap = np.ones((panels[0].shape[0], 4 * scale, 3))
    return np.concatenate([panels[0], gap, panels[1]], axis=1)
