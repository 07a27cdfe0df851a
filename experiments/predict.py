r"""The top classes of a trained classifier for images on disk.

    python -m experiments.predict --model_dir=RUN digit.png other.png
    python -m experiments.predict --model_dir=RUN --top=3 images-idx3-ubyte.gz

PNG (or JPEG) images are read as grayscale (or RGB, for a model of three
channels), resized to the model's input and scaled to [0, 1], as training
saw them; an IDX file of images gives one line per image. Digits drawn
dark on light are inverted (MNIST's digits are light on dark).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from experiments import cli  # noqa: E402


def read_images(path, shape):
    """(names, images (N, *shape) float32 in [0, 1]) from one file."""
    import tensorflow as tf

    from experiments.data import idx

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"image {str(path)!r} does not exist")
    if "idx3" in path.name:
        pixels = idx.read_idx(path, expected_ndim=3)[..., None]
        names = [f"{path.name}[{i}]" for i in range(len(pixels))]
    else:
        try:
            decoded = tf.io.decode_image(
                path.read_bytes(), channels=shape[-1], expand_animations=False
            )
        except tf.errors.InvalidArgumentError:
            raise ValueError(
                f"image {str(path)!r} is not a PNG, JPEG, GIF or BMP file"
            ) from None
        pixels, names = decoded.numpy()[None], [path.name]
    images = tf.image.resize(pixels.astype(np.float32) / 255.0, shape[:2])
    images = images.numpy()
    light = images.mean(axis=(1, 2, 3)) > 0.5  # dark digit on light paper
    images[light] = 1.0 - images[light]
    return names, images


def class_probabilities(outputs):
    """(N, classes) probabilities from a classifier's outputs: logits, or
    a capsule network's capsule lengths."""
    if isinstance(outputs, dict):
        if "lengths" not in outputs:
            raise ValueError(
                f"model outputs {sorted(outputs)}; expected class scores "
                "(a classifier, or a capsule network's 'lengths')"
            )
        lengths = np.asarray(outputs["lengths"])
        return lengths / lengths.sum(axis=1, keepdims=True)
    logits = np.asarray(outputs, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def predict(model_dir, paths, top=3):
    """[(name, [(class, probability), ...])] for every image of `paths`."""
    from experiments.saving import load_model

    model = load_model(model_dir)
    shape = tuple(model.inputs[0].shape[1:])
    out = []
    for path in paths:
        names, images = read_images(path, shape)
        probabilities = class_probabilities(model.predict(images, verbose=0))
        for name, p in zip(names, probabilities):
            best = np.argsort(-p)[:top]
            out.append((name, [(int(c), float(p[c])) for c in best]))
    return out


FLAGS = flags.FLAGS


def main(argv):
    if len(argv) < 2:
        raise ValueError("no image given; expected IMAGE.png or an IDX file")
    for name, best in predict(FLAGS.model_dir, argv[1:], FLAGS.top):
        print(name, " ".join(f"{c}:{p:.3f}" for c, p in best))


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run folder of experiments.train.")
    flags.DEFINE_integer("top", 3, "Classes shown per image.", lower_bound=1)
    flags.mark_flag_as_required("model_dir")
    cli.run(main)
