"""A rare look that carries no label information, for the debiasing
experiment (cheat sheet 7.4.2).

    train, test = subgroups.biased_splits(train, test, target_class=7,
                                          subgroup="rotate",
                                          rare_fraction=0.05, seed=0)
    scores = subgroups.group_scores(model, loss, target_class=7,
                                    split=test, batch_size=64)

In the training split the same small fraction of every class takes another
look (`transform`: rotated 90 degrees, or colour-inverted), so the look
says nothing about the label: P(look | class) is the same for every class.
Among the target-class images the look is rare, which is the bias the
DB-VAE's resampling should find. The test split holds every test image
twice, as is and transformed, so each (class, look) group is scored on its
own (`GROUPS`). Both splits carry the attributes "subgroup" (0 as is, 1
transformed) and "target" (label == target class), for evaluation and the
oracle only: the pipelines never feed them to a model.
"""

import types

import numpy as np
from keras import ops

import loops
from experiments.data import Split
from keras_cheats.models import dbvae

SUBGROUPS = ("rotate", "invert")

# The groups of the balanced test split, as (target, transformed), and the
# score of each: the share of its images the indicator decision gets right
# (recall of the target class, or specificity of the others), or wrong
# (an error rate, for the negatives: "rare-looking negatives called the
# target class" is where a "rare look means target" shortcut shows).
GROUPS = {
    "recall_common": (True, False),
    "recall_rare": (True, True),
    "error_common_negatives": (False, False),
    "error_rare_negatives": (False, True),
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
    """The training split with a rare look in every class, and the test
    split balanced across looks.

    Training: in every class c with n_c images, round(rare_fraction * n_c)
    of them, chosen at random with `seed`, are transformed, so the look is
    as frequent in every class and carries no label information. Test: the
    test images as is, followed by a transformed copy of each. Both carry
    the attributes "subgroup" (0 as is, 1 transformed) and "target"
    (label == target_class).

    Returns:
        (train Split, test Split).
    """
    if not 0.0 <= rare_fraction <= 1.0:
        raise ValueError(
            f"rare_fraction={rare_fraction!r}; expected a number in [0, 1]"
        )
    if not np.any(train.y == target_class):
        raise ValueError(
            f"target_class={target_class!r} has no training images"
        )
    rng = np.random.default_rng(seed)
    rare = []
    for c in np.unique(train.y):
        members = np.flatnonzero(train.y == c)
        size = int(round(rare_fraction * len(members)))
        rare.append(rng.choice(members, size, replace=False))
    rare = np.concatenate(rare).astype(np.int64)
    x = train.x.copy()
    x[rare] = transform(train.x[rare], subgroup)
    looks = np.zeros(len(train.y), np.int64)
    looks[rare] = 1
    biased = Split(x, train.y, _attributes(looks, train.y == target_class))
    n = len(test.y)
    y = np.concatenate([test.y, test.y])
    balanced = Split(
        np.concatenate([test.x, transform(test.x, subgroup)]),
        y,
        _attributes(
            np.repeat(np.array([0, 1], np.int64), n), y == target_class
        ),
    )
    return biased, balanced


def _attributes(subgroup, target):
    return types.MappingProxyType({"subgroup": subgroup, "target": target})


def rare_targets(split):
    """(n_target,) bools: which target-class images of `split`, in index
    order, have the rare look (the oracle's and the report's view)."""
    target = np.asarray(split.attributes["target"], bool)
    return np.asarray(split.attributes["subgroup"])[target] == 1


def group_masks(split):
    """{group name in GROUPS: (N,) bool mask} of a split with the
    "target" and "subgroup" attributes."""
    target = np.asarray(split.attributes["target"], bool)
    rare = np.asarray(split.attributes["subgroup"]) == 1
    return {
        name: (target == is_target) & (rare == is_rare)
        for name, (is_target, is_rare) in GROUPS.items()
    }


def group_scores(model, loss, target_class, split, batch_size):
    """The indicator decision (logit > 0 means `target_class`) scored per
    group of `split` (`GROUPS`): recall for the target class's groups, the
    error rate for the negatives' groups; NaN for an empty group.

    One `loops.evaluate` pass over the whole split: the batches' targets
    are {"image", "label", "group"} (the group's index in GROUPS), `loss`
    (per example, of those targets and the model's outputs) is the task's
    loss, and one `GroupAccuracy` per group counts only its own examples.
    Adds "balanced_recall", the mean of the two recalls, as if the rare and
    the common look were equally frequent.
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
    out = {}
    for name, mask in masks.items():
        accuracy = float(measured[name]) if mask.any() else float("nan")
        out[name] = accuracy if name.startswith("recall") else 1.0 - accuracy
    out["balanced_recall"] = (out["recall_common"] + out["recall_rare"]) / 2
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
