"""experiments.episodes: the episode sampler, nearest prototypes, the
confidence interval and the picture's cells."""

import numpy as np
import pytest

from experiments import data as data_lib
from experiments import episodes as ep


def _labels():
    return np.repeat(np.arange(10), 30)[
        np.random.default_rng(0).permutation(300)
    ]


def test_episodes_hold_exact_class_sets_and_disjoint_rows():
    labels = _labels()
    e = ep.sample_episodes(labels, (5, 6, 7, 8, 9), 3, 2, 4, 50, seed=1)
    assert e.index.shape == (50, 3 * (2 + 4)) and e.classes.shape == (50, 3)
    assert e.support().shape == (50, 3, 2) and e.query().shape == (50, 12)
    for i in range(50):
        assert len(set(e.classes[i])) == 3
        assert set(e.classes[i]) <= {5, 6, 7, 8, 9}
        assert len(set(e.index[i])) == e.index.shape[1]  # all distinct
        # Each support row and query is of the class its label names.
        np.testing.assert_array_equal(
            labels[e.support()[i]], np.repeat(e.classes[i][:, None], 2, 1)
        )
        np.testing.assert_array_equal(
            labels[e.query()[i]], e.classes[i][e.query_labels()]
        )
    np.testing.assert_array_equal(
        ep.episode_labels(3, 2, 4),
        [0, 0, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
    )
    # Over many episodes every allowed class is drawn, and no other.
    assert set(e.classes.ravel()) == {5, 6, 7, 8, 9}


def test_episodes_are_a_function_of_the_seed():
    labels = _labels()
    a = ep.sample_episodes(labels, range(5), 5, 1, 3, 20, seed=7)
    b = ep.sample_episodes(labels, range(5), 5, 1, 3, 20, seed=7)
    c = ep.sample_episodes(labels, range(5), 5, 1, 3, 20, seed=8)
    np.testing.assert_array_equal(a.index, b.index)
    assert not np.array_equal(a.index, c.index)


def test_pipeline_respects_the_split_and_resumes_exactly():
    split = data_lib.load_splits("digits")[0]
    pipe = ep.EpisodePipeline(
        split.x, split.y, (0, 1, 2, 3, 4), 5, 2, 3, episodes_per_epoch=6,
        seed=3,
    )  # fmt: skip
    epoch1 = list(pipe(1))
    assert len(epoch1) == 6
    images, labels = epoch1[0]
    assert images.shape == (25, *split.x.shape[1:])
    np.testing.assert_array_equal(labels, ep.episode_labels(5, 2, 3))
    index = pipe.episodes(1).index
    assert set(split.y[index.ravel()]) <= {0, 1, 2, 3, 4}
    np.testing.assert_array_equal(images, split.x[index[0]])
    # A run resumed at episode 4 of epoch 1 sees the same episodes.
    resumed = list(pipe(1, 4))
    assert len(resumed) == 2
    np.testing.assert_array_equal(resumed[0][0], epoch1[4][0])
    assert not np.array_equal(pipe.episodes(2).index, index)


def test_sampler_errors_name_the_problem():
    labels = _labels()
    with pytest.raises(ValueError, match="n_way=4 but only 3 classes"):
        ep.sample_episodes(labels, (1, 2, 3), 4, 1, 1, 1, 0)
    with pytest.raises(ValueError, match="n_shot \\+ n_query = 31"):
        ep.sample_episodes(labels, (1, 2, 3), 3, 1, 30, 1, 0)


def test_nearest_prototype_by_hand():
    # Two classes, one shot: features 0 and 10 are the prototypes; the
    # queries at 4 and 6 go to class 0 and class 1.
    features = np.array([[0.0], [10.0], [4.0], [6.0]])
    e = ep.Episodes(np.array([[0, 1, 2, 3], [1, 0, 2, 3]]),
                    np.array([[0, 1], [1, 0]]), 2, 1, 1)  # fmt: skip
    np.testing.assert_array_equal(
        ep.nearest_prototype(features, e), [[0, 1], [1, 0]]
    )
    # Episode 0: both right; episode 1 swaps the support: both wrong.
    np.testing.assert_array_equal(
        ep.nearest_prototype_accuracy(features, e), [1.0, 0.0]
    )


def test_confidence_interval_by_hand():
    # [0.5, 0.7, 0.9, 0.7]: mean 0.7, sample std sqrt(0.08 / 3) = 0.16330;
    # 1.96 * 0.16330 / sqrt(4) = 0.16003.
    mean, ci = ep.mean_ci95([0.5, 0.7, 0.9, 0.7])
    assert mean == pytest.approx(0.7)
    assert ci == pytest.approx(0.160033, rel=1e-5)
    assert ep.mean_ci95([1.0, 1.0]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="1-D array of >= 2"):
        ep.mean_ci95([0.5])


def test_episode_cells_place_queries_under_their_prediction():
    x = np.zeros((4, 2, 2, 1), np.float32)
    e = ep.Episodes(np.array([[0, 1, 2, 3]]), np.array([[0, 1]]), 2, 1, 1)
    cells = ep.episode_cells(x, e, np.array([[1, 1]]), 0, queries=1)
    # Row 0: the support; then both queries in column 1, column 0 blank.
    assert len(cells) == 2 + 2 * 2
    assert cells[0].shape == (4, 4, 3)
    np.testing.assert_allclose(cells[3][0, 0], ep.WRONG)  # query 0 -> 1
    np.testing.assert_allclose(cells[5][0, 0], ep.RIGHT)  # query 1 -> 1
    np.testing.assert_allclose(cells[4], 1.0)  # blank
