"""What DQN and A2C share (cheat sheet 7.8): environments, the compiled
gradient steps, and the episode log that says when a task is solved.

The gradient steps go through `loops.Trainer`: a `loops.Task`'s
`train_step(model, optimizer, batch) -> {name: share}` run `num_steps`
times in one compiled call. `loops.fit` does not fit reinforcement
learning (there is no data set: batches come from acting, between
calls), so the batches of a call are handed over as one block of K
stacked batches, (K, B, ...) per array, by `BlockSource`, the seam
`loops.inputs.InMemorySource` uses for arrays held in memory.
"""

import collections

import numpy as np
import tensorflow as tf

import loops
from loops import inputs as inputs_lib
from loops import trainer as trainer_lib


class BlockSource(inputs_lib.Source):
    """K batches stacked along a first axis, step i of a call gets [i].

    Args:
        specs: one `tf.TensorSpec` of a single batch per array, e.g.
            `tf.TensorSpec([None, 4], tf.float32)` for the states.
    """

    static_shapes = True

    def __init__(self, specs):
        self.input_signature = tuple(
            tf.TensorSpec([None, *s.shape], s.dtype) for s in specs
        )

    def batch(self, block, i):
        return tuple(t[i] for t in block)


class CompiledSteps:
    """`run(block)`: len(block[0]) steps of `task.train_step` in one
    compiled call of `loops.Trainer` (one device); returns the tensors of
    `loops.trainer.compile_loop` ("last" holds the last step's values)."""

    def __init__(self, model, optimizer, task, specs):
        strategy = tf.distribute.get_strategy()
        source = BlockSource(specs)
        self.trainer = loops.Trainer(
            model, optimizer, task, strategy, source, jit_compile=False
        )

    def run(self, block):
        block = tuple(tf.convert_to_tensor(b) for b in block)
        steps = trainer_lib.num_steps(int(block[0].shape[0]))
        return self.trainer.train_loop(block, steps)


class EpisodeLog:
    """Returns of finished episodes; solved when the mean of the last
    `window` reaches `threshold` (CartPole-v1: 475 over 100 episodes).

    `solved_at` is the number of episodes finished at that moment (so at
    least `window`), or None. `report(episodes, average)`, if given, is
    called every `window` episodes and when the task is solved.
    """

    def __init__(self, threshold, window, report=None):
        self.threshold, self.window, self.report = threshold, window, report
        self.returns = []
        self._last = collections.deque(maxlen=window)
        self.solved_at = None

    def add(self, episode_return):
        """Logs one episode; returns True once the task is solved."""
        self.returns.append(float(episode_return))
        self._last.append(float(episode_return))
        if (
            self.solved_at is None
            and len(self._last) == self.window
            and np.mean(self._last) >= self.threshold
        ):
            self.solved_at = len(self.returns)
            if self.report is not None:
                self.report(self.solved_at, float(np.mean(self._last)))
        elif self.report is not None and len(self.returns) % self.window == 0:
            self.report(len(self.returns), float(np.mean(self._last)))
        return self.solved_at is not None

    def moving_average(self):
        return moving_average(self.returns, self.window)


def moving_average(values, window):
    """Mean of the last `window` values (fewer at the start), per index.

    >>> moving_average([1.0, 3.0, 5.0, 7.0], 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    values = np.asarray(values, np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    i = np.arange(1, len(values) + 1)
    lo = np.maximum(i - window, 0)
    return (sums[i] - sums[lo]) / (i - lo)


def make_env(name, seed):
    """A gymnasium environment, reset with `seed`; its first state."""
    try:
        import gymnasium  # the `rl` extra, imported when an agent runs
    except ModuleNotFoundError:
        raise ValueError(
            f"env={name!r} needs gymnasium, which is not installed; "
            "expected the rl extra: pip install 'keras-cheats[rl]'"
        ) from None
    try:
        env = gymnasium.make(name)
    except gymnasium.error.Error as e:
        raise ValueError(
            f"env={name!r}: {e}; expected a gymnasium environment id such "
            "as CartPole-v1"
        ) from None
    env.action_space.seed(seed)
    state, _ = env.reset(seed=seed)
    return env, state


def check_discrete(env):
    """(observation shape, number of actions) of a discrete-action env."""
    space = env.action_space
    if not hasattr(space, "n"):
        raise ValueError(
            f"env={env.spec.id!r} has actions {space}; expected a discrete "
            "action space (DQN and this A2C pick one of A actions)"
        )
    return tuple(env.observation_space.shape), int(space.n)
