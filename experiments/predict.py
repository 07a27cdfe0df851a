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


def data_info(record):
    """The DatasetInfo a run.json records (what a model is built for)."""
    from experiments.data import DatasetInfo

    return DatasetInfo(
        record["dataset"], tuple(record["image_shape"]),
        record["num_classes"], record["split"]["train"],
        record["split"]["test"],
    )  # fmt: skip


def predict(model_dir, paths, top=3):
    """[(name, [(class, probability), ...])] for every image of `paths`."""
    import tensorflow as tf

    from experiments import registry, train
    from experiments.rundir import RECORD
    from experiments.saving import load_model
    from loops.checkpointing import read_json

    record = read_json(pathlib.Path(model_dir) / RECORD)
    if record is None:
        raise ValueError(
            f"model_dir={str(model_dir)!r} has no {RECORD}; expected the "
            "folder of an experiments.train run"
        )
    if registry.get(record["model"]).headline != "accuracy":
        raise ValueError(
            f"model_dir={str(model_dir)!r} holds model={record['model']!r}, "
            "not a classifier; expected a run of a classifier"
        )
    config = train.config_of_run(record)
    spec = registry.get(config.model)
    prepare = train.prepare_fn(spec, data_info(record), config)
    model = load_model(model_dir)
    out = []
    for path in paths:
        names, images = read_images(path, tuple(record["image_shape"]))
        inputs = images
        if prepare is not None:  # as in training; labels only mask
            labels = np.zeros(len(images), np.int64)
            inputs = prepare(tf.constant(images), labels)[0]
        probabilities = class_probabilities(model.predict(inputs, verbose=0))
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
