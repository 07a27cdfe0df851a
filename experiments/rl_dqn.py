"""Deep Q-learning (cheat sheet 7.8.1) on a gymnasium environment.

The agent acts epsilon-greedily on Q(s, .) (a NumPy forward pass of the
online network), stores each transition in a replay buffer, and every
`train_every` environment steps runs `gradient_steps` steps of
`dqn_task` on batches drawn from the buffer, in one compiled call:

    y = r + gamma (1 - done) max_a' Q_target(s', a')
    L = Huber(y - Q(s, a))                       (section 4.7)

The target network stays fixed within a call; it becomes a copy of the
online network every `target_update` gradient steps (checked after each
call), or with `tau` < 1 moves towards it after each call (Polyak).
"""

import time

import keras
import numpy as np
import tensorflow as tf

import loops
from experiments import rl_common
from keras_cheats.exploration import epsilon_greedy, linear_epsilon
from keras_cheats.losses import reinforcement
from keras_cheats.models.reinforcement import (
    build_q_network,
    numpy_forward,
    update_target,
)
from keras_cheats.replay import ReplayBuffer
from loops import step as step_lib


def dqn_task(target, gamma, delta=1.0, clip_norm=None):
    """A `loops.Task` whose step is `loops.step.train_step` on the TD
    targets of a batch (s, a, r, s', done), computed with `target`."""

    def per_example(y_true, q_values):
        targets, actions = y_true
        return reinforcement.dqn_loss(targets, q_values, actions, delta)

    loss_fn = loops.replica_loss(per_example)

    def train_step(model, optimizer, batch):
        states, actions, rewards, next_states, dones = batch
        next_q = target(next_states, training=False)  # (B, A)
        targets = reinforcement.td_target(rewards, dones, next_q, gamma)
        return step_lib.train_step(
            model,
            optimizer,
            (states, (targets, actions)),
            loss_fn=loss_fn,
            clip_norm=clip_norm,
        )

    return loops.Task(train_step=train_step)


def run(config, seed, log):
    """Trains one DQN agent until `log` says solved or `config.episodes`
    episodes have ended.

    Returns:
        {"env_steps", "gradient_steps", "seconds", "loss": the mean
        Huber loss of each compiled call}.
    """
    loops.seed_everything(seed)
    env, state = rl_common.make_env(config.env, seed)
    shape, num_actions = rl_common.check_discrete(env)
    online = build_q_network(shape, num_actions, config.dqn_hidden_units)
    target = build_q_network(shape, num_actions, config.dqn_hidden_units)
    update_target(target, online)
    specs = (
        tf.TensorSpec([None, *shape], tf.float32),  # s
        tf.TensorSpec([None], tf.int32),  # a
        tf.TensorSpec([None], tf.float32),  # r
        tf.TensorSpec([None, *shape], tf.float32),  # s'
        tf.TensorSpec([None], tf.float32),  # done
    )
    steps = rl_common.CompiledSteps(
        online,
        keras.optimizers.Adam(config.dqn_learning_rate),
        dqn_task(
            target,
            config.gamma,
            config.huber_delta,
            config.dqn_clip_norm or None,
        ),
        specs,
    )
    buffer = ReplayBuffer(config.buffer_size, shape, seed=seed)
    rng = np.random.default_rng(seed)
    weights = online.get_weights()
    start = time.perf_counter()
    t = gradient_steps = last_copy = 0
    episode_return, losses = 0.0, []
    while len(log.returns) < config.episodes and log.solved_at is None:
        epsilon = linear_epsilon(
            t, config.epsilon_start, config.epsilon_end, config.epsilon_decay
        )
        q = numpy_forward(weights, state[None])[0]
        action = epsilon_greedy(q, epsilon, rng)
        next_state, reward, terminated, truncated, _ = env.step(action)
        # done = terminated: a time limit (truncated) still bootstraps.
        buffer.add(state, action, reward, next_state, terminated)
        episode_return += reward
        state, t = next_state, t + 1
        if terminated or truncated:
            log.add(episode_return)
            episode_return = 0.0
            state, _ = env.reset()
        if t >= config.learning_starts and t % config.train_every == 0:
            block = buffer.sample(config.batch_size, config.gradient_steps)
            out = steps.run(block)
            losses.append(float(out["sums"]["loss"] / out["count"]))
            gradient_steps += config.gradient_steps
            if config.tau < 1.0:
                update_target(target, online, config.tau)
            elif gradient_steps - last_copy >= config.target_update:
                update_target(target, online)
                last_copy = gradient_steps
            weights = online.get_weights()
    env.close()
    return {
        "env_steps": t,
        "gradient_steps": gradient_steps,
        "seconds": time.perf_counter() - start,
        "loss": losses,
    }
