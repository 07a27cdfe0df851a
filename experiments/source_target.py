"""Source and target tasks of transfer learning (Cheat sheet 2.4).

`split_tasks` splits one labelled data set by class into a source task
(some classes, all their images: the pretraining data) and a small target
task (the other classes, `per_class` labelled training images each, and
all their test images). Labels are renumbered 0..k-1 within each task.
"""

import dataclasses

import numpy as np

from experiments import data as data_lib


@dataclasses.dataclass(frozen=True)
class TransferSplits:
    """Source and target data, labels renumbered 0..k-1 within each."""

    source_train: data_lib.Split
    source_test: data_lib.Split
    target_train: data_lib.Split  # the labelled budget
    target_test: data_lib.Split
    source_classes: tuple
    target_classes: tuple


def _relabel(split, classes, keep=None):
    """The examples `keep` (default: all of `classes`), labels 0..k-1."""
    if keep is None:
        keep = np.flatnonzero(np.isin(split.y, classes))
    lookup = {c: i for i, c in enumerate(classes)}
    y = np.array([lookup[int(c)] for c in split.y[keep]], dtype=np.int64)
    return data_lib.Split(split.x[keep], y)


def split_tasks(train, test, num_classes, source_classes, per_class, seed):
    """Splits a data set into the source task and a small target task.

    Args:
      train, test: `Split`s of the whole data set.
      num_classes: number of classes of the data set.
      source_classes: the pretraining classes; the rest are the target.
      per_class: target training images drawn per class (without
        replacement, by `seed`).

    Returns:
      `TransferSplits`; the source splits hold every image of the source
      classes, the target test split every test image of the others.
    """
    source = tuple(sorted(source_classes))
    if max(source) >= num_classes:
        raise ValueError(
            f"source_classes={source_classes!r}; expected class ids below "
            f"num_classes={num_classes}"
        )
    target = tuple(c for c in range(num_classes) if c not in source)
    if not target:
        raise ValueError(
            f"source_classes={source_classes!r} leaves no target class"
        )
    rng = np.random.default_rng(seed)
    budget = []
    for c in target:
        pool = np.flatnonzero(train.y == c)
        if len(pool) < per_class:
            raise ValueError(
                f"per_class={per_class}; class {c} has only {len(pool)} "
                "training images"
            )
        budget.append(rng.choice(pool, per_class, replace=False))
    budget = np.sort(np.concatenate(budget))
    return TransferSplits(
        source_train=_relabel(train, source),
        source_test=_relabel(test, source),
        target_train=_relabel(train, target, budget),
        target_test=_relabel(test, target),
        source_classes=source,
        target_classes=target,
    )
