"""A neural Turing machine cell (cheat sheet 7.7.2; Graves et al. 2014).

An LSTM controller reads x_t and last step's read vectors, and its state
h_t drives R read heads and one write head over an N x M memory:

    h_t, c_t = LSTM([x_t, r^1_{t-1}, ..., r^R_{t-1}], h_{t-1}, c_{t-1})
    write head: w^w_t = address(M_{t-1}, w^w_{t-1}, params(h_t))
                M_t = M_{t-1} * (1 - w^w_t e^T) + w^w_t a^T
    read heads: w^r_t = address(M_t, w^r_{t-1}, params(h_t)),
                r_t = w^r_t^T M_t
    output      y_t = [h_t, r^1_t, ..., r^R_t]

with `address` of `keras_cheats.layers.ntm_addressing` (content by cosine
similarity, gate, circular shift, sharpening). Head parameters come from
one Dense layer on h_t: key (tanh), beta = softplus >= 0, g = sigmoid,
s = softmax over the 2K + 1 offsets, gamma = 1 + softplus, and for the
write head e = sigmoid, a = tanh. The memory starts at 1e-6 everywhere
(Collier and Beel 2018), the weightings on row 0, the reads at 0.

Use it in `keras.layers.RNN(NTMCell(...), return_sequences=True)`. The
state is [h, c, memory (B, N*M), reads (B, R*M), read weightings
(B, R*N), write weighting (B, N)], flattened as RNN states are.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.layers import ntm_addressing as addressing

MEMORY_INIT = 1e-6


@keras.saving.register_keras_serializable(package="keras_cheats")
class NTMCell(keras.layers.Layer):
    """An RNN cell: LSTM controller, R read heads, one write head.

    Args:
        units: controller LSTM size.
        memory_rows: N, the number of memory locations.
        memory_width: M, the size of each location.
        read_heads: R, the number of read heads.
        shift_range: K; the heads shift by -K..K rows per step.

    Call: `(x_t (B, D), states) -> (y_t (B, units + R*M), new states)`.
    """

    def __init__(
        self,
        units,
        memory_rows=128,
        memory_width=20,
        read_heads=1,
        shift_range=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = checks.positive_int("units", units)
        self.memory_rows = checks.positive_int("memory_rows", memory_rows)
        self.memory_width = checks.positive_int("memory_width", memory_width)
        self.read_heads = checks.positive_int("read_heads", read_heads)
        self.shift_range = checks.integer("shift_range", shift_range, 0)
        if 2 * shift_range + 1 > memory_rows:
            raise ValueError(
                f"shift_range={shift_range!r}; expected 2 * shift_range + 1 "
                f"<= memory_rows={memory_rows}"
            )
        n, m, r = memory_rows, memory_width, read_heads
        self.state_size = [units, units, n * m, r * m, r * n, n]
        self.output_size = units + r * m
        self.controller = keras.layers.LSTMCell(units, name="controller")
        # Per head: key M, beta 1, gate 1, shifts 2K+1, gamma 1; the write
        # head also erase M and add M.
        self._head_size = m + 3 + (2 * shift_range + 1)
        self.heads = keras.layers.Dense(
            (r + 1) * self._head_size + 2 * m, name="heads"
        )

    def build(self, input_shape):
        d = input_shape[-1]
        self.controller.build((None, d + self.read_heads * self.memory_width))
        self.heads.build((None, self.units))

    def get_initial_state(self, batch_size=None):
        n, m, r = self.memory_rows, self.memory_width, self.read_heads
        first_row = ops.one_hot(ops.zeros((batch_size,), "int32"), n)
        return [
            ops.zeros((batch_size, self.units)),
            ops.zeros((batch_size, self.units)),
            ops.full((batch_size, n * m), MEMORY_INIT),
            ops.zeros((batch_size, r * m)),
            ops.tile(first_row, (1, r)),
            first_row,
        ]

    def _split_head(self, p):
        """(B, head size) -> key, beta, gate, shifts, gamma."""
        m, k = self.memory_width, 2 * self.shift_range + 1
        key = ops.tanh(p[:, :m])
        beta = ops.softplus(p[:, m : m + 1])
        gate = ops.sigmoid(p[:, m + 1 : m + 2])
        shifts = ops.softmax(p[:, m + 2 : m + 2 + k], axis=-1)
        gamma = 1.0 + ops.softplus(p[:, m + 2 + k : m + 3 + k])
        return key, beta, gate, shifts, gamma

    def call(self, inputs, states, training=None):
        h, c, memory, reads, read_w, write_w = states
        n, m, r = self.memory_rows, self.memory_width, self.read_heads
        batch = ops.shape(inputs)[0]
        memory = ops.reshape(memory, (batch, n, m))
        read_w = ops.reshape(read_w, (batch, r, n))
        out, (h, c) = self.controller(
            ops.concatenate([inputs, reads], axis=-1), [h, c], training=training
        )
        params = self.heads(out)
        size = self._head_size
        # Write head first (the last head slot, then erase and add).
        write_p = params[:, r * size : (r + 1) * size]
        write_w = addressing.address(
            memory, write_w, *self._split_head(write_p)
        )
        erase = ops.sigmoid(params[:, (r + 1) * size : (r + 1) * size + m])
        add = ops.tanh(params[:, (r + 1) * size + m :])
        memory = addressing.write(memory, write_w, erase, add)
        new_reads, new_read_w = [], []
        for i in range(r):
            head_p = params[:, i * size : (i + 1) * size]
            w = addressing.address(
                memory, read_w[:, i], *self._split_head(head_p)
            )
            new_read_w.append(w)
            new_reads.append(addressing.read(memory, w))
        reads = ops.concatenate(new_reads, axis=-1)
        output = ops.concatenate([out, reads], axis=-1)
        states = [
            h,
            c,
            ops.reshape(memory, (batch, n * m)),
            reads,
            ops.concatenate(new_read_w, axis=-1),
            write_w,
        ]
        return output, states

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "memory_rows": self.memory_rows,
            "memory_width": self.memory_width,
            "read_heads": self.read_heads,
            "shift_range": self.shift_range,
        }
