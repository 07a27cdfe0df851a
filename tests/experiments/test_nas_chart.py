"""experiments.nas_chart: one dot per scored trial, at its accuracy."""

import numpy as np

from experiments import nas_chart


def _search(scores, epochs, best):
    trials = [
        {"trial_id": str(i), "val_accuracy": s, "model_epochs": e}
        for i, (s, e) in enumerate(zip(scores, epochs, strict=True))
    ]
    return {"trials": trials, "best_trial_id": best}


def _mask(image, color):
    return np.all(np.isclose(image, color), axis=-1)


def test_dots_sit_at_their_accuracy_and_the_best_is_red():
    searches = {
        "random": _search([0.5, 0.95, None], [3, 3, 3], "1"),
        "hyperband": _search([0.7, 0.8], [1, 3], "1"),
    }
    image = nas_chart.trials_chart(searches)
    red, dark = _mask(image, nas_chart.RED), _mask(image, nas_chart.DARK)
    light = _mask(image, nas_chart.LIGHT)

    # Scale: 0.5 at the bottom, 1.0 at the top, 200 px apart; panels at
    # (16, 16), plot top 8 px in, first dot 34 + 14 px in.
    def centre(mask):
        rows, cols = np.nonzero(mask)
        return rows.mean(), cols.mean()

    def row(accuracy):
        return 16 + 8 + (1.0 - accuracy) / 0.5 * 200

    assert red.any() and dark.any() and light.any()
    first_panel = np.zeros_like(dark)
    first_panel[:, : 16 + 34 + 14 * 4] = True
    r, c = centre(dark & first_panel)  # the one full dot: 0.5, trial 1
    assert (r, c) == (row(0.5), 16 + 34 + 14)
    r, _ = centre(light)  # Hyperband's 1-epoch trial at 0.7
    assert r == row(0.7)
    # One red dot per panel (the best of each): at 0.95 and 0.8.
    assert sorted(set(np.nonzero(red)[0])) == sorted(
        set(range(round(row(0.95)) - 3, round(row(0.95)) + 4))
        | set(range(round(row(0.8)) - 3, round(row(0.8)) + 4))
    )
    assert image.min() >= 0 and image.max() <= 1


def test_unscored_trials_leave_no_dot():
    image = nas_chart.trials_chart({"random": _search([None], [1], "0")})
    for color in (nas_chart.RED, nas_chart.DARK, nas_chart.LIGHT):
        assert not _mask(image, color).any()


def test_the_reference_line_is_at_its_accuracy():
    searches = {"random": _search([0.5, 1.0], [3, 3], "1")}
    image = nas_chart.trials_chart(searches, reference=0.75)
    # 0.5 at the bottom, 1.0 at the top: 0.75 half way, 100 px down.
    black = _mask(image, nas_chart.BLACK)
    full_rows = np.nonzero(black.sum(1) > 14 * 2)[0]
    assert full_rows.tolist() == [16 + 8 + 100]
    assert not (
        _mask(nas_chart.trials_chart(searches), nas_chart.BLACK).sum(1) > 28
    ).any()
