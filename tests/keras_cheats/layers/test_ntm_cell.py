"""keras_cheats.layers.ntm_cell: states, argument checks, round trips."""

import keras
import numpy as np
import pytest

from keras_cheats.layers.ntm_cell import MEMORY_INIT, NTMCell
from keras_cheats.models import ntm


def small_cell(**kwargs):
    args = dict(units=6, memory_rows=5, memory_width=3, read_heads=2)
    return NTMCell(**{**args, **kwargs})


def test_one_step_keeps_weightings_normalized_and_shapes():
    cell = small_cell()
    states = cell.get_initial_state(batch_size=4)
    np.testing.assert_allclose(np.asarray(states[2]), MEMORY_INIT)
    x = np.random.default_rng(0).normal(size=(4, 7)).astype(np.float32)
    out, new = cell(x, states)
    assert out.shape == (4, 6 + 2 * 3)
    assert [tuple(s.shape) for s in new] == [
        (4, 6), (4, 6), (4, 15), (4, 6), (4, 10), (4, 5)
    ]  # fmt: skip
    read_w = np.asarray(new[4]).reshape(4, 2, 5)
    np.testing.assert_allclose(read_w.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(new[5]).sum(-1), 1.0, atol=1e-5)
    # The output ends with the reads: r = w^T M of the new memory.
    memory = np.asarray(new[2]).reshape(4, 5, 3)
    reads = np.einsum("bhn,bnm->bhm", read_w, memory).reshape(4, 6)
    np.testing.assert_allclose(np.asarray(out)[:, 6:], reads, atol=1e-6)


def test_arguments_are_checked_by_name():
    with pytest.raises(ValueError, match="units=0"):
        NTMCell(0)
    with pytest.raises(ValueError, match="memory_rows=-1"):
        NTMCell(4, memory_rows=-1)
    with pytest.raises(ValueError, match="shift_range=3; expected 2"):
        NTMCell(4, memory_rows=5, shift_range=3)


def test_get_config_round_trip():
    cell = small_cell(shift_range=2, name="mem")
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(cell)
    )
    assert isinstance(again, NTMCell)
    assert again.get_config() == cell.get_config()


def test_saved_model_gives_the_same_outputs(tmp_path):
    model = ntm.build_ntm(3, 2, units=5, memory_rows=6, memory_width=4)
    x = np.random.default_rng(1).normal(size=(2, 9, 3)).astype(np.float32)
    path = tmp_path / "ntm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("memory").cell, NTMCell)
    np.testing.assert_allclose(
        np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6
    )
