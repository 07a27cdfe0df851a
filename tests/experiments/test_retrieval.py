"""`experiments.retrieval.recall_at_k`: hand-computed cases, a brute-force
NumPy oracle, and errors."""

import numpy as np
import pytest

from experiments.retrieval import recall_at_k


def test_hand_built_points_on_a_line():
    # Points 0, 1, 4, 6 with labels 0, 0, 1, 0. Neighbours in order:
    # 0 -> 1, 4, 6 (hit at 1); 1 -> 0, 4, 6 (hit at 1);
    # 4 -> 6, 1, 0 (label 1 has no other member: never a hit);
    # 6 -> 4, 1, 0 (miss at 1, hit at 2).
    x, y = [[0.0], [1.0], [4.0], [6.0]], [0, 0, 1, 0]
    assert recall_at_k(x, y, ks=(1, 2, 3)) == {
        "recall@1": 2 / 4,
        "recall@2": 3 / 4,
        "recall@3": 3 / 4,
    }


def test_hand_built_2d_and_the_query_never_finds_itself():
    # Two tight pairs far apart, labels crossed in one of them:
    # (0,0) a, (0,1) a, (10,0) b, (10,1) c. Without excluding the query
    # itself (distance 0) every recall would be 1.
    x = np.array([[0, 0], [0, 1], [10, 0], [10, 1]], np.float32)
    result = recall_at_k(x, np.array([0, 0, 1, 2]), ks=(1, 3))
    assert result == {"recall@1": 0.5, "recall@3": 0.5}


def test_ties_go_to_the_lower_index():
    # Query 0 at 0.0 is 1.0 from both 1 (label 1) and 2 (label 0): the
    # lower index, 1, is its nearest, a miss. Query 1 at -1 finds 0 (miss);
    # query 2 at +1 finds 0 (hit).
    x, y = [[0.0], [-1.0], [1.0]], [0, 1, 0]
    assert recall_at_k(x, y, ks=(1,)) == {"recall@1": 1 / 3}


def _brute_force(x, y, k):
    """Each query: exact distances to the others, sorted, k nearest."""
    x = x.reshape(len(x), -1).astype(np.float64)
    hits = 0
    for i in range(len(x)):
        others = [j for j in range(len(x)) if j != i]
        d = [np.linalg.norm(x[i] - x[j]) for j in others]
        nearest = [others[j] for j in np.argsort(d, kind="stable")[:k]]
        hits += any(y[j] == y[i] for j in nearest)
    return hits / len(x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_over_random_sets_and_chunks(seed):
    rng = np.random.default_rng(seed)
    n, d = rng.integers(8, 40), rng.integers(1, 6)
    x = rng.normal(size=(n, d))
    y = rng.integers(0, 4, size=n)
    ks = (1, 2, 5)
    expected = {f"recall@{k}": _brute_force(x, y, k) for k in ks}
    assert recall_at_k(x, y, ks) == pytest.approx(expected, abs=1e-12)
    # Any chunking gives the same counts.
    assert recall_at_k(x, y, ks, chunk_size=3) == recall_at_k(x, y, ks)


def test_images_are_flattened_and_scale_does_not_matter():
    rng = np.random.default_rng(3)
    images = rng.random((30, 4, 4, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=30)
    flat = recall_at_k(images.reshape(30, 16), y)
    assert recall_at_k(images, y) == flat
    assert recall_at_k(images * 7.0, y) == flat
    assert set(flat) == {"recall@1", "recall@5"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(embeddings=[1.0, 2.0]), r"embeddings has shape \(2,\)"),
        (dict(embeddings=[[1.0]], labels=[0]), "N >= 2"),
        (dict(labels=[0, 1]), r"labels has shape \(2,\); expected \(3,\)"),
        (dict(ks=(0,)), r"k=0; expected 1 <= k <= N - 1 = 2"),
        (dict(ks=(3,)), r"k=3; expected 1 <= k <= N - 1 = 2"),
        (dict(ks=(1.0,)), "k=1.0; expected integers"),
        (dict(ks=()), "at least one k"),
        (dict(chunk_size=0), "chunk_size=0"),
        (dict(embeddings=[[0.0], [np.nan], [1.0]]), "NaN or inf"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    args = dict(embeddings=[[0.0], [1.0], [2.0]], labels=[0, 1, 0], ks=(1, 2))
    with pytest.raises(ValueError, match=message):
        recall_at_k(**{**args, **kwargs})
