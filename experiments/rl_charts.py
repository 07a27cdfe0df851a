"""Return curves of reinforcement-learning runs, drawn with NumPy only.

`return_curves`: one panel per (agent, seed), agents in rows and seeds in
columns, all on one scale: x the episode (1 at the left, the longest run
at the right), y the return (0 at the bottom). Light: each episode's
return; dark: its moving average; gray: the solving threshold; green, a
vertical line at the episode the task was solved. The number above the
gray line is the threshold, the one under each panel the episodes run.
Images are (H, W, 3) floats in [0, 1] for `experiments.images.save_png`.
"""

import numpy as np

from experiments import raster

LIGHT = {"dqn": (0.65, 0.75, 0.95), "a2c": (0.98, 0.75, 0.6)}
DARK = {"dqn": (0.1, 0.25, 0.7), "a2c": (0.8, 0.3, 0.05)}
GRAY, GREEN = (0.6, 0.6, 0.6), (0.1, 0.6, 0.2)


def curve_panel(
    returns, average, agent, solved_at, threshold, x_max, y_max,
    width=320, height=160,
):  # fmt: skip
    """One panel: a (height + 14, width, 3) image (see the module)."""
    image = np.ones((height + 14, width, 3))
    plot = image[:height]
    plot[[0, -1], :] = 0.0  # a black frame
    plot[:, [0, -1]] = 0.0

    def x_of(episode):  # episode 1 .. x_max -> column 1 .. width - 2
        return 1 + (np.asarray(episode) - 1) * (width - 3) / max(x_max - 1, 1)

    def y_of(value):  # 0 .. y_max -> row height - 2 .. 1
        return height - 2 - np.asarray(value) * (height - 3) / y_max

    row = int(round(float(y_of(threshold))))
    plot[row, 1:-1:4] = GRAY
    if threshold >= 0:
        raster.text(plot, max(row - 12, 2), 4, threshold, GRAY)
    episodes = np.arange(1, len(returns) + 1)
    if len(returns):
        raster.polyline(plot, x_of(episodes), y_of(returns), LIGHT[agent])
        raster.polyline(plot, x_of(episodes), y_of(average), DARK[agent])
    if solved_at is not None:
        plot[1:-1, int(round(float(x_of(solved_at))))] = GREEN
    raster.text(image, height + 2, width - 40, len(returns), scale=2)
    return image


def return_curves(runs, threshold, window=100):
    """Panels of every run.

    Args:
        runs: {agent: [{"returns": [...], "solved_at": int or None}, one
            per seed]}.
        threshold: the solving return (a gray line).
        window: episodes of the moving average.

    Returns:
        (H, W, 3) image.
    """
    from experiments.rl_common import moving_average

    all_returns = [r["returns"] for seeds in runs.values() for r in seeds]
    x_max = max([len(r) for r in all_returns] + [2])
    y_max = 1.05 * max([threshold] + [max(r, default=0) for r in all_returns])
    rows = [
        [
            curve_panel(
                r["returns"],
                moving_average(r["returns"], window),
                agent,
                r["solved_at"],
                threshold,
                x_max,
                y_max,
            )  # fmt: skip
            for r in seeds
        ]
        for agent, seeds in runs.items()
    ]
    return raster.rows_of_panels(rows)
