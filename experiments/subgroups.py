"""A hidden rare subgroup for the debiasing experiment (cheat sheet 7.4.2).

    train, test = subgroups.biased_splits(train, test, target_class=7,
                                          subgroup="rotate",
                                          rare_fraction=0.02, seed=0)
    accuracies = subgroups.group_accuracies(model, loss, target_class=7,
                                            split=test, batch_size=64)

In the training split a rare fraction of the target-class images takes
another look (`transform`: rotated 90 degrees, or colour-inverted); the
test split holds every test image twice, as is and transformed, so each
(class, look) group can be scored on its own (`GROUPS`). Both splits carry
the attributes "subgroup" (0 as is, 1 transformed) and "target" (label ==
target class), for evaluation only: the pipelines never feed them to a
model.
"""

import types

import numpy as np
from keras import ops

import loops
from experiments.data import Split
from keras_cheats.models import dbvae

SUBGROUPS = ("rotate", "invert")

# The groups of the balanced test split, as (target, transformed):
#   accuracy_common   target-class images, as is            (recall)
#   accuracy_rare     the same images, transformed          (recall)
#   accuracy_other    other images, as is                   (specificity)
#   accuracy_other_transformed  other images, transformed: a look never
#                     seen in training, a probe for a "transformed means
#                     target class" shortcut
GROUPS = {
    "accuracy_common": (True, False),
    "accuracy_rare": (True, True),
    "accuracy_other": (False, False),
    "accuracy_other_transformed": (False, True),
}


def transform(images, subgroup):
    """The rare subgroup's look: images rotated 90 degrees or inverted.

    Args:
        images: (N, H, W, C) in [0, 1]; "rotate" needs H == W.
        subgroup: "rotate" (counter-clockwise) or "invert" (1 - x).

    Returns:
        float32 array of the same shape.
    """
    images = np.asarray(images, np.float32)
    if subgroup == "rotate":
        if images.shape[1] != images.shape[2]:
            raise ValueError(
                f"subgroup='rotate' needs square images; received shape "
                f"{images.shape}"
            )
        return np.ascontiguousarray(np.rot90(images, k=1, axes=(1, 2)))
    if subgroup == "invert":
        return 1.0 - images
    raise ValueError(
        f"subgroup={subgroup!r}; expected one of {', '.join(SUBGROUPS)}"
    )


def biased_splits(train, test, target_class, subgroup, rare_fraction, seed):
    """The biased training split and the subgroup-balanced test split.

    Training: round(rare_fraction * n) of the n target-class images, chosen
    at random with `seed`, are transformed. Test: the test images as is,
    followed by a transformed copy of each. Both carry the attributes
    "subgroup" (0 as is, 1 transformed) and "target" (label ==
    target_class).

    Returns:
        (train Split, test Split).
    """
    if not 0.0 <= rare_fraction <= 1.0:
        raise ValueError(
            f"rare_fraction={rare_fraction!r}; expected a number in [0, 1]"
        )
    rng = np.random.default_rng(seed)
    target = np.flatnonzero(train.y == target_class)
    if len(target) == 0:
        raise ValueError(
            f"target_class={target_class!r} has no training images"
        )
    rare = rng.choice(
        target, size=int(round(rare_fraction * len(target))), replace=False
    )
    x = train.x.copy()
    x[rare] = transform(train.x[rare], subgroup)
    subgroup_ids = np.zeros(len(train.y), np.int64)
    subgroup_ids[rare] = 1
    biased = Split(
        x,
        train.y,
        types.MappingProxyType(
            {"subgroup": subgroup_ids, "target": train.y == target_class}
        ),
    )
    n = len(test.y)
    y = np.concatenate([test.y, test.y])
    balanced = Split(
        np.concatenate([test.x, transform(test.x, subgroup)]),
        y,
        types.MappingProxyType(
            {
                "subgroup": np.repeat(np.array([0, 1], np.int64), n),
                "target": y == target_class,
            }
        ),
    )
    return biased, balanced


def group_masks(split):
    """{group name in GROUPS: (N,) bool mask} of a split with the
    "target" and "subgroup" attributes."""
    target = np.asarray(split.attributes["target"], bool)
    rare = np.asarray(split.attributes["subgroup"]) == 1
    return {
        name: (target == is_target) & (rare == is_rare)
        for name, (is_target, is_rare) in GROUPS.items()
    }


def group_accuracies(model, loss, target_class, split, batch_size):
    """Accuracy of the indicator decision (logit > 0 for `target_class`)
    per group of `split` (`group_masks`); NaN for an empty group.

    One `loops.evaluate` pass over the whole split: the batches' targets
    are {"image", "label", "group"} (the group's index in GROUPS), `loss`
    (per example, of those targets and the model's outputs) is the task's
    loss, and one `GroupAccuracy` per group counts only its own examples.
    Adds "accuracy_balanced_target", the mean of the target class's two
    groups (common and rare) as if they were equally frequent.
    """
    masks = group_masks(split)
    group = np.zeros(len(split.y), np.int64)
    for index, mask in enumerate(masks.values()):
        group[mask] = index

    def targets(x, y, g):
        return x, {"image": x, "label": y, "group": g}

    data = loops.InMemory((split.x, split.y, group), batch_size, map_fn=targets)
    metrics = [
        GroupAccuracy(target_class, index, name=name)
        for index, name in enumerate(masks)
    ]
    measured = loops.evaluate(
        model, loops.supervised(loss, metrics=metrics), data
    )
    out = {
        name: float(measured[name]) if mask.any() else float("nan")
        for name, mask in masks.items()
    }
    out["accuracy_balanced_target"] = (
        out["accuracy_common"] + out["accuracy_rare"]
    ) / 2
    return out


class GroupAccuracy(dbvae.IndicatorAccuracy):
    """`dbvae.IndicatorAccuracy` over the examples of one group only:
    targets {"label", "group"}, each example weighted by group == index.
    """

    def __init__(self, target_class, index, **kwargs):
        super().__init__(target_class, **kwargs)
        self.index = int(index)

    def update_state(self, y_true, y_pred, sample_weight=None):
        in_group = ops.equal(ops.reshape(y_true["group"], (-1,)), self.index)
        weight = ops.cast(in_group, "float32")  # (B,)
        if sample_weight is not None:
            weight = weight * ops.reshape(sample_weight, (-1,))
        return super().update_state(y_true, y_pred, weight)

    def get_config(self):
        return {**super().get_config(), "index": self.index}
