"""`get`: a loss by its cheat-sheet name, class name or section number."""

import functools
import re

import keras

from keras_cheats.losses.capsule import MarginLoss
from keras_cheats.losses.classification import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    CrossEntropy,
    SoftmaxCrossEntropy,
)
from keras_cheats.losses.contrastive import ContrastiveLoss
from keras_cheats.losses.divergence import GaussianKL, KLDivergence
from keras_cheats.losses.focal import CategoricalFocalLoss, FocalLoss
from keras_cheats.losses.hinge import HingeLoss
from keras_cheats.losses.regression import (
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
)
from keras_cheats.losses.triplet_mining import TripletLoss

# Normalised name -> constructor. Names are normalised by `_normalise`:
# "(...)" dropped, lower case, only letters, digits and dots, a trailing
# "loss" dropped; so the cheat sheet's headings match as written.
_NAMES = {
    **dict.fromkeys(["4.1", "crossentropy", "ce"], CrossEntropy),
    **dict.fromkeys(
        ["4.2", "binarycrossentropy", "bce", "log"], BinaryCrossEntropy
    ),
    **dict.fromkeys(
        ["4.3", "categoricalcrossentropy", "cce"], CategoricalCrossEntropy
    ),
    **dict.fromkeys(
        ["4.4", "softmax", "softmaxcrossentropy"], SoftmaxCrossEntropy
    ),
    "sparsesoftmaxcrossentropy": functools.partial(
        SoftmaxCrossEntropy, sparse=True
    ),
    **dict.fromkeys(["4.5", "meansquarederror", "mse"], MeanSquaredError),
    **dict.fromkeys(["4.6", "meanabsoluteerror", "mae"], MeanAbsoluteError),
    **dict.fromkeys(["4.7", "huber"], Huber),
    **dict.fromkeys(
        [
            "4.8",
            "kldivergence",
            "kl",
            "kld",
            "kullbackleibler",
            "kullbackleiblerdivergence",
        ],
        KLDivergence,
    ),
    **dict.fromkeys(
        ["4.8.1", "gaussiankl", "multivariategaussiankl"], GaussianKL
    ),
    **dict.fromkeys(["4.9", "triplet"], TripletLoss),
    **dict.fromkeys(["4.10", "contrastive"], ContrastiveLoss),
    **dict.fromkeys(["4.11", "focal", "binaryfocal"], FocalLoss),
    "categoricalfocal": CategoricalFocalLoss,
    **dict.fromkeys(["4.12", "hinge"], HingeLoss),
    **dict.fromkeys(["margin", "capsulemargin"], MarginLoss),
}


def _normalise(name):
    key = re.sub(r"\(.*?\)", "", name)  # "Huber Loss (robust)" -> "Huber Loss"
    key = re.sub(r"[^a-z0-9.]", "", key.lower())
    return (
        key[: -len("loss")] if key.endswith("loss") and key != "loss" else key
    )


def names():
    """The accepted names, normalised (see `get`)."""
    return sorted(_NAMES)


def get(identifier, **kwargs):
    """A loss instance from a cheat-sheet name, class name or section number.

    Names are matched ignoring case, spaces, "-", "_", parentheses and a
    trailing "loss": the cheat-sheet heading "Cross-Entropy Loss (CE)",
    "cross_entropy", "CrossEntropy", "ce" and "4.1" all give
    `CrossEntropy()`. "sparse_softmax_cross_entropy" gives
    `SoftmaxCrossEntropy(sparse=True)`, "margin" the capsule `MarginLoss`.

    Args:
        identifier: a name (str), a `keras.losses.serialize` dict, a
            `Loss` subclass (instantiated), a loss instance or any callable
            (returned as is), or None.
        **kwargs: constructor arguments, for names only.

    Returns:
        A `keras.losses.Loss` (or the callable given, or None).

    >>> get("Triplet Loss", margin=0.2).get_config()["margin"]
    0.2
    >>> type(get("4.8.1")).__name__
    'GaussianKL'
    """
    if isinstance(identifier, type) and issubclass(
        identifier, keras.losses.Loss
    ):
        return identifier(**kwargs)
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        return keras.losses.deserialize(identifier)
    if isinstance(identifier, str):
        key = _normalise(identifier)
        if key in _NAMES:
            return _NAMES[key](**kwargs)
    raise ValueError(
        "`identifier` must be a loss name, a serialized loss, a callable or "
        f"None; received identifier={identifier!r}. Known names: "
        f"{', '.join(names())}."
    )
