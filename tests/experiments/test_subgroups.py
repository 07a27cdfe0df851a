"""experiments.subgroups: a rare look given to every class alike, the
look-balanced test split and the per-group scores."""

import keras
import numpy as np
import pytest

from experiments import subgroups
from experiments.data import Split
from keras_cheats.models import dbvae


def test_transforms_hand_computed():
    image = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")[None, :, :, None]
    # Rotated 90 degrees counter-clockwise: the right column becomes the top.
    rotated = subgroups.transform(image, "rotate")[0, :, :, 0]
    np.testing.assert_array_equal(rotated, [[2.0, 4.0], [1.0, 3.0]])
    inverted = subgroups.transform(image / 4, "invert")[0, :, :, 0]
    np.testing.assert_allclose(inverted, [[0.75, 0.5], [0.25, 0.0]])
    with pytest.raises(ValueError, match="square"):
        subgroups.transform(np.zeros((1, 2, 3, 1)), "rotate")
    with pytest.raises(ValueError, match="subgroup='blur'"):
        subgroups.transform(image, "blur")


def _split(sizes, seed=0):
    """Images of random pixels, sizes[c] of class c."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.uniform(size=(len(y), 6, 6, 1)).astype("float32")
    return Split(x, y.astype(np.int64))


def test_the_look_is_as_frequent_in_every_class():
    train, test = _split([100, 60, 200, 40]), _split([10] * 4, seed=1)
    biased, balanced = subgroups.biased_splits(train, test, 2, "invert", 0.1, 0)
    rare = biased.attributes["subgroup"] == 1
    # round(0.1 * n_c) per class: the look tells nothing about the label.
    assert [int(rare[train.y == c].sum()) for c in range(4)] == [10, 6, 20, 4]
    np.testing.assert_allclose(biased.x[rare], 1 - train.x[rare])
    np.testing.assert_array_equal(biased.x[~rare], train.x[~rare])
    np.testing.assert_array_equal(biased.attributes["target"], train.y == 2)
    assert subgroups.rare_targets(biased).sum() == 20
    assert len(subgroups.rare_targets(biased)) == 200
    # Another seed picks other images, as many.
    other, _ = subgroups.biased_splits(train, test, 2, "invert", 0.1, 1)
    assert other.attributes["subgroup"].sum() == 40
    assert not np.array_equal(other.attributes["subgroup"], rare)
    # Test: each image as is, then transformed: both looks equally.
    assert len(balanced) == 80
    np.testing.assert_array_equal(balanced.y, np.tile(test.y, 2))
    np.testing.assert_array_equal(
        balanced.attributes["subgroup"], [0] * 40 + [1] * 40
    )
    np.testing.assert_allclose(balanced.x[40:], 1 - test.x)


def test_bad_splits_are_refused():
    train, test = _split([10, 10]), _split([2, 2])
    with pytest.raises(ValueError, match="rare_fraction=1.5"):
        subgroups.biased_splits(train, test, 1, "invert", 1.5, 0)
    with pytest.raises(ValueError, match="target_class=9"):
        subgroups.biased_splits(train, test, 9, "invert", 0.1, 0)


def _brightness_classifier():
    """logit = 10 (mean pixel - 0.5) of a 2x2 image: "class 1" iff the
    image is brighter than 0.5."""
    model = keras.Sequential(
        [
            keras.Input((2, 2, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(
                1,
                kernel_initializer=keras.initializers.Constant(2.5),
                bias_initializer=keras.initializers.Constant(-5.0),
            ),
        ]
    )

    def loss(y, logit):
        truth = dbvae.indicator(y["label"], 1)
        logit = keras.ops.reshape(logit, (-1,))
        return keras.ops.binary_crossentropy(truth, logit, from_logits=True)

    return model, loss


def test_group_scores_score_each_group_on_its_own():
    # (brightness, label, transformed): predicted class 1 iff bright.
    rows = [
        (0.9, 1, 0), (0.9, 1, 0),                            # common: 2/2
        (0.9, 1, 1), (0.1, 1, 1),                            # rare: 1/2
        (0.1, 0, 0), (0.1, 0, 0), (0.1, 0, 0), (0.9, 0, 0),  # 1/4 wrong
        (0.9, 0, 1), (0.9, 0, 1),                            # 2/2 wrong
    ]  # fmt: skip
    value, label, transformed = map(np.array, zip(*rows))
    split = Split(
        np.ones((len(rows), 2, 2, 1), "float32") * value[:, None, None, None],
        label.astype(np.int64),
        {"target": label == 1, "subgroup": transformed},
    )
    model, loss = _brightness_classifier()
    # Batches of 3 straddle the groups: each metric counts its own only.
    scores = subgroups.group_scores(model, loss, 1, split, 3)
    assert scores == pytest.approx(
        {
            "recall_common": 1.0,
            "recall_rare": 0.5,
            "error_common_negatives": 0.25,
            "error_rare_negatives": 1.0,
            "balanced_recall": 0.75,
        }
    )
