import numpy as np
import pytest

import keras_cheats.losses.prototypical as module
from keras_cheats.losses.prototypical import (
    PrototypicalLoss,
    prototypical_logits,
    prototypical_loss,
)
from tests.keras_cheats.losses import helpers

# Two classes, two shots: prototypes (1, 0) and (0, 3).
SUPPORT = [[[0.0, 0.0], [2.0, 0.0]], [[0.0, 2.0], [0.0, 4.0]]]


def _oracle(support, query, labels):
    """The formula in float64 NumPy, loops over episodes and queries."""
    support, query = np.asarray(support, np.float64), np.asarray(query)
    lead = support.shape[:-3]
    s = support.reshape(-1, *support.shape[-3:])
    q = query.reshape(-1, *query.shape[-2:]).astype(np.float64)
    y = np.asarray(labels).reshape(len(s), -1)
    out = np.zeros(y.shape)
    for e in range(len(s)):
        c = s[e].mean(axis=1)  # (N, D)
        for m in range(q.shape[1]):
            logits = -((q[e, m] - c) ** 2).sum(axis=1)
            top = logits.max()  # log-sum-exp, stable
            log_p = logits - top - np.log(np.exp(logits - top).sum())
            out[e, m] = -log_p[y[e, m]]
    return out.reshape(*lead, -1)


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed_two_way():
    # Query (1, 1): squared distances 1 to c_0 = (1, 0), 5 to c_1 = (0, 3).
    np.testing.assert_allclose(
        prototypical_logits(SUPPORT, [[1.0, 1.0]]), [[-1.0, -5.0]]
    )
    got = prototypical_loss(SUPPORT, [[1.0, 1.0], [1.0, 1.0]], [0, 1])
    np.testing.assert_allclose(
        got, [np.log1p(np.exp(-4.0)), np.log1p(np.exp(4.0))], rtol=1e-5
    )
    # A query on a prototype, far from the other: loss ~ 0, finite.
    far = prototypical_loss(SUPPORT, [[0.0, 3.0]], [1])
    assert 0.0 <= float(far[0]) < 1e-3


# (episode batch axes, N, K, M, D).
SHAPES = [((), 2, 1, 1, 1), ((), 5, 3, 7, 4), ((3,), 4, 2, 5, 3),
          ((2, 2), 3, 5, 2, 6)]  # fmt: skip


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for lead, n, k, m, d in SHAPES:
            support = rng.normal(size=(*lead, n, k, d)) * 2
            query = rng.normal(size=(*lead, m, d)) * 2
            labels = rng.integers(0, n, (*lead, m))
            got = prototypical_loss(
                support.astype(np.float32), query.astype(np.float32), labels
            )
            assert got.shape == (*lead, m)
            np.testing.assert_allclose(
                got, _oracle(support, query, labels), rtol=1e-4, atol=1e-5
            )


def test_class_is_the_mean_over_queries_in_any_support_order():
    rng = np.random.default_rng(3)
    n, k, m, d = 3, 2, 4, 5
    support = rng.normal(size=(n, k, d)).astype(np.float32)
    query = rng.normal(size=(m, d)).astype(np.float32)
    q_labels = rng.integers(0, n, m)
    want = _oracle(support, query, q_labels)
    rows = np.concatenate([support.reshape(n * k, d), query])
    labels = np.concatenate([np.repeat(np.arange(n), k), q_labels])
    loss = PrototypicalLoss(n, k)
    np.testing.assert_allclose(loss(labels, rows), want.mean(), rtol=1e-5)
    per_row = PrototypicalLoss(n, k, reduction=None)(labels, rows)
    assert per_row.shape == (n * k + m,)
    np.testing.assert_array_equal(per_row[: n * k], 0.0)
    # Shuffling the support rows (with their labels) changes nothing.
    perm = rng.permutation(n * k)
    rows2 = np.concatenate([rows[: n * k][perm], query])
    labels2 = np.concatenate([labels[: n * k][perm], q_labels])
    np.testing.assert_allclose(loss(labels2, rows2), want.mean(), rtol=1e-5)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    support = rng.normal(size=(3, 2, 2))
    query = rng.normal(size=(4, 2))
    labels = rng.integers(0, 3, 4)
    helpers.check_gradient(
        lambda q: prototypical_loss(support.astype(np.float32), q, labels),
        query,
    )


def test_config_round_trip_and_fit_save_load(tmp_path):
    import keras

    loss = PrototypicalLoss(n_way=3, n_shot=2, name="proto")
    clone = helpers.assert_config_round_trip(loss)
    assert (clone.n_way, clone.n_shot) == (3, 2)
    rng = np.random.default_rng(5)
    y = np.concatenate([np.repeat(np.arange(3), 2), rng.integers(0, 3, 9)])
    x = (rng.normal(size=(15, 4)) + 2 * y[:, None]).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    helpers.fit_save_load(loss, model, x, y, tmp_path)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n_way=1; expected an integer >= 2"):
        PrototypicalLoss(n_way=1, n_shot=1)
    with pytest.raises(ValueError, match="n_shot=0"):
        PrototypicalLoss(n_way=2, n_shot=0)
