"""MixtureOfExperts (Cheat sheet 8.2): gates, combine, capacity, the
balance losses, the loop's regularization rule, a round trip, training."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from keras_cheats.layers.moe import MixtureOfExperts
from keras_cheats.layers.moe_gating import (
    expert_capacity,
    importance_loss,
    keep_within_capacity,
    switch_balance_loss,
    top_k_gates,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _np_top_k_gates(logits, k):
    indices = np.argsort(-logits, axis=-1, kind="stable")[:, :k]
    values = np.take_along_axis(logits, indices, axis=-1)
    e = np.exp(values - values.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True), indices


def _np_kept(indices, num_experts, capacity):
    """Slot-major priority: all first choices, then all second ones."""
    used = np.zeros(num_experts, int)
    kept = np.zeros(indices.shape)
    for j in range(indices.shape[1]):
        for t in range(indices.shape[0]):
            e = indices[t, j]
            if used[e] < capacity:
                used[e] += 1
                kept[t, j] = 1.0
    return kept


def _np_moe(layer, x):
    """The sparse definition: only the chosen, kept experts run."""
    w = {v.path.split("/")[-1]: _np(v) for v in layer.weights}
    t, e, k = len(x), layer.num_experts, layer.k
    gates, indices = _np_top_k_gates(x @ w["gate_kernel"], k)
    kept = np.ones_like(gates)
    if layer.capacity_factor is not None:
        cap = math.ceil(layer.capacity_factor * k * t / e)
        kept = _np_kept(indices, e, cap)
    y = x.copy() if layer.residual else np.zeros_like(x)
    for i in range(t):
        for j in range(k):
            if kept[i, j]:
                n = indices[i, j]
                h = np.maximum(x[i] @ w["w1"][n] + w["b1"][n], 0.0)
                y[i] += gates[i, j] * (h @ w["w2"][n] + w["b2"][n])
    return y


@pytest.mark.parametrize("k", [1, 2, 3])
def test_gates_match_a_numpy_top_k_softmax(k):
    logits = np.random.default_rng(k).normal(size=(9, 5)).astype("float32")
    gates, indices = top_k_gates(logits, k)
    want_gates, want_indices = _np_top_k_gates(logits, k)
    np.testing.assert_array_equal(_np(indices), want_indices)
    np.testing.assert_allclose(_np(gates), want_gates, rtol=1e-5)
    np.testing.assert_allclose(_np(gates).sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "capacity_factor,residual", [(None, True), (0.75, True), (1.0, False)]
)
def test_output_matches_a_numpy_oracle_of_the_sparse_combine(
    capacity_factor, residual
):
    rng = np.random.default_rng(0)
    layer = MixtureOfExperts(
        num_experts=4, k=2, hidden_units=5, capacity_factor=capacity_factor,
        residual=residual, seed=0,
    )  # fmt: skip
    x = rng.normal(size=(11, 6)).astype("float32")
    layer.build(x.shape)
    # Tiny random weights, biases included (the initial ones are 0).
    layer.set_weights(
        [0.3 * rng.normal(size=v.shape).astype("float32")
         if v.trainable else np.zeros(v.shape, "float32")
         for v in layer.weights]
    )  # fmt: skip
    got = _np(layer(x, training=False))  # no noise outside training
    np.testing.assert_allclose(got, _np_moe(layer, x), rtol=1e-5, atol=1e-6)
    # Leading axes are tokens too: (B, S, d) gives the same rows.
    np.testing.assert_allclose(
        _np(layer(x[:10].reshape(2, 5, 6))).reshape(10, 6),
        _np_moe(layer, x[:10]), rtol=1e-5, atol=1e-6,
    )  # fmt: skip


def test_capacity_is_the_ceiling_of_factor_k_tokens_over_experts():
    assert float(expert_capacity(64, 2, 8, 1.25)) == 20.0  # exactly 20
    assert float(expert_capacity(10, 1, 4, 1.0)) == 3.0  # ceil(2.5)
    assert float(expert_capacity(4, 2, 3, 0.75)) == 2.0  # exactly 2


def test_capacity_drops_overflow_and_the_residual_carries_the_token():
    # Gate = identity, so each token's logits are its own 3 values.
    # First choices 0, 0, 0, 1; second choices 1, 2, 1, 0. With C = 2:
    # slot 0 keeps t0->0, t1->0, t3->1 and drops t2->0 (third for 0);
    # slot 1 keeps t0->1, t1->2, drops t2->1 and t3->0 (third ones).
    x = np.array(
        [[3, 2, 1], [3, 1, 2], [3, 2, 1], [2, 3, 1]], "float32"
    )  # fmt: skip
    indices = np.array([[0, 1], [0, 2], [0, 1], [1, 0]])
    want_kept = [[1, 1], [1, 1], [0, 0], [1, 0]]
    np.testing.assert_array_equal(
        _np(keep_within_capacity(indices, 3, 2.0)), want_kept
    )
    layer = MixtureOfExperts(
        num_experts=3, k=2, hidden_units=4, capacity_factor=0.75,
        noisy=False,
    )  # fmt: skip
    layer.build(x.shape)
    layer.gate_kernel.assign(np.eye(3, dtype="float32"))
    layer.b2.assign(np.ones((3, 3), "float32"))  # every expert adds >= 1
    route = layer.route(x)
    np.testing.assert_array_equal(_np(route["indices"]), indices)
    np.testing.assert_array_equal(_np(route["kept"]), want_kept)
    y = _np(layer(x))
    np.testing.assert_array_equal(y[2], x[2])  # all dropped: y = x
    assert np.all(y[[0, 1, 3]] != x[[0, 1, 3]])
    load = layer.load_summary()
    assert load["tokens"] == 4
    np.testing.assert_allclose(load["kept"], np.array([2, 2, 1]) / 8)
    np.testing.assert_allclose(load["routed"], np.array([4, 3, 1]) / 8)
    assert load["dropped"] == pytest.approx(3 / 8)
    layer.reset_load()
    assert layer.load_summary()["tokens"] == 0


def test_balance_losses_hand_computed():
    # softmax(ln 3, 0) = (3/4, 1/4). Tokens 0-2 pick expert 0, token 3
    # expert 1: f = (3/4, 1/4), P = (5/8, 3/8);
    # E * sum f P = 2 * (3/4 * 5/8 + 1/4 * 3/8) = 2 * 9/16 = 1.125.
    ln3 = math.log(3.0)
    logits = np.array([[ln3, 0], [ln3, 0], [ln3, 0], [0, ln3]], "float32")
    gates, indices = top_k_gates(logits, 1)
    assert float(switch_balance_loss(logits, indices, 2)) == pytest.approx(
        1.125
    )
    # Importance (3, 1): mean 2, variance 1, CV^2 = 1/4.
    assert float(importance_loss(gates, indices, 2)) == pytest.approx(0.25)
    # Uniform router probabilities give exactly 1 for any choice.
    uniform = np.zeros((6, 4), "float32")
    _, chosen = top_k_gates(uniform, 2)
    assert float(switch_balance_loss(uniform, chosen, 4)) == pytest.approx(1)


def _model(aux_weight=0.1, balance_loss="switch", noisy=False, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    h = MixtureOfExperts(
        num_experts=4, k=2, hidden_units=8, aux_weight=aux_weight,
        balance_loss=balance_loss, noisy=noisy, name="moe",
    )(h)  # fmt: skip
    return keras.Model(inputs, keras.layers.Dense(3)(h))


@pytest.mark.parametrize("balance_loss", ["switch", "importance"])
def test_model_losses_hold_the_aux_loss_and_train_step_adds_it(balance_loss):
    model = _model(balance_loss=balance_loss)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.integers(0, 3, size=16)
    moe = model.get_layer("moe")
    hidden = model.layers[1](x)
    want = 0.1 * float(moe.balance(moe.route(hidden)))
    model(x, training=True)
    assert len(model.losses) == 1
    assert float(model.losses[0]) == pytest.approx(want, rel=1e-5)
    model(x, training=False)
    assert model.losses == []  # inference adds none
    # The loop's step: loss = task loss + regularization_loss(model).
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss_fn = loops.replica_loss(loss)
    task_loss, _ = loss_fn(y, model(x, training=True))
    optimizer = keras.optimizers.SGD(0.0)  # the step changes nothing
    out = loops.train_step(model, optimizer, (x, y), loss_fn=loss_fn)
    assert float(out["loss"]) == pytest.approx(
        float(task_loss) + want, rel=1e-5
    )
    assert want > 0


def test_noise_has_the_softplus_standard_deviation_in_training_only():
    layer = MixtureOfExperts(num_experts=3, k=1, hidden_units=2, seed=3)
    x = np.tile(np.array([[1.0, -0.5]], "float32"), (20_000, 1))
    layer.build(x.shape)
    layer.noise_kernel.assign(np.array([[0.5, -1, 2], [0, 1, 0]], "float32"))
    clean = x[:1] @ _np(layer.gate_kernel)
    noisy = _np(layer.route(x, training=True)["logits"])
    std = np.log1p(np.exp(x[:1] @ _np(layer.noise_kernel)))  # softplus
    # Mean within 5 standard errors (std / sqrt(20,000)), std within 3%.
    assert np.all(np.abs(noisy.mean(0) - clean[0]) < 5 * std[0] / 141)
    np.testing.assert_allclose(noisy.std(0), std[0], rtol=0.03)
    np.testing.assert_array_equal(
        _np(layer.route(x[:5], training=False)["logits"]),
        np.repeat(clean, 5, axis=0),
    )


def test_round_trip_through_a_keras_file(tmp_path):
    model = _model(noisy=True)
    x = np.random.default_rng(2).normal(size=(5, 6)).astype("float32")
    before = _np(model(x))
    path = tmp_path / "moe.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded(x)), before, rtol=1e-6)
    layer = model.get_layer("moe")
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert again.get_config() == layer.get_config()


def test_bad_arguments_name_themselves():
    for kwargs, match in [
        ({"num_experts": 0}, "num_experts=0"),
        ({"num_experts": 2, "k": 3}, "k=3"),
        ({"capacity_factor": 0}, "capacity_factor=0"),
        ({"balance_loss": "cv"}, "balance_loss='cv'"),
        ({"aux_weight": -1}, "aux_weight=-1"),
        ({"noisy": "yes"}, "noisy='yes'"),
        ({"activation": "nope"}, "activation='nope'"),
        ({"seed": 1.5}, "seed=1.5"),
    ]:
        with pytest.raises(ValueError, match=match):
            MixtureOfExperts(**kwargs)


def test_a_tiny_run_on_two_replicas_lowers_the_loss_and_counts_tokens():
    # The load counts are kept per replica and summed when read (like a
    # metric's variables): 5 epochs of 256 examples count 1,280 tokens.
    # No collective ops (as tests/loops): collectives of strategies made
    # earlier in the same test process can collide on their instance keys
    # (seen in CI: 'Shape mismatch in the collective instance 101').
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    with strategy.scope():
        model = _model(aux_weight=0.01, noisy=True)
        optimizer = keras.optimizers.Adam(0.01)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)  # 3 classes
    history = loops.fit(
        model, optimizer,
        loops.supervised(
            keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
        loops.InMemory((x, y), 32),
        options=loops.LoopOptions(epochs=5, seed=0, verbose=0),
        strategy=strategy,
    )  # fmt: skip
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    load = model.get_layer("moe").load_summary()
    assert load["tokens"] == 5 * 256
    assert sum(load["routed"]) == pytest.approx(1.0)
