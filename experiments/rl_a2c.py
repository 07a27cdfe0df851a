"""Advantage actor-critic (cheat sheet 7.8.2) on gymnasium environments.

`num_envs` copies of the environment run side by side; each update acts
`n_steps` times in every copy, sampling a ~ pi(.|s), then takes one
gradient step on the num_envs * n_steps samples with the n-step returns

    G_t = r_t + gamma r_{t+1} + ... + gamma^(n-1) r_{t+n-1}
          + gamma^n V(s_{t+n})     (the sum stops at a terminal state)
    L = -log pi(a|s) A + c_v (G - V(s))^2 - c_e H(pi),  A = G - V(s).

A2C's batch (s, (a, G)) looks like a supervised one, so its step is
`loops.supervised(a2c_loss)`'s, run by `loops.Trainer`.
"""

import time

import keras
import numpy as np
import tensorflow as tf

import loops
from experiments import rl_common
from keras_cheats.losses import reinforcement
from keras_cheats.models.reinforcement import build_actor_critic


def a2c_task(value_coef=0.5, entropy_coef=0.01, clip_norm=None):
    """`loops.supervised(a2c_loss)`'s step on batches (s, a, G), read as
    x = s and y = (a, G)."""

    def per_example(y_true, outputs):
        actions, returns = y_true
        return reinforcement.a2c_loss(
            outputs["logits"], outputs["value"], actions, returns,
            value_coef, entropy_coef,
        )  # fmt: skip

    supervised = loops.supervised(per_example, clip_norm=clip_norm)

    def train_step(model, optimizer, batch):
        states, actions, returns = batch  # x, y = states, (actions, G)
        return supervised.train_step(
            model, optimizer, (states, (actions, returns))
        )

    return loops.Task(train_step=train_step)


def sample_actions(logits, rng):
    """a ~ softmax(logits) per row, by the Gumbel-max trick:
    argmax_a (logit_a - log(-log u_a)), u_a ~ U(0, 1)."""
    u = rng.uniform(1e-12, 1.0, size=np.shape(logits))
    return np.argmax(np.asarray(logits) - np.log(-np.log(u)), axis=-1)


def run(config, seed, log):
    """Trains one A2C agent until `log` says solved or `config.episodes`
    episodes have ended (counted over all copies, in the order they end).

    Returns:
        {"env_steps", "gradient_steps", "seconds", "loss": the loss of
        each update}.
    """
    loops.seed_everything(seed)
    n, num_envs = config.n_steps, config.num_envs
    pairs = [
        rl_common.make_env(config.env, seed * 1000 + i) for i in range(num_envs)
    ]
    envs = [env for env, _ in pairs]
    states = np.stack([s for _, s in pairs]).astype(np.float32)
    shape, num_actions = rl_common.check_discrete(envs[0])
    model = build_actor_critic(
        shape, num_actions, config.a2c_hidden_units, config.shared_torso
    )
    forward = tf.function(
        lambda s: model(s, training=False),
        input_signature=[tf.TensorSpec([None, *shape], tf.float32)],
    )
    specs = (
        tf.TensorSpec([None, *shape], tf.float32),  # s
        tf.TensorSpec([None], tf.int32),  # a
        tf.TensorSpec([None], tf.float32),  # G
    )
    steps = rl_common.CompiledSteps(
        model,
        keras.optimizers.Adam(config.a2c_learning_rate),
        a2c_task(
            config.value_coef, config.entropy_coef, config.a2c_clip_norm or None
        ),
        specs,
    )
    rng = np.random.default_rng(seed)
    rollout_s = np.zeros((n, num_envs, *shape), np.float32)
    rollout_a = np.zeros((n, num_envs), np.int32)
    rollout_r = np.zeros((n, num_envs), np.float32)
    rollout_d = np.zeros((n, num_envs), np.float32)
    episode_returns = np.zeros(num_envs)
    start = time.perf_counter()
    t = gradient_steps = 0
    losses = []
    done_training = False
    while not done_training:
        for k in range(n):
            actions = sample_actions(forward(states)["logits"].numpy(), rng)
            rollout_s[k], rollout_a[k] = states, actions
            for i, env in enumerate(envs):
                s2, r, terminated, truncated, _ = env.step(int(actions[i]))
                episode_returns[i] += r
                if truncated and not terminated:  # bootstrap at the cut
                    r += config.gamma * float(forward(s2[None])["value"][0])
                rollout_r[k, i] = r
                rollout_d[k, i] = float(terminated or truncated)
                if terminated or truncated:
                    solved = log.add(episode_returns[i])
                    episode_returns[i] = 0.0
                    s2, _ = env.reset()
                    if solved or len(log.returns) >= config.episodes:
                        done_training = True
                        break  # the last episode counted: stop here
                states[i] = s2
            t += i + 1 if done_training else num_envs
            if done_training:
                break
        if done_training:
            break
        bootstrap = forward(states)["value"].numpy()  # V(s_{t+n})
        returns = reinforcement.discounted_returns(
            rollout_r, rollout_d, bootstrap, config.gamma
        )
        block = (
            rollout_s.reshape(1, n * num_envs, *shape),
            rollout_a.reshape(1, -1),
            returns.reshape(1, -1),
        )
        out = steps.run(block)
        losses.append(float(out["last"]["loss"]))
        gradient_steps += 1
    for env in envs:
        env.close()
    return {
        "env_steps": t,
        "gradient_steps": gradient_steps,
        "seconds": time.perf_counter() - start,
        "loss": losses,
    }
