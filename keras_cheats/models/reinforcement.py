"""Networks of cheat sheet 7.8: a Q-network and an actor-critic.

- `build_q_network`: s -> Q(s, .), one value per action (7.8.1, DQN).
- `build_actor_critic`: s -> {"logits": policy logits (B, A), "value":
  V(s) (B,)} (7.8.2): the policy head and the value head sit on one
  shared torso, or each on a torso of its own (`shared_torso=False`, so
  the critic's squared error does not pull on the policy's features).
- `update_target`: the DQN target network, a hard copy (tau = 1) every C
  steps or Polyak averaging theta' <- tau theta + (1 - tau) theta'.
- `numpy_forward`: a Dense-ReLU stack's forward pass in NumPy, to act at
  each environment step without a TensorFlow call.
"""

import keras
import numpy as np

from keras_cheats import checks


def _torso(x, hidden_units, prefix):
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"{prefix}{i}")(x)
    return x


def build_q_network(observation_shape, num_actions, hidden_units=(64, 64)):
    """An MLP with a linear output per action: Q(s, a) for every a.

    Args:
        observation_shape: shape of one state, e.g. (4,).
        num_actions: A, >= 1.
        hidden_units: units of the ReLU hidden layers.

    Returns:
        a `keras.Model` mapping (B, *observation_shape) to (B, A).
    """
    shape = checks.input_shape(observation_shape)
    checks.positive_int("num_actions", num_actions)
    units = checks.positive_ints("hidden_units", hidden_units)
    inputs = keras.Input(shape)
    x = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    x = _torso(x, units, "hidden_")
    q = keras.layers.Dense(num_actions, name="q_values")(x)
    return keras.Model(inputs, q, name="q_network")


def build_actor_critic(
    observation_shape, num_actions, hidden_units=(64, 64), shared_torso=False
):
    """A policy head (logits) and a value head V(s).

    Args:
        observation_shape: shape of one state, e.g. (4,).
        num_actions: A, >= 1.
        hidden_units: units of the ReLU hidden layers of each torso.
        shared_torso: one torso under both heads, or one torso each.

    Returns:
        a `keras.Model` mapping (B, *observation_shape) to {"logits":
        (B, A), "value": (B,)}.
    """
    shape = checks.input_shape(observation_shape)
    checks.positive_int("num_actions", num_actions)
    units = checks.positive_ints("hidden_units", hidden_units)
    if not isinstance(shared_torso, bool):
        raise ValueError(
            f"`shared_torso` must be True or False; received "
            f"shared_torso={shared_torso!r}."
        )
    inputs = keras.Input(shape)
    x = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    if shared_torso:
        policy_x = value_x = _torso(x, units, "shared_hidden_")
    else:
        policy_x = _torso(x, units, "policy_hidden_")
        value_x = _torso(x, units, "value_hidden_")
    logits = keras.layers.Dense(num_actions, name="logits")(policy_x)
    value = keras.layers.Dense(1, name="value_linear")(value_x)
    value = keras.layers.Reshape((), name="value")(value)  # (B, 1) -> (B,)
    return keras.Model(
        inputs, {"logits": logits, "value": value}, name="actor_critic"
    )


def update_target(target, online, tau=1.0):
    """theta' <- tau theta + (1 - tau) theta', variable by variable.

    tau = 1 is DQN's hard copy (made every C steps); a small tau (0.005)
    at every step is Polyak averaging.

    Args:
        target: the target network (same architecture as `online`).
        online: the network being trained.
        tau: in (0, 1].
    """
    tau = checks.interval("tau", tau, 0.0, 1.0, low_open=True)
    pairs = list(zip(target.weights, online.weights, strict=True))
    for t, o in pairs:
        if t.shape != o.shape:
            raise ValueError(
                f"target weight {t.path} has shape {t.shape} and online "
                f"weight {o.path} {o.shape}; expected the same architecture"
            )
    for t, o in pairs:
        t.assign(o if tau == 1.0 else tau * o + (1.0 - tau) * t)


def numpy_forward(weights, x):
    """A Dense-ReLU stack with a linear last layer, in NumPy.

    Args:
        weights: [kernel_0, bias_0, kernel_1, bias_1, ...], as
            `build_q_network(...).get_weights()` lists them.
        x: (B, D) inputs.

    Returns:
        (B, units of the last layer) float32 outputs.
    """
    x = np.asarray(x, np.float32)
    layers = list(zip(weights[::2], weights[1::2]))
    for i, (kernel, bias) in enumerate(layers):
        x = x @ kernel + bias
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x
