"""similarity.png of `experiments.clip`: test images against class prompts.

One panel per prompt set, left to right in the order of
`experiments.clip_captions.PROMPT_SETS` (seen, held-out templates,
held-out language, held-out both). In a panel, row r is the first test
image of digit r, column c the prompts of digit c (its digit drawn on
top), and the cell's blue is p(c | image) = softmax_c(scale * cos(u, v_c)),
the zero-shot probability (white 0, dark blue 1). The predicted class has
a green frame when right, a red one when wrong.
"""

import numpy as np

from experiments import images

CELL = 28  # pixels per cell

# 3x5 bitmaps of the digits, for the column headers (no font library).
_GLYPHS = [
    "111101101101111", "010110010010111", "111001111100111",
    "111001111001111", "101101111001001", "111100111001111",
    "111100111101111", "111001001001001", "111101111101111",
    "111101111001111",
]  # fmt: skip


def glyph(digit, scale=4):
    """(5 * scale, 3 * scale) array, 1 where the digit is drawn."""
    bits = np.array([int(b) for b in _GLYPHS[digit]], np.float32)
    return np.kron(bits.reshape(5, 3), np.ones((scale, scale), np.float32))


def _cell_image(image):
    """A grey (H, W, 1) image enlarged by an integer factor, centred in a
    CELL x CELL RGB cell on white."""
    image = np.asarray(image, np.float32)
    if image.ndim == 2:
        image = image[..., None]
    image = image.mean(axis=-1)  # grey
    factor = max(1, CELL // max(image.shape))
    image = np.kron(image, np.ones((factor, factor), np.float32))
    image = image[:CELL, :CELL]
    cell = np.ones((CELL, CELL), np.float32)
    top = (CELL - image.shape[0]) // 2
    left = (CELL - image.shape[1]) // 2
    cell[top : top + image.shape[0], left : left + image.shape[1]] = (
        1.0 - image  # dark digits on white
    )
    return np.repeat(cell[..., None], 3, axis=-1)


def _frame(cell, colour, width=2):
    cell = cell.copy()
    cell[:width], cell[-width:] = colour, colour
    cell[:, :width], cell[:, -width:] = colour, colour
    return cell


def panel(rows, probs):
    """An RGB panel: a header row of digit glyphs, then one row per image
    (the image, then one cell per class coloured by `probs` (R, C))."""
    r, c = probs.shape
    out = np.ones(((r + 1) * CELL, (c + 1) * CELL, 3), np.float32)
    for j in range(c):
        g = glyph(j % 10)
        top, left = (
            (CELL - g.shape[0]) // 2,
            CELL * (j + 1) + (CELL - g.shape[1]) // 2,
        )
        out[top : top + g.shape[0], left : left + g.shape[1]] -= g[..., None]
    for i in range(r):
        y0 = CELL * (i + 1)
        out[y0 : y0 + CELL, :CELL] = _cell_image(rows[i])
        for j in range(c):
            p = float(probs[i, j])
            cell = np.empty((CELL, CELL, 3), np.float32)
            cell[:] = (1.0 - p, 1.0 - 0.8 * p, 1.0 - 0.3 * p)
            if j == int(np.argmax(probs[i])):
                colour = (0.0, 0.7, 0.0) if j == i else (0.9, 0.0, 0.0)
                cell = _frame(cell, colour)
            out[y0 : y0 + CELL, CELL * (j + 1) : CELL * (j + 2)] = cell
    return out


def save_similarity(path, x, y, u, classes, scale):
    """Writes the panels (module docstring) to `path`.

    Args:
        x, y: test images and labels; u: their unit embeddings (N, d).
        classes: {prompt set: (C, d) unit class embeddings}.
        scale: the learnt logit scale exp(t).
    """
    num_classes = next(iter(classes.values())).shape[0]
    first = [int(np.flatnonzero(y == c)[0]) for c in range(num_classes)]
    panels = []
    for c in classes.values():
        logits = scale * u[first] @ c.T
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        panels.append(panel(x[first], probs / probs.sum(1, keepdims=True)))
        panels.append(np.ones((panels[-1].shape[0], CELL // 2, 3), np.float32))
    return images.save_png(path, np.concatenate(panels[:-1], axis=1))
