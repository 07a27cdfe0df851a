"""Random views of digit images for SimCLR (cheat sheet 7.10).

SimCLR's ablations (Chen et al. 2020, section 3) find that no single
augmentation suffices, that random cropping with resizing matters most, and
that composing it with colour distortion matters next (crops of one image
share a colour histogram, a shortcut the network would otherwise learn).
Digits have no colour, so the composition here is:

1. a random affine map (one bilinear resampling): a crop of side fraction
   c ~ U(crop_min, 1) and aspect ratio r ~ logU(1/max_stretch,
   max_stretch) (4/3: SimCLR's 3/4 to 4/3), resized back to
   the full image (zoom 1/c), rotated by theta ~ U(-max_rotation,
   max_rotation) degrees and shifted by up to max_translate of the image
   side; pixels from outside the image are background (0);
2. intensity jitter, the grey-level stand-in for colour distortion: the
   strokes are scaled by U(0.6, 1);
3. random erasing (cutout): with probability erase_prob a rectangle of
   side fraction U(0.2, 0.4) is set to background;
4. Gaussian noise of standard deviation U(0, noise_std), then clipping to
   [0, 1].

Every draw is per example and a pure function of a (2,) seed: the two
views of a batch use two seeds (`view_seeds`), so they differ, and a
resumed run draws the same views.
"""

import dataclasses
import math

import tensorflow as tf

from keras_cheats import checks


@dataclasses.dataclass(frozen=True)
class ViewConfig:
    """How strong each augmentation is (0 turns one off)."""

    crop_min: float = 0.7
    max_stretch: float = 4 / 3
    max_rotation: float = 15.0
    max_translate: float = 0.12
    erase_prob: float = 0.5
    noise_std: float = 0.1

    def __post_init__(self):
        checks.number("crop_min", self.crop_min)
        if not 0 < self.crop_min <= 1:
            raise ValueError(
                f"crop_min={self.crop_min!r}; expected 0 < crop_min <= 1"
            )
        checks.at_least("max_stretch", self.max_stretch, 1)
        checks.at_least("max_rotation", self.max_rotation, 0)
        checks.fraction("max_translate", self.max_translate)
        checks.number("erase_prob", self.erase_prob)
        if not 0 <= self.erase_prob <= 1:
            raise ValueError(
                f"erase_prob={self.erase_prob!r}; expected 0 <= erase_prob <= 1"
            )
        checks.at_least("noise_std", self.noise_std, 0)


def view_seeds(seed, step):
    """Two (2,) int32 seeds, one per view, from (seed, step, replica)."""
    ctx = tf.distribute.get_replica_context()
    replica = 0 if ctx is None else ctx.replica_id_in_sync_group
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(key, replica)
    return [tf.random.experimental.stateless_fold_in(key, v) for v in (0, 1)]


def _uniform(seed, stream, n, low, high):
    key = tf.random.experimental.stateless_fold_in(seed, stream)
    return tf.random.stateless_uniform((n,), key, low, high)


def _affine(images, seed, config):
    """Crop-resize, rotation and shift as one projective transform."""
    n = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    side = _uniform(seed, 0, n, config.crop_min, 1.0)
    stretch = math.log(config.max_stretch)
    log_r = _uniform(seed, 1, n, -stretch, stretch)
    sx, sy = side * tf.exp(log_r / 2), side * tf.exp(-log_r / 2)
    theta = _uniform(seed, 2, n, -1.0, 1.0) * math.radians(config.max_rotation)
    tx = _uniform(seed, 3, n, -1.0, 1.0) * config.max_translate * w
    ty = _uniform(seed, 4, n, -1.0, 1.0) * config.max_translate * h
    # Output pixel p maps to input pixel c + R(theta) diag(sx, sy) (p - c) + t.
    cos, sin = tf.cos(theta), tf.sin(theta)
    a0, a1, b0, b1 = cos * sx, -sin * sy, sin * sx, cos * sy
    cx, cy = (w - 1) / 2, (h - 1) / 2
    a2 = cx + tx - (a0 * cx + a1 * cy)
    b2 = cy + ty - (b0 * cx + b1 * cy)
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.constant([h, w], tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def _erase(images, seed, config):
    """Cutout: a background rectangle in a random place, with a chance."""
    n = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    size_y = _uniform(seed, 5, n, 0.2, 0.4) * h
    size_x = _uniform(seed, 6, n, 0.2, 0.4) * w
    top = _uniform(seed, 7, n, 0.0, 1.0) * (h - size_y)
    left = _uniform(seed, 8, n, 0.0, 1.0) * (w - size_x)
    on = _uniform(seed, 9, n, 0.0, 1.0) < config.erase_prob
    rows = tf.range(h, dtype=tf.float32)[None, :, None]  # (1, H, 1)
    cols = tf.range(w, dtype=tf.float32)[None, None, :]  # (1, 1, W)

    def col(v):
        return v[:, None, None]

    inside = (
        (rows >= col(top))
        & (rows < col(top + size_y))
        & (cols >= col(left))
        & (cols < col(left + size_x))
        & col(on)
    )  # (N, H, W)
    return tf.where(inside[..., None], 0.0, images)


def random_view(images, seed, config=None):
    """One random view of each image (the module docstring's recipe).

    Args:
        images: (N, H, W, C) floats in [0, 1].
        seed: a (2,) integer tensor; the same seed gives the same view.
        config: a `ViewConfig` (default: its defaults).

    Returns:
        float32 tensor (N, H, W, C) in [0, 1].
    """
    config = ViewConfig() if config is None else config
    seed = tf.cast(seed, tf.int64)
    images = tf.cast(images, tf.float32)
    n = tf.shape(images)[0]
    x = _affine(images, seed, config)
    x = x * _uniform(seed, 10, n, 0.6, 1.0)[:, None, None, None]
    x = _erase(x, seed, config)
    std = _uniform(seed, 11, n, 0.0, config.noise_std)[:, None, None, None]
    key = tf.random.experimental.stateless_fold_in(seed, 12)
    x = x + std * tf.random.stateless_normal(tf.shape(x), key)
    return tf.clip_by_value(x, 0.0, 1.0)


def two_views(images, seed, step, config=None):
    """(view a, view b) of a batch: different draws for the two views."""
    seed_a, seed_b = view_seeds(seed, step)
    return random_view(images, seed_a, config), random_view(
        images, seed_b, config
    )
