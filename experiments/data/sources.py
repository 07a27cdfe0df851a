"""The data sources: bundled digits, local IDX folders, tensorflow-datasets.

Every source returns the same thing: float32 images in [0, 1] of shape
(N, H, W, C) and int64 labels, split into train and test.
"""

import dataclasses
import types

import numpy as np
from absl import logging

from experiments.data import idx

TFDS_NAMES = ("mnist", "fashion_mnist", "kmnist", "emnist/digits", "cifar10")
OFFLINE_HINT = (
    "Offline choices: --dataset=digits (scikit-learn's bundled 8x8 digits) "
    "or --dataset=idx:DIR (MNIST IDX files in a local folder, e.g. "
    "idx:../shared/data/mnist)."
)


class DatasetUnavailableError(RuntimeError):
    """A tensorflow-datasets set could not be loaded (often: no network)."""


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: images (N, H, W, C) float32 in [0, 1], labels (N,) int64.

    `attributes` holds optional per-example arrays (e.g. a subgroup id) that
    experiments may add for evaluation; pipelines do not feed them to models.
    """

    x: np.ndarray
    y: np.ndarray
    attributes: types.MappingProxyType = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(
                f"x has {len(self.x)} examples but y has {len(self.y)}"
            )
        for name, values in self.attributes.items():
            if len(values) != len(self.y):
                raise ValueError(
                    f"attribute {name!r} has {len(values)} values, "
                    f"expected {len(self.y)}"
                )

    def __len__(self):
        return len(self.y)


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a data set."""

    name: str
    image_shape: tuple
    num_classes: int
    num_train: int
    num_test: int
    description: str = ""


def _to_float_images(images: np.ndarray, max_value: float) -> np.ndarray:
    x = images.astype(np.float32) / np.float32(max_value)
    return x[..., None] if x.ndim == 3 else x


def load_digits(test_fraction: float = 0.2, split_seed: int = 0):
    """scikit-learn's bundled 8x8 digits (1,797 scans, values 0..16).

    The split is stratified by class and fixed by `split_seed`.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    x = _to_float_images(bunch.images, 16.0)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=split_seed
    )
    return Split(x_tr, y_tr), Split(x_te, y_te), 10, "sklearn digits 8x8"


def load_idx_dir(directory, num_classes: int = 10, train_fraction=0.8):
    """MNIST IDX files from a folder.

    With a train and a t10k pair, those are the splits. With a single pair
    (e.g. only the MNIST test set), its first `train_fraction` becomes train
    and the rest test, in file order (10,000 images: 8,000 / 2,000).
    """
    pairs = idx.find_pairs(directory)
    loaded = {
        stem: idx.read_pair(img, lab, num_classes)
        for stem, (img, lab) in pairs.items()
    }
    if "train" in loaded and "t10k" in loaded:
        (xtr, ytr), (xte, yte) = loaded["train"], loaded["t10k"]
        how = "train / t10k files"
    elif len(loaded) == 1:
        stem, (x, y) = next(iter(loaded.items()))
        cut = int(round(len(y) * train_fraction))
        xtr, ytr, xte, yte = x[:cut], y[:cut], x[cut:], y[cut:]
        how = (
            f"{stem} split in file order: first {cut} train, last "
            f"{len(y) - cut} test"
        )
        logging.info("idx:%s holds only the %s pair: %s", directory, stem, how)
    else:
        raise idx.IdxFormatError(
            f"{directory}: found pairs {sorted(loaded)}; expected 'train' and "
            "'t10k', or exactly one pair"
        )
    return (
        Split(_to_float_images(xtr, 255.0), ytr),
        Split(_to_float_images(xte, 255.0), yte),
        num_classes,
        f"IDX files in {directory} ({how})",
    )


def _tfds_to_numpy(ds):
    xs, ys = [], []
    for x, y in ds.batch(4096).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def load_tfds(name: str, data_dir=None, download: bool = False):
    """A tensorflow-datasets image classification set through `tfds.load`."""
    import tensorflow_datasets as tfds

    try:
        (train, test), info = tfds.load(
            name,
            split=["train", "test"],
            as_supervised=True,
            with_info=True,
            data_dir=data_dir,
            download=download,
        )
        (xtr, ytr), (xte, yte) = _tfds_to_numpy(train), _tfds_to_numpy(test)
    except Exception as e:  # tfds raises many types; all mean "unavailable"
        raise DatasetUnavailableError(
            f"could not load tensorflow-datasets {name!r} "
            f"(data_dir={data_dir!r}, download={download}): "
            f"{type(e).__name__}: {e}. A download needs internet access. "
            + OFFLINE_HINT
        ) from e
    num_classes = info.features["label"].num_classes
    return (
        Split(_to_float_images(xtr, 255.0), ytr),
        Split(_to_float_images(xte, 255.0), yte),
        num_classes,
        f"tensorflow-datasets {name}",
    )
