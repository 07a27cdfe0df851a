"""experiments.source_target: the source and target tasks (section 2.4)."""

import numpy as np
import pytest

from experiments import data as data_lib
from experiments.source_target import split_tasks


def _toy_split(labels):
    labels = np.asarray(labels, np.int64)
    x = np.arange(len(labels), dtype=np.float32).reshape(-1, 1, 1, 1)
    return data_lib.Split(np.broadcast_to(x, (len(labels), 2, 2, 1)), labels)


def test_split_tasks_budget_and_relabelling():
    train = _toy_split(np.repeat(np.arange(4), 5))  # 5 images of each class
    test = _toy_split([0, 1, 2, 3, 3])
    s = split_tasks(train, test, 4, (2, 0), per_class=3, seed=0)
    assert s.source_classes == (0, 2) and s.target_classes == (1, 3)
    # Source: every image of classes 0 and 2, renumbered 0 and 1.
    np.testing.assert_array_equal(s.source_train.y, [0] * 5 + [1] * 5)
    np.testing.assert_array_equal(s.source_test.y, [0, 1])
    # Target: 3 of the 5 images of class 1 (-> 0) and of class 3 (-> 1).
    np.testing.assert_array_equal(np.bincount(s.target_train.y), [3, 3])
    ids = s.target_train.x[:, 0, 0, 0].astype(int)  # image i holds i
    assert set(ids[:3]) <= set(range(5, 10))
    assert set(ids[3:]) <= set(range(15, 20))
    np.testing.assert_array_equal(s.target_test.y, [0, 1, 1])
    again = split_tasks(train, test, 4, (0, 2), 3, seed=0)
    np.testing.assert_array_equal(again.target_train.x, s.target_train.x)


@pytest.mark.parametrize(
    ("source", "per_class", "match"),
    [
        ((0, 1), 6, "per_class=6; class 2 has only 5"),
        ((0, 4), 1, "expected class ids below num_classes=4"),
        ((0, 1, 2, 3), 1, "leaves no target class"),
    ],
)
def test_split_tasks_errors(source, per_class, match):
    train = _toy_split(np.repeat(np.arange(4), 5))
    with pytest.raises(ValueError, match=match):
        split_tasks(train, train, 4, source, per_class, 0)
