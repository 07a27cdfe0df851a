"""Pictures for run directories: PNG grids and TensorBoard image summaries.

Images are float arrays in [0, 1] of shape (N, H, W, C) with C = 1 or 3.
"""

import pathlib

import keras
import numpy as np
import tensorflow as tf


def grid(images, columns: int, pad: int = 1) -> np.ndarray:
    """Tiles (N, H, W, C) images into one (rows*(H+pad), cols*(W+pad), C)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images of shape {images.shape}; expected (N, H, W, 1 or 3)"
        )
    if not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns={columns!r}; expected an integer >= 1")
    n, h, w, c = images.shape
    rows = -(-n // columns)
    out = np.ones(
        (rows * (h + pad) + pad, columns * (w + pad) + pad, c), np.float32
    )
    for i, image in enumerate(np.clip(images, 0.0, 1.0)):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        out[top : top + h, left : left + w] = image
    return out


def save_png(path, image):
    """Writes an (H, W, C) float image in [0, 1] as PNG, atomically."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tf.io.encode_png(
        tf.convert_to_tensor(np.round(np.clip(image, 0, 1) * 255), tf.uint8)
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data.numpy())
    tmp.replace(path)
    return path


def save_grid(path, images, columns: int):
    """`save_png(path, grid(images, columns))`; returns the path."""
    return save_png(path, grid(images, columns))


def side_by_side(inputs, outputs, pairs: int = 8):
    """Interleaves inputs and their reconstructions: row i = x_i, x'_i..."""
    inputs, outputs = np.asarray(inputs), np.asarray(outputs)
    n = min(pairs, len(inputs))
    stacked = np.empty((2 * n, *inputs.shape[1:]), np.float32)
    stacked[0::2], stacked[1::2] = (
        inputs[:n],
        outputs[:n].reshape(inputs[:n].shape),
    )
    return stacked


def summary_image(run_dir, name, image, step=0):
    """Adds one (H, W, C) image to TensorBoard under run_dir/tensorboard."""
    writer = tf.summary.create_file_writer(
        str(pathlib.Path(run_dir) / "tensorboard" / "images")
    )
    with writer.as_default():
        tf.summary.image(name, np.asarray(image)[None], step=step)
    writer.flush()


class EpochGrid(keras.callbacks.Callback):
    """Saves `samples_epoch_XXX.png` (1-based) and a TensorBoard image
    after each epoch, from `draw(model) -> (N, H, W, C)` in [0, 1].

    The engine calls Keras callbacks with `self.model` set to the trained
    model; `draw` takes it (e.g. a GAN's generator on fixed latents).
    """

    def __init__(self, run_dir, draw, columns=8):
        super().__init__()
        self.run_dir = pathlib.Path(run_dir)
        self.draw = draw
        self.columns = columns

    def on_epoch_end(self, epoch, logs=None):
        image = grid(np.asarray(self.draw(self.model)), self.columns)
        save_png(self.run_dir / f"samples_epoch_{epoch + 1:03d}.png", image)
        summary_image(self.run_dir, "samples", image, step=epoch + 1)
