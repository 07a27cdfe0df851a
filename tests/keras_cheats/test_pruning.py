import keras
import numpy as np
import pytest

import keras_cheats.pruning as module
from keras_cheats import pruning
from tests.keras_cheats.losses import helpers


def test_docstring_examples():
    helpers.run_doctests(module)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_masks_hit_the_sparsity_exactly(sparsity, scope):
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(7, 5)), rng.normal(size=(3, 3, 2)), [0.1] * 9]
    masks = pruning.magnitude_masks(weights, sparsity, scope)
    assert [m.shape for m in masks] == [np.shape(w) for w in weights]
    assert all(set(np.unique(m)) <= {0.0, 1.0} for m in masks)
    if scope == "global":
        n = sum(np.size(w) for w in weights)
        assert sum(m.size - m.sum() for m in masks) == round(sparsity * n)
    else:
        for w, m in zip(weights, masks):
            assert m.size - m.sum() == round(sparsity * np.size(w))


def test_ties_still_give_exact_counts():
    # Ten equal magnitudes (signs differ): 40% pruned is 4 zeros, not 0 or 10.
    weights = [np.array([1.0, -1.0] * 5)]
    (mask,) = pruning.magnitude_masks(weights, 0.4)
    assert mask.sum() == 6


def test_smallest_magnitudes_go_first():
    small, large = np.array([0.1, -0.2, 0.05]), np.array([5.0, -4.0, 3.0])
    g_small, g_large = pruning.magnitude_masks([small, large], 0.5)
    assert g_small.sum() == 0 and g_large.sum() == 3  # one global threshold
    l_small, l_large = pruning.magnitude_masks([small, large], 0.5, "layer")
    # round(1.5) = 2 per array: the two smallest of each.
    assert l_small.tolist() == [0.0, 1.0, 0.0]
    assert l_large.tolist() == [1.0, 0.0, 0.0]


def test_apply_masks_zeroes_kernels_only():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    variables = pruning.prunable_variables(model)
    assert [v.path for v in variables] == [model.layers[0].kernel.path]
    masks = pruning.magnitude_masks([v.numpy() for v in variables], 0.75)
    pruning.apply_masks(variables, masks)
    assert pruning.sparsity_of([variables[0].numpy()]) == 0.75
    np.testing.assert_array_equal(variables[0].numpy() == 0, masks[0] == 0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sparsity=1.5"):
        pruning.magnitude_masks([np.ones(3)], 1.5)
    with pytest.raises(ValueError, match="scope='row'"):
        pruning.magnitude_masks([np.ones(3)], 0.5, "row")
