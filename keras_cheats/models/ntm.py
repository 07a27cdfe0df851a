"""A neural Turing machine and its LSTM baseline (cheat sheet 7.7.2).

    model = build_ntm(input_dim=9, output_dim=8)          # logits per step
    lstm = build_lstm(9, 8, units=lstm_units_for(model.count_params(), 9, 8))

Both map a sequence (B, T, input_dim) to logits (B, T, output_dim): the
NTM through `keras.layers.RNN(NTMCell)` and a Dense layer on [h_t, r_t],
the baseline through one LSTM layer and a Dense layer. `trace` replays
the NTM step by step on one sequence and returns its read and write
weightings over time (the picture of Graves et al. 2014, figure 6).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_cheats.layers.ntm_cell import NTMCell


def build_ntm(
    input_dim,
    output_dim,
    *,
    units=100,
    memory_rows=128,
    memory_width=20,
    read_heads=1,
    shift_range=1,
    name="ntm",
):
    """(B, T, input_dim) -> RNN(NTMCell) -> Dense -> (B, T, output_dim)."""
    cell = NTMCell(
        units,
        memory_rows=memory_rows,
        memory_width=memory_width,
        read_heads=read_heads,
        shift_range=shift_range,
    )
    return keras.Sequential(
        [
            keras.Input((None, input_dim)),
            keras.layers.RNN(cell, return_sequences=True, name="memory"),
            keras.layers.Dense(output_dim, name="logits"),
        ],
        name=name,
    )


def build_lstm(input_dim, output_dim, *, units=128, name="lstm"):
    """(B, T, input_dim) -> LSTM(units) -> Dense -> (B, T, output_dim)."""
    return keras.Sequential(
        [
            keras.Input((None, input_dim)),
            keras.layers.LSTM(units, return_sequences=True, name="lstm"),
            keras.layers.Dense(output_dim, name="logits"),
        ],
        name=name,
    )


def lstm_params(units, input_dim, output_dim):
    """Parameters of `build_lstm`: 4H(D + H + 1) + (H + 1) O."""
    return 4 * units * (input_dim + units + 1) + (units + 1) * output_dim


def lstm_units_for(params, input_dim, output_dim):
    """The H whose `build_lstm` has closest to `params` parameters.

    Solves 4H^2 + (4(D + 1) + O) H + O = params for H, then picks the
    better of the two integers around the root."""
    b = 4 * (input_dim + 1) + output_dim
    root = (-b + math.sqrt(b * b + 16 * (params - output_dim))) / 8
    candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
    return min(
        candidates,
        key=lambda h: abs(lstm_params(h, input_dim, output_dim) - params),
    )


def trace(model, sequence):
    """Runs an NTM of `build_ntm` step by step on one sequence.

    Args:
        model: a model of `build_ntm`.
        sequence: (T, input_dim) array.

    Returns:
        dict of NumPy arrays: "logits" (T, output_dim), "read" (T, R, N)
        and "write" (T, N) weightings, "memory" (N, M) at the end.
    """
    rnn, dense = model.get_layer("memory"), model.get_layer("logits")
    cell = rnn.cell
    states = cell.get_initial_state(batch_size=1)
    x = ops.convert_to_tensor(np.asarray(sequence, np.float32)[None])
    outputs, reads, writes = [], [], []
    for t in range(x.shape[1]):
        out, states = cell(x[:, t], states)
        outputs.append(dense(out))
        reads.append(states[4])
        writes.append(states[5])
    n, m, r = cell.memory_rows, cell.memory_width, cell.read_heads
    return {
        "logits": np.concatenate([np.asarray(o) for o in outputs]),
        "read": np.concatenate([np.asarray(w) for w in reads]).reshape(
            -1, r, n
        ),
        "write": np.concatenate([np.asarray(w) for w in writes]),
        "memory": np.asarray(states[2]).reshape(n, m),
    }
