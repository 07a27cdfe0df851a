import importlib
import math

import numpy as np
import pytest

from keras_cheats.losses.clip import CLIPLoss, clip_loss
from tests.keras_cheats.losses import helpers

module = importlib.import_module("keras_cheats.losses.clip")


def oracle(logits, labels, targets):
    """Symmetric InfoNCE written from Radford et al. 2021, loop by loop,
    in float64, with the label-aware target spread over same-class
    pairs."""
    s = np.asarray(logits, np.float64)
    n = len(s)

    def ce(scores, target):
        lse = math.log(sum(math.exp(v) for v in scores))
        return -sum(t * (v - lse) for t, v in zip(target, scores))

    def target(i):
        if targets == "pairs":
            return [float(j == i) for j in range(n)]
        same = [float(labels[j] == labels[i]) for j in range(n)]
        return [v / sum(same) for v in same]

    return np.array([
        0.5 * (ce(s[i, :], target(i)) + ce(s[:, i], target(i)))
        for i in range(n)
    ])  # fmt: skip


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed():
    s = [[1.0, 0.0], [0.0, 1.0]]
    # Distinct labels: each direction is -log(e / (e + 1)) = log(1 + 1/e).
    np.testing.assert_allclose(
        clip_loss([0, 1], s), [math.log(1 + 1 / math.e)] * 2, rtol=1e-6
    )
    # One class: target (1/2, 1/2), cost log(e + 1) - (1 + 0) / 2.
    np.testing.assert_allclose(
        clip_loss([4, 4], s), [math.log(math.e + 1) - 0.5] * 2, rtol=1e-6
    )
    # The identity target ignores the labels.
    np.testing.assert_allclose(
        clip_loss([4, 4], s, targets="pairs"),
        [math.log(1 + 1 / math.e)] * 2,
        rtol=1e-6,
    )
    # Asymmetric logits: row 0 is (2, 0), column 0 is (2, 1).
    s = [[2.0, 0.0], [1.0, 3.0]]
    row0 = math.log(1 + math.exp(-2))
    col0 = math.log(1 + math.exp(-1))
    assert float(clip_loss([0, 1], s)[0]) == pytest.approx(
        0.5 * (row0 + col0), rel=1e-6
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("targets", ["labels", "pairs"])
def test_matches_numpy_oracle(seed, targets):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    logits = rng.normal(0, 5, (n, n)).astype(np.float32)
    labels = rng.integers(0, 3, n)
    np.testing.assert_allclose(
        clip_loss(labels, logits, targets),
        oracle(logits, labels, targets),
        rtol=1e-5,
        atol=1e-5,
    )


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    labels = np.array([0, 1, 0, 2])
    helpers.check_gradient(
        lambda s: clip_loss(labels, s), rng.normal(size=(4, 4))
    )


def test_same_class_pairs_are_not_negatives():
    # Two images of one class, each matching the other's caption as well
    # as its own: the label-aware loss is at its minimum for these logits
    # (log 2, a uniform target met by a uniform softmax), while CLIP's
    # identity target still pays for the "negative" of the same class.
    s = [[5.0, 5.0], [5.0, 5.0]]
    np.testing.assert_allclose(clip_loss([1, 1], s), [math.log(2)] * 2)
    np.testing.assert_allclose(
        clip_loss([1, 1], s, targets="pairs"), [math.log(2)] * 2
    )
    labels_grad = helpers.value_and_grad(lambda x: clip_loss([1, 1], x), s)[1]
    pairs_grad = helpers.value_and_grad(
        lambda x: clip_loss([1, 1], x, targets="pairs"), s
    )[1]
    np.testing.assert_allclose(labels_grad, 0.0, atol=1e-7)
    assert np.asarray(pairs_grad)[0, 1] > 0  # pushes the pair apart


def test_class_round_trip_and_errors():
    clone = helpers.assert_config_round_trip(CLIPLoss(targets="pairs"))
    assert clone.targets == "pairs"
    s = [[1.0, 0.0], [0.0, 1.0]]
    assert float(CLIPLoss()([0, 1], s)) == pytest.approx(
        math.log(1 + 1 / math.e), rel=1e-6
    )
    with pytest.raises(ValueError, match="targets"):
        CLIPLoss(targets="classes")
    with pytest.raises(ValueError, match=r"\(N, N\)"):
        clip_loss([0, 1], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
