"""Mixture-of-experts layer with noisy top-k gating (Cheat sheet 8.2).

E experts, each a two-layer feed-forward network d -> h -> d, and a gate
that sends each token (each row of the input, all leading axes flattened)
to k of them (Shazeer et al. 2017, "Outrageously large neural networks"):

    H(x)_i = (x W_g)_i + StandardNormal() * softplus((x W_noise)_i)
                                           (the noise in training only)
    G(x)   = softmax(KeepTopK(H(x), k))    (0 outside the k kept)
    y      = x + sum_i G(x)_i E_i(x)
    E_i(x) = W2_i act(W1_i x + b1_i) + b2_i

Capacity (GShard, Lepikhin et al. 2020; Switch, Fedus et al. 2021): per
call each expert takes at most C = ceil(capacity_factor * k * T / E) of
the T tokens' k * T assignments, first choices before second choices,
earlier tokens first. An assignment over capacity is dropped: its term
G_i E_i(x) is 0 (the other gates are not renormalized), and the residual
connection `y = x + ...` carries the token on unchanged when all its
assignments are dropped.

Load balancing (added with `add_loss` in training, so that
`loops.scaling.regularization_loss` adds it to the step's loss):

    switch (default):  aux = alpha * E * sum_i f_i P_i
        f_i = share of the k * T assignments the gate sends to expert i
        (before capacity), P_i = mean over tokens of softmax(H(x))_i;
        uniform routing gives alpha * 1.0 (Fedus et al. 2021, eq. 4,
        with k choices counted as k assignments);
    importance:        aux = alpha * CV(sum_x G(x))^2 (Shazeer et al.).

The experts are computed densely (every expert on every token, then the
combine above with weights that are 0 for unchosen or dropped experts),
which gives the outputs of the sparse definition (up to float rounding;
a test checks it against a NumPy loop over the chosen experts only) at E
times its compute: fine at MNIST scale. The gating functions are in
`keras_cheats.layers.moe_gating`.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.layers.moe_gating import (
    BALANCE_LOSSES,
    expert_capacity,
    importance_loss,
    keep_within_capacity,
    switch_balance_loss,
    top_k_gates,
)


@keras.saving.register_keras_serializable(package="keras_cheats")
class MixtureOfExperts(keras.layers.Layer):
    """Noisy top-k mixture of feed-forward experts (Cheat sheet 8.2).

    y = x + sum_i G(x)_i E_i(x),  G = softmax(KeepTopK(x W_g + noise, k))

    Args:
        num_experts: E.
        k: experts per token (1 <= k <= E).
        hidden_units: h, the hidden width of each expert d -> h -> d.
        capacity_factor: C = ceil(capacity_factor * k * T / E) assignments
            per expert and call; None: no limit (nothing dropped).
        noisy: add the tunable Gaussian noise to the gate in training.
        balance_loss: "switch" (alpha * E * sum f_i P_i) or "importance"
            (alpha * CV^2 of the summed gates).
        aux_weight: alpha; 0 adds no loss.
        residual: return x + mixture (default); False: the mixture only.
        activation: of the experts' hidden layer.
        kernel_initializer: of W1 and W2; a variance-scaling one (Glorot,
            He, LeCun) takes the fans of one expert's matrix.
        gate_initializer: of W_g; W_noise starts at 0 (Shazeer et al.).
        seed: seed of the gate noise (None: random).

    Call: inputs (..., d), training. Returns (..., d).

    Load: the non-trainable `load` (E,) and `overflow` (E,) count the
    kept and the dropped assignments of every call since `reset_load()`,
    `tokens` the tokens; `load_summary()` reads them as shares.
    """

    def __init__(
        self,
        num_experts=8,
        k=2,
        hidden_units=64,
        capacity_factor=1.25,
        noisy=True,
        balance_loss="switch",
        aux_weight=0.01,
        residual=True,
        activation="relu",
        kernel_initializer="glorot_uniform",
        gate_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_experts = checks.positive_int("num_experts", num_experts)
        self.k = checks.positive_int("k", k)
        if k > num_experts:
            raise ValueError(
                f"`k` must be an int from 1 to num_experts={num_experts}; "
                f"received k={k!r}."
            )
        self.hidden_units = checks.positive_int("hidden_units", hidden_units)
        if capacity_factor is not None:
            capacity_factor = checks.interval(
                "capacity_factor", capacity_factor, 0, low_open=True
            )
        self.capacity_factor = capacity_factor
        for name, value in (("noisy", noisy), ("residual", residual)):
            if not isinstance(value, bool):
                raise ValueError(
                    f"`{name}` must be a bool; received {name}={value!r}."
                )
        self.noisy, self.residual = noisy, residual
        self.balance_loss = checks.choice(
            "balance_loss", balance_loss, BALANCE_LOSSES
        )
        self.aux_weight = checks.interval("aux_weight", aux_weight, 0)
        self.activation = keras.activations.get(
            checks.keras_object(
                "activation", activation, keras.activations.get,
                checks.ACTIVATION_HELP,
            )
        )  # fmt: skip
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.gate_initializer = keras.initializers.get(gate_initializer)
        if seed is not None and (
            not isinstance(seed, int) or isinstance(seed, bool)
        ):
            raise ValueError(
                f"`seed` must be an int or None; received seed={seed!r}."
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None:
            raise ValueError(
                "`input_shape` must have a known last axis (the token "
                f"width d); received input_shape={input_shape!r}."
            )
        e, h = self.num_experts, self.hidden_units
        self.gate_kernel = self.add_weight(
            name="gate_kernel", shape=(d, e), initializer=self.gate_initializer
        )
        self.noise_kernel = None
        if self.noisy:
            self.noise_kernel = self.add_weight(
                name="noise_kernel", shape=(d, e), initializer="zeros"
            )
        w1_init = _per_expert(self.kernel_initializer)
        w2_init = _per_expert(self.kernel_initializer)
        self.w1 = self.add_weight(
            name="w1", shape=(e, d, h), initializer=w1_init
        )
        self.b1 = self.add_weight(name="b1", shape=(e, h), initializer="zeros")
        self.w2 = self.add_weight(
            name="w2", shape=(e, h, d), initializer=w2_init
        )
        self.b2 = self.add_weight(name="b2", shape=(e, d), initializer="zeros")
        self.load = _counter("load", (e,))
        self.overflow = _counter("overflow", (e,))
        self.tokens = _counter("tokens", ())

    def route(self, x, training=False):
        """The gate on tokens x (T, d): {"logits" H (T, E), "gates",
        "indices", "kept" (T, k): see `top_k_gates`, `keep_within_capacity`}.
        """
        logits = ops.matmul(x, self.gate_kernel)
        if training and self.noisy:
            std = ops.softplus(ops.matmul(x, self.noise_kernel))
            noise = keras.random.normal(
                ops.shape(logits), dtype=logits.dtype, seed=self.seed_generator
            )
            logits = logits + noise * std
        gates, indices = top_k_gates(logits, self.k)
        if self.capacity_factor is None:
            kept = ops.ones_like(gates)
        else:
            c = expert_capacity(
                ops.shape(x)[0], self.k, self.num_experts, self.capacity_factor
            )
            kept = keep_within_capacity(indices, self.num_experts, c)
        kept = ops.cast(kept, gates.dtype)
        return {"logits": logits, "gates": gates, "indices": indices,
                "kept": kept}  # fmt: skip

    def call(self, inputs, training=False):
        x = ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))  # (T, d)
        r = self.route(x, training=training)
        chosen = ops.one_hot(r["indices"], self.num_experts, dtype=x.dtype)
        weights = (r["gates"] * r["kept"])[..., None]  # (T, k, 1)
        combine = ops.sum(chosen * weights, axis=1)  # (T, E), 0 if unused
        hidden = self.activation(
            ops.einsum("td,edh->teh", x, self.w1) + self.b1
        )  # (T, E, h)
        out = ops.einsum("teh,ehd->ted", hidden, self.w2) + self.b2
        y = ops.einsum("te,ted->td", combine, out)
        if self.residual:
            y = y + x
        if training and self.aux_weight > 0:
            self.add_loss(self.aux_weight * self.balance(r))
        self._count(chosen, r["kept"], ops.shape(x)[0])
        return ops.reshape(y, ops.shape(inputs))

    def balance(self, route):
        """The balance loss of a `route` result, without aux_weight."""
        if self.balance_loss == "switch":
            return switch_balance_loss(
                route["logits"], route["indices"], self.num_experts
            )
        return importance_loss(
            route["gates"], route["indices"], self.num_experts
        )

    def _count(self, chosen, kept, num_tokens):
        chosen = ops.cast(chosen, "float32")
        routed = ops.sum(chosen, axis=(0, 1))  # (E,)
        in_capacity = ops.sum(chosen * ops.cast(kept, "float32")[..., None],
                              axis=(0, 1))  # fmt: skip
        self.load.assign_add(in_capacity)
        self.overflow.assign_add(routed - in_capacity)
        self.tokens.assign_add(ops.cast(num_tokens, "float32"))

    def reset_load(self):
        for v in (self.load, self.overflow, self.tokens):
            v.assign(ops.zeros_like(v))

    def load_summary(self):
        """Shares of the k * tokens assignments since `reset_load()`:
        {"tokens", "kept" (E,) kept per expert, "routed" (E,) sent per
        expert before capacity, "dropped" (total dropped share)}."""
        load = ops.convert_to_numpy(self.load)
        overflow = ops.convert_to_numpy(self.overflow)
        tokens = float(ops.convert_to_numpy(self.tokens))
        n = max(tokens * self.k, 1.0)
        return {
            "tokens": int(tokens),
            "kept": (load / n).tolist(),
            "routed": ((load + overflow) / n).tolist(),
            "dropped": float(overflow.sum() / n),
        }

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_experts=self.num_experts,
            k=self.k,
            hidden_units=self.hidden_units,
            capacity_factor=self.capacity_factor,
            noisy=self.noisy,
            balance_loss=self.balance_loss,
            aux_weight=self.aux_weight,
            residual=self.residual,
            activation=keras.activations.serialize(self.activation),
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer
            ),
            gate_initializer=keras.initializers.serialize(
                self.gate_initializer
            ),
            seed=self.seed,
        )
        return config


def _counter(name, shape):
    """A count kept per replica and summed when read, like a metric's
    (`add_weight` cannot ask for that: `assign_add` is `assign(v + x)`,
    which a variable summed on write would double at every step)."""
    return keras.Variable(
        initializer=keras.initializers.Zeros(), shape=shape, dtype="float32",
        trainable=False, aggregation="sum", synchronization="on_read",
        name=name,
    )  # fmt: skip


def _per_expert(initializer):
    """A fresh copy of `initializer` (one instance gives the same values at
    every call), for variance scaling (Glorot, He, LeCun) with the fans of
    one expert's matrix: axes 1 and 2 of (E, d, h), not E * d and E * h as
    Keras counts a stacked kernel."""
    config = initializer.get_config()
    if isinstance(initializer, keras.initializers.VarianceScaling) and (
        config.get("input_axes") is None
    ):
        config.update(input_axes=[1], output_axes=[2])
    return type(initializer).from_config(config)
