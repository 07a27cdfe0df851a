import importlib
import math

import keras
import numpy as np
import pytest

from keras_cheats.losses.nt_xent import NTXent, nt_xent
from tests.keras_cheats.losses import helpers

# The package exports the function under the module's name, so
# `import keras_cheats.losses.nt_xent as m` would bind the function.
module = importlib.import_module("keras_cheats.losses.nt_xent")


def oracle(z, tau):
    """NT-Xent written from Chen et al. 2020, loop by loop, in float64."""
    n = len(z)
    views = np.concatenate([z[:, 0], z[:, 1]]).astype(np.float64)  # (2N, d)
    unit = views / np.linalg.norm(views, axis=1, keepdims=True)

    def sim(i, k):
        return unit[i] @ unit[k] / tau

    def loss(i, j):
        others = sum(math.exp(sim(i, k)) for k in range(2 * n) if k != i)
        return -math.log(math.exp(sim(i, j)) / others)

    return np.array([(loss(i, n + i) + loss(n + i, i)) / 2 for i in range(n)])


def test_docstring_examples():
    helpers.run_doctests(module)


def test_hand_computed_two_pairs():
    # Pair 0: both views (1, 0); pair 1: (0, 1) and (0, -1). Every view
    # sees two negatives at similarity 0. Pair 0's positive is at 1:
    # -log(e / (e + 2)) = log(1 + 2/e); pair 1's at -1: log(1 + 2e).
    z = [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, -1.0]]]
    np.testing.assert_allclose(
        nt_xent(None, z, temperature=1.0),
        [math.log(1 + 2 / math.e), math.log(1 + 2 * math.e)],
        rtol=1e-6,
    )
    # tau = 0.5 doubles every logit: log(1 + 2 e^-2), log(1 + 2 e^2).
    np.testing.assert_allclose(
        nt_xent(None, z, temperature=0.5),
        [math.log(1 + 2 * math.exp(-2)), math.log(1 + 2 * math.exp(2))],
        rtol=1e-6,
    )
    # One pair: no negatives, the positive is the whole sum: loss 0.
    np.testing.assert_allclose(nt_xent(None, [[[1.0, 2.0], [3.0, 1.0]]]), [0])
    # The class's default reduction is the mean over pairs.
    np.testing.assert_allclose(
        NTXent(temperature=1.0)(np.zeros(2), z),
        (math.log(1 + 2 / math.e) + math.log(1 + 2 * math.e)) / 2,
        rtol=1e-6,
    )


def test_matches_numpy_oracle():
    for seed in [0, 1, 2]:
        rng = np.random.default_rng(seed)
        for n, d in [(2, 3), (5, 8), (9, 2)]:
            for tau in [0.1, 0.5, 2.0]:
                z = rng.normal(size=(n, 2, d)).astype(np.float32)
                np.testing.assert_allclose(
                    nt_xent(None, z, tau), oracle(z, tau), rtol=1e-4
                )


def test_invariant_to_the_scale_of_each_projection():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 2, 5)).astype(np.float32)
    scale = rng.uniform(0.01, 100.0, size=(6, 2, 1)).astype(np.float32)
    np.testing.assert_allclose(
        nt_xent(None, z * scale), nt_xent(None, z), rtol=1e-5
    )


def test_gradients_and_aligned_views():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(3, 2, 4))
    helpers.check_gradient(lambda v: nt_xent(None, v, 0.5), z)
    # Pulling each pair together lowers the loss; float16 input is fine.
    together = np.stack([z[:, 0], z[:, 0] + 0.1 * z[:, 1]], axis=1)
    assert float(np.sum(nt_xent(None, together))) < float(
        np.sum(nt_xent(None, z))
    )
    value, grad = helpers.value_and_grad(
        lambda v: nt_xent(None, v, 0.05), z.astype(np.float16)
    )
    helpers.assert_finite(value, grad)


def test_serialization_round_trip():
    loss = NTXent(temperature=0.2, name="simclr", reduction="sum")
    clone = helpers.assert_config_round_trip(loss)
    assert clone.get_config()["temperature"] == 0.2
    revived = keras.losses.deserialize(keras.losses.serialize(loss))
    z = np.random.default_rng(5).normal(size=(4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(
        revived(np.zeros(4), z), loss(np.zeros(4), z), rtol=1e-6
    )


@pytest.mark.parametrize("temperature", [0, -0.5, float("nan"), "warm"])
def test_bad_temperature_is_refused(temperature):
    with pytest.raises(ValueError, match="`temperature` must be a number in"):
        NTXent(temperature=temperature)
    with pytest.raises(ValueError, match="temperature="):
        nt_xent(None, np.ones((2, 2, 3)), temperature)


def test_bad_layout_is_refused():
    with pytest.raises(ValueError, match=r"shape \(N, 2, d\).*\(4, 3, 5\)"):
        nt_xent(None, np.ones((4, 3, 5)))
    with pytest.raises(ValueError, match=r"shape \(N, 2, d\)"):
        nt_xent(None, np.ones((4, 10)))
