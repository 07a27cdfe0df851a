"""The data layer every experiment uses: `load(name, ...)`.

Names: "digits" (offline default), "idx:DIR" (local MNIST IDX files) and the
tensorflow-datasets names in `TFDS_NAMES`.
"""

import dataclasses

from experiments.data.idx import IdxFormatError
from experiments.data.pipeline import Pipeline, epoch_seed
from experiments.data.sources import (
    TFDS_NAMES,
    DatasetInfo,
    DatasetUnavailableError,
    Split,
    load_digits,
    load_idx_dir,
    load_tfds,
)

__all__ = [
    "Data",
    "DatasetInfo",
    "DatasetUnavailableError",
    "IdxFormatError",
    "Pipeline",
    "Split",
    "TFDS_NAMES",
    "epoch_seed",
    "load",
    "load_splits",
]


@dataclasses.dataclass(frozen=True)
class Data:
    """Ready pipelines plus what a model needs to know."""

    train: Pipeline
    test: Pipeline
    info: DatasetInfo


def load_splits(name: str, data_dir=None, download: bool = False):
    """Loads a data set by name into (train Split, test Split, DatasetInfo)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"dataset={name!r}; expected a data set name")
    if name == "digits":
        train, test, num_classes, desc = load_digits()
    elif name.startswith("idx:"):
        directory = name[len("idx:") :]
        if not directory:
            raise ValueError(
                f"dataset={name!r}; expected idx:DIR with a folder of IDX files"
            )
        train, test, num_classes, desc = load_idx_dir(directory)
    elif name in TFDS_NAMES:
        train, test, num_classes, desc = load_tfds(name, data_dir, download)
    else:
        raise ValueError(
            f"dataset={name!r}; expected 'digits', 'idx:DIR' or one of "
            f"{', '.join(TFDS_NAMES)}"
        )
    info = DatasetInfo(
        name=name,
        image_shape=tuple(int(d) for d in train.x.shape[1:]),
        num_classes=int(num_classes),
        num_train=len(train),
        num_test=len(test),
        description=desc,
    )
    return train, test, info


def load(
    name: str = "digits",
    *,
    batch_size: int = 128,
    seed: int = 0,
    drop_remainder: bool = False,
    data_dir=None,
    download: bool = False,
    transform=None,
) -> Data:
    """Loads a data set and wraps it in pipelines.

    Args:
      name: "digits", "idx:DIR" or a tensorflow-datasets name.
      batch_size: examples per batch (the global batch under a strategy).
      seed: shuffle seed; each epoch's order derives from (seed, epoch).
      drop_remainder: drop the last partial batch (TPUs need static shapes).
      data_dir, download: passed to `tfds.load` for tfds names.
      transform: optional hook `transform(split_name, Split) -> Split`,
        e.g. to build a biased training set with subgroup attributes.

    Returns:
      `Data(train, test, info)`; `train` shuffles, `test` does not.
    """
    train, test, info = load_splits(name, data_dir, download)
    if transform is not None:
        train, test = transform("train", train), transform("test", test)
        info = dataclasses.replace(
            info, num_train=len(train), num_test=len(test)
        )
    return Data(
        train=Pipeline(train, batch_size, True, seed, drop_remainder),
        test=Pipeline(test, batch_size, False, seed, drop_remainder),
        info=info,
    )
