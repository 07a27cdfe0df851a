"""keras_cheats.models.reinforcement: the Q-network, the actor-critic,
the target network's hard and Polyak updates, the NumPy forward pass."""

import keras
import numpy as np
import pytest

from keras_cheats.models.reinforcement import (
    build_actor_critic,
    build_q_network,
    numpy_forward,
    update_target,
)


def test_q_network_outputs_one_value_per_action_and_numpy_agrees():
    model = build_q_network((4,), 3, hidden_units=(8, 8))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    q = model(x)
    assert q.shape == (5, 3)
    np.testing.assert_allclose(
        numpy_forward(model.get_weights(), x), q, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("shared", [True, False])
def test_actor_critic_heads_and_a_save_load_round_trip(tmp_path, shared):
    model = build_actor_critic((4,), 2, (8,), shared_torso=shared)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    out = model(x)
    assert out["logits"].shape == (3, 2) and out["value"].shape == (3,)
    # One torso under both heads, or two torsos: 1 or 2 hidden layers.
    hidden = [layer for layer in model.layers if "hidden" in layer.name]
    assert len(hidden) == (1 if shared else 2)
    path = tmp_path / "actor_critic.keras"
    model.save(path)
    again = keras.saving.load_model(path)(x)
    for key in ("logits", "value"):
        np.testing.assert_allclose(again[key], out[key], rtol=1e-6)


def test_target_network_hard_copy_and_polyak_average():
    online = build_q_network((4,), 2, (8,))
    target = build_q_network((4,), 2, (8,))
    before = [w.copy() for w in target.get_weights()]
    theta = online.get_weights()
    update_target(target, online, tau=0.25)
    for t, b, o in zip(target.get_weights(), before, theta, strict=True):
        np.testing.assert_allclose(t, 0.25 * o + 0.75 * b, rtol=1e-5, atol=1e-7)
    update_target(target, online)  # tau = 1: a copy
    for t, o in zip(target.get_weights(), theta, strict=True):
        np.testing.assert_array_equal(t, o)
    with pytest.raises(ValueError, match="tau=0"):
        update_target(target, online, tau=0)
    with pytest.raises(ValueError, match="same architecture"):
        update_target(build_q_network((4,), 3, (8,)), online)
