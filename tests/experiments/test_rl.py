"""experiments.rl (cheat sheet 7.8): the episode log, the return curves,
the config, DQN and A2C learning an easy task, and the command line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from experiments import config_flags, rl, rl_charts, rl_common
from tests.conftest import REPO

BANDIT = "KerasCheatsTest/SignBandit-v0"


def test_moving_average_matches_numpy():
    values = np.random.default_rng(0).normal(size=37)
    expected = [values[max(0, i - 9) : i + 1].mean() for i in range(37)]
    np.testing.assert_allclose(rl_common.moving_average(values, 10), expected)


def test_episode_log_is_solved_when_the_window_mean_reaches_it():
    reports = []
    log = rl_common.EpisodeLog(3.0, 4, report=lambda n, m: reports.append(n))
    returns = [5, 5, 5, 0, 4, 4, 4, 1, 9]  # windows end 4: 3.75, 5: 3.25
    solved = [log.add(r) for r in returns]
    assert log.solved_at == 4 and solved == [False] * 3 + [True] * 6
    assert reports == [4, 8]  # at the solve, then every 4 episodes
    log = rl_common.EpisodeLog(3.0, 4)
    assert [log.add(r) for r in [9, 9, 9]] == [False] * 3  # < 4 episodes
    log = rl_common.EpisodeLog(3.0, 4)
    for r in [5, 5, 1, 0.5, 0.5]:  # means 11.5 / 4 and 7 / 4, both < 3
        log.add(r)
    assert log.solved_at is None


def test_return_curves_draw_a_panel_per_agent_and_seed():
    runs = {
        "dqn": [
            {"returns": [10.0, 500.0, 500.0], "solved_at": 3},
            {"returns": [20.0] * 8, "solved_at": None},
        ],
        "a2c": [{"returns": [], "solved_at": None}],
    }
    image = rl_charts.return_curves(runs, threshold=475.0, window=2)
    assert image.ndim == 3 and image.shape[2] == 3
    assert 0.0 <= image.min() and image.max() <= 1.0
    colors = {
        tuple(c) for c in np.unique(np.round(image, 2).reshape(-1, 3), axis=0)
    }
    for color in (rl_charts.DARK["dqn"], rl_charts.GREEN, rl_charts.GRAY):
        assert tuple(np.round(color, 2)) in colors
    assert tuple(np.round(rl_charts.DARK["a2c"], 2)) not in colors  # empty


def test_config_errors_name_the_flag():
    with pytest.raises(ValueError, match="agent='ppo'"):
        rl.Config(agent=("ppo",))
    with pytest.raises(ValueError, match="agent=.*one each"):
        rl.Config(agent=("dqn", "dqn"))
    with pytest.raises(ValueError, match="seeds="):
        rl.Config(seeds=())
    with pytest.raises(ValueError, match="episodes=0"):
        rl.Config(episodes=0)
    with pytest.raises(ValueError, match="gamma=1.5"):
        rl.Config(gamma=1.5)
    with pytest.raises(ValueError, match="tau=0"):
        rl.Config(tau=0.0)
    with pytest.raises(ValueError, match="a2c_clip_norm=-1"):
        rl.Config(a2c_clip_norm=-1.0)


def test_flags_read_agent_and_seeds_as_lists():
    values = flags.FlagValues()
    config_flags.define(rl.Config, flag_values=values)
    values(["prog", "--agent=dqn", "--seeds=0,1,2", "--episodes=5"])
    config = config_flags.parse(rl.Config, flag_values=values)
    assert (config.agent, config.seeds, config.episodes) == (
        ("dqn",),
        (0, 1, 2),
        5,
    )


@pytest.fixture
def sign_bandit():
    """An easy environment: 10 steps, reward 1 when the action is
    [s_0 > 0] for a random state s; a random policy returns 5."""
    gymnasium = pytest.importorskip(
        "gymnasium", reason="the rl extra is not installed"
    )

    class SignBandit(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(-9, 9, (4,), np.float32)
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return self._state(), {}

        def _state(self):
            self.s = self.np_random.normal(size=4).astype(np.float32)
            return self.s

        def step(self, action):
            reward = float(action == int(self.s[0] > 0))
            self.t += 1
            return self._state(), reward, False, self.t >= 10, {}

    if BANDIT not in gymnasium.registry:
        gymnasium.register(BANDIT, entry_point=SignBandit)
    return BANDIT


def test_an_unknown_environment_is_a_one_line_error():
    pytest.importorskip("gymnasium", reason="the rl extra is not installed")
    with pytest.raises(ValueError, match="env='NoSuchEnv-v0': .*CartPole"):
        rl_common.make_env("NoSuchEnv-v0", 0)


@pytest.mark.parametrize("agent", ["dqn", "a2c"])
def test_agents_learn_the_sign_bandit(sign_bandit, agent):
    config = rl.Config(
        agent=(agent,), env=sign_bandit, episodes=160, solve_return=11.0,
        solve_window=40, dqn_hidden_units=(16,), a2c_hidden_units=(16,),
        gamma=0.5, learning_starts=100,
        train_every=20, gradient_steps=20, target_update=60,
        epsilon_decay=500, epsilon_end=0.02, dqn_learning_rate=3e-3,
        num_envs=2, n_steps=4, a2c_learning_rate=1e-2, verbose=0,
    )  # fmt: skip
    log = rl_common.EpisodeLog(config.solve_return, config.solve_window)
    stats = rl.AGENTS[agent].run(config, 0, log)
    returns = np.asarray(log.returns)
    assert len(returns) == 160 and log.solved_at is None  # 11 > 10
    assert stats["env_steps"] == 1600 or agent == "a2c"
    assert np.isfinite(stats["loss"]).all()
    # Random play returns 5 of 10; the last 40 episodes return 8.5 or more.
    assert returns[:40].mean() < 7.5
    assert returns[-40:].mean() > 8.5, returns[-40:].mean()
    if agent == "dqn":  # the Huber loss on the TD error falls
        assert np.mean(stats["loss"][-10:]) < np.mean(stats["loss"][:10])


def _episodes_to_solve(returns, threshold, window):
    means = np.convolve(returns, np.ones(window) / window, mode="valid")
    hits = np.nonzero(means >= threshold)[0]
    return int(hits[0]) + window if len(hits) else None


@pytest.mark.slow
def test_command_line_trains_both_agents_and_draws_the_curves(tmp_path):
    pytest.importorskip("gymnasium", reason="the rl extra is not installed")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.rl", "--agent=dqn,a2c",
         "--seeds=0", "--episodes=12", "--solve_window=5",
         "--solve_return=25", "--dqn_hidden_units=16",
         "--a2c_hidden_units=16", "--learning_starts=50",
         "--train_every=16", "--gradient_steps=4", "--num_envs=2",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert (tmp_path / "returns.png").exists()
    assert saved["curves"] == str(tmp_path / "returns.png")
    merged = rl.draw_curves([tmp_path, tmp_path], tmp_path / "twice.png")
    widths = [  # PNG header: the width is bytes 16 to 20 of IHDR
        int.from_bytes(p.read_bytes()[16:20], "big")
        for p in (tmp_path / "returns.png", merged)
    ]
    assert widths[1] > widths[0]  # each seed twice: more panels in a row
    for agent in ("dqn", "a2c"):
        run = saved["agents"][agent]["seeds"]["0"]
        returns = run["returns"]
        solved = _episodes_to_solve(returns, 25.0, 5)
        assert run["solved_at"] == solved
        if solved is None:
            assert len(returns) == 12
            assert run["episodes_to_solve"] == "not reached within 12"
            assert f"{agent} seed 0: not reached within 12 episodes" in (
                done.stdout
            )
        else:
            assert len(returns) == solved
            assert f"{agent} seed 0: solved in {solved} episodes" in (
                done.stdout
            )
        assert run["env_steps"] >= sum(returns)  # CartPole: 1 per step
        assert np.isfinite(run["loss"]).all()
