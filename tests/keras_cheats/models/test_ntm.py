"""keras_cheats.models.ntm: parameter matching and the step-by-step trace
(a tiny training run whose loss falls: tests/experiments/test_memory.py)."""

import numpy as np

from keras_cheats.models import ntm


def test_lstm_params_formula_and_matching():
    lstm = ntm.build_lstm(9, 8, units=7)
    assert lstm.count_params() == ntm.lstm_params(7, 9, 8)
    # 4*7*(9+7+1) + 8*8 = 476 + 64 = 540.
    assert ntm.lstm_params(7, 9, 8) == 540
    model = ntm.build_ntm(9, 8, units=20, memory_rows=16, memory_width=6)
    h = ntm.lstm_units_for(model.count_params(), 9, 8)
    gap = abs(ntm.lstm_params(h, 9, 8) - model.count_params())
    assert all(
        gap <= abs(ntm.lstm_params(k, 9, 8) - model.count_params())
        for k in (h - 1, h + 1)
    )


def test_trace_replays_the_model():
    model = ntm.build_ntm(4, 3, units=5, memory_rows=6, memory_width=4)
    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    traced = ntm.trace(model, x)
    np.testing.assert_allclose(
        traced["logits"], np.asarray(model(x[None]))[0], atol=1e-5
    )
    assert traced["read"].shape == (7, 1, 6) and traced["write"].shape == (7, 6)
    np.testing.assert_allclose(traced["write"].sum(-1), 1.0, atol=1e-5)
