r"""DQN and advantage actor-critic on CartPole-v1 (cheat sheet 7.8).

    python -m experiments.rl --agent=dqn,a2c --seeds=0,1,2 --episodes=1000

Each agent (`experiments.rl_dqn`, `experiments.rl_a2c`) trains once per
seed until the mean return of its last `--solve_window` episodes reaches
`--solve_return` (CartPole-v1's 475 over 100) or `--episodes` episodes
have ended. The run folder gets metrics.json (per agent and seed: the
episodes to solve, or "not reached within N", every episode's return,
the losses) and returns.png: each episode's return and its moving
average, a panel per agent (rows) and seed (columns). Needs the `rl`
extra (gymnasium).

Runs started side by side (one per agent and seed, each in its own
--model_dir) are drawn in one picture by `draw_curves`:

    python -c "from experiments import rl; rl.draw_curves(
        ['runs/dqn_0', 'runs/dqn_1', 'runs/a2c_0'], 'returns.png')"

A run does not resume: the same settings in the same folder train anew.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from experiments import (  # noqa: E402
    cli,
    config_flags,
    images,
    rl_a2c,
    rl_charts,
    rl_common,
    rl_dqn,
    rundir,
)
from keras_cheats import checks  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "rl"
AGENTS = {"dqn": rl_dqn, "a2c": rl_a2c}
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the reinforcement-learning experiment."""

    agent: tuple[str, ...] = ("dqn", "a2c")
    """Agents to train, comma-separated: dqn (7.8.1), a2c (7.8.2)."""
    env: str = "CartPole-v1"
    """A gymnasium environment with discrete actions."""
    seeds: tuple[int, ...] = (0,)
    """One run per seed and agent, comma-separated."""
    episodes: int = 1000
    """At most this many episodes per run."""
    solve_return: float = 475.0
    """Solved when the mean return of the last solve_window episodes
    reaches this."""
    solve_window: int = 100
    """Episodes of that mean (and of the plotted moving average)."""
    dqn_hidden_units: tuple[int, ...] = (128, 128)
    """ReLU layers of the Q-network."""
    a2c_hidden_units: tuple[int, ...] = (64, 64)
    """ReLU layers of each actor-critic torso."""
    gamma: float = 0.99
    """Discount factor."""
    dqn_learning_rate: float = 5e-4
    """Adam step size of DQN."""
    buffer_size: int = 200_000
    """DQN replay buffer slots."""
    batch_size: int = 64
    """DQN minibatch size."""
    learning_starts: int = 1000
    """DQN environment steps before the first update."""
    train_every: int = 256
    """DQN environment steps between compiled calls of updates."""
    gradient_steps: int = 128
    """DQN updates per compiled call."""
    target_update: int = 128
    """DQN updates between hard copies to the target network (tau = 1)."""
    tau: float = 1.0
    """1: hard target copies; below 1: Polyak averaging after each call,
    theta' <- tau theta + (1 - tau) theta'."""
    epsilon_start: float = 1.0
    """DQN exploration rate at the first step."""
    epsilon_end: float = 0.01
    """DQN exploration rate after epsilon_decay steps."""
    epsilon_decay: int = 8000
    """DQN environment steps of the linear decay of epsilon."""
    huber_delta: float = 1.0
    """Threshold of the Huber loss on the TD error."""
    dqn_clip_norm: float = 10.0
    """DQN gradient clipping to this global norm (0: off)."""
    a2c_learning_rate: float = 1e-3
    """Adam step size of A2C."""
    num_envs: int = 8
    """A2C environment copies acting side by side."""
    n_steps: int = 16
    """A2C steps per copy between updates (n of the n-step returns)."""
    value_coef: float = 0.5
    """A2C weight c_v of the critic's squared error."""
    entropy_coef: float = 0.01
    """A2C weight c_e of the entropy bonus."""
    a2c_clip_norm: float = 0.5
    """A2C gradient clipping to this global norm (0: off)."""
    shared_torso: bool = False
    """A2C policy and value heads on one torso (else one torso each)."""
    verbose: int = 1
    """0 silent, 1 a line every solve_window episodes."""

    def __post_init__(self):
        if not isinstance(self.agent, tuple) or not self.agent:
            raise ValueError(
                f"agent={self.agent!r}; expected dqn, a2c or both (dqn,a2c)"
            )
        for agent in self.agent:
            if agent not in AGENTS:
                raise ValueError(
                    f"agent={agent!r}; expected dqn, a2c or both (dqn,a2c)"
                )
        if len(set(self.agent)) != len(self.agent):
            raise ValueError(f"agent={','.join(self.agent)!r}; one each")
        checks.integers("seeds", self.seeds, 0)
        checks.integers("dqn_hidden_units", self.dqn_hidden_units, 1)
        checks.integers("a2c_hidden_units", self.a2c_hidden_units, 1)
        for name in (
            "episodes", "solve_window", "buffer_size", "batch_size",
            "train_every", "gradient_steps", "target_update",
            "epsilon_decay", "num_envs", "n_steps",
        ):  # fmt: skip
            checks.integer(name, getattr(self, name), 1)
        checks.integer("learning_starts", self.learning_starts, 0)
        checks.integer("verbose", self.verbose, 0)
        checks.number("solve_return", self.solve_return)
        for name in ("gamma", "epsilon_start", "epsilon_end"):
            value = checks.number(name, getattr(self, name))
            if not 0 <= value <= 1:
                raise ValueError(f"{name}={value!r}; expected 0 <= {name} <= 1")
        if not (checks.number("tau", self.tau) > 0 and self.tau <= 1):
            raise ValueError(f"tau={self.tau!r}; expected 0 < tau <= 1")
        for name in ("dqn_learning_rate", "a2c_learning_rate", "huber_delta"):
            checks.above(name, getattr(self, name), 0)
        for name in (
            "value_coef", "entropy_coef", "dqn_clip_norm", "a2c_clip_norm",
        ):  # fmt: skip
            checks.at_least(name, getattr(self, name), 0)
        if not isinstance(self.shared_torso, bool):
            raise ValueError(
                f"shared_torso={self.shared_torso!r}; expected True or False"
            )


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains every agent once per seed; writes metrics.json (after each
    run) and returns.png.

    Returns:
        {"model_dir", "config", "agents": {agent: {"seeds": {seed: the
        record of `_seed_run`}, "episodes_to_solve": one per seed,
        "solved": seeds solved}}, "curves": the PNG's path}.
    """
    workdir = rundir.usable_run_dir(workdir, KIND, config.env)
    moved = rundir.claim(
        workdir, rundir.record_of(KIND, config), restart=restart
    )
    if moved is not None:
        print(f"--restart: the previous run is now in {moved}")
    result = {"model_dir": str(workdir), "config": dataclasses.asdict(config)}
    result["agents"] = agents = {}
    for agent in config.agent:
        agents[agent] = {"seeds": {}, "episodes_to_solve": [], "solved": 0}
        for seed in config.seeds:
            record = _seed_run(config, agent, seed)
            agents[agent]["seeds"][str(seed)] = record
            agents[agent]["episodes_to_solve"].append(
                record["episodes_to_solve"]
            )
            agents[agent]["solved"] += record["solved"]
            write_json_atomic(workdir / "metrics.json", result)
    curves = rl_charts.return_curves(
        {a: list(r["seeds"].values()) for a, r in agents.items()},
        config.solve_return,
        config.solve_window,
    )
    result["curves"] = str(images.save_png(workdir / "returns.png", curves))
    write_json_atomic(workdir / "metrics.json", result)
    return result


def draw_curves(model_dirs, path):
    """returns.png of several runs in one picture (e.g. one run per seed
    run side by side): their agents' seeds merged, rows in the order
    met. Returns the PNG's path."""
    runs, config = {}, None
    for model_dir in model_dirs:
        saved = json.loads(
            (pathlib.Path(model_dir) / "metrics.json").read_text()
        )
        config = saved["config"]
        for agent, result in saved["agents"].items():
            runs.setdefault(agent, []).extend(result["seeds"].values())
    image = rl_charts.return_curves(
        runs, config["solve_return"], config["solve_window"]
    )
    return images.save_png(path, image)


def _seed_run(config, agent, seed):
    """One agent trained with one seed: its episodes and what they say."""
    report = None
    if config.verbose:

        def report(episodes, average):
            print(
                f"{agent} seed {seed}: episode {episodes}, mean return of "
                f"the last {config.solve_window} {average:.1f}",
                flush=True,
            )

    log = rl_common.EpisodeLog(config.solve_return, config.solve_window, report)
    stats = AGENTS[agent].run(config, seed, log)
    average = log.moving_average()
    solved = log.solved_at is not None
    return {
        "solved": solved,
        "episodes_to_solve": (
            log.solved_at if solved else f"not reached within {config.episodes}"
        ),
        "solved_at": log.solved_at,
        "episodes": len(log.returns),
        "best_average": float(average.max()) if len(average) else None,
        "final_average": float(average[-1]) if len(average) else None,
        "env_steps": stats["env_steps"],
        "gradient_steps": stats["gradient_steps"],
        "seconds": round(stats["seconds"], 1),
        "loss": _chunk_means(stats["loss"]),
        "returns": log.returns,
    }


def _chunk_means(values, chunks=100):
    """Means of at most `chunks` consecutive runs of `values` (a loss curve
    short enough for metrics.json)."""
    if not values:
        return []
    parts = np.array_split(np.asarray(values, np.float64), chunks)
    return [float(p.mean()) for p in parts if len(p)]


def summary(result) -> str:
    """One line per agent and seed, then one per agent."""
    lines = []
    for agent, runs in result["agents"].items():
        for seed, r in runs["seeds"].items():
            if r["solved"]:
                what = f"solved in {r['solved_at']} episodes"
            else:
                what = r["episodes_to_solve"] + " episodes"
                if r["best_average"] is not None:
                    what += f" (best mean return {r['best_average']:.1f})"
            lines.append(
                f"{agent} seed {seed}: {what}; {r['env_steps']} environment "
                f"steps, {r['gradient_steps']} updates, {r['seconds']:.0f} s"
            )
        solved = [e for e in runs["episodes_to_solve"] if isinstance(e, int)]
        line = f"{agent}: solved {runs['solved']} of {len(runs['seeds'])} seeds"
        if solved:
            line += (
                f", episodes to solve {', '.join(map(str, solved))} "
                f"(mean {np.mean(solved):.0f})"
            )
        lines.append(line)
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
