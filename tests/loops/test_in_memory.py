"""The in-memory input: same batches as tf.data, sharded across replicas."""

import numpy as np
import pytest
import tensorflow as tf

import loops
from tests.loops.helpers import fit_toy_with, toy_data


def _batches(ds):
    return [tuple(np.asarray(t) for t in b) for b in ds]


def test_shuffled_order_is_a_pure_function_of_seed_and_epoch():
    order = loops.shuffled(3)
    np.testing.assert_array_equal(order(1, 50), order(1, 50))
    assert not np.array_equal(order(0, 50), order(1, 50))
    assert sorted(order(2, 50)) == list(range(50))


def test_indices_drop_the_remainder_and_skip_resumes():
    x, y = toy_data(n=69)
    data = loops.InMemory((x, y), 16, loops.shuffled(0), drop_remainder=True)
    assert data.steps_per_epoch == 4
    assert data.indices(0).shape == (64,)
    whole = _batches(data.dataset(1))
    resumed = _batches(data.dataset(1, skip=3))
    assert len(whole) == 4 and len(resumed) == 1
    np.testing.assert_array_equal(resumed[0][0], whole[3][0])
    np.testing.assert_array_equal(whole[0][0], x[data.indices(1)[:16]])


def test_map_fn_applies_to_each_gathered_batch():
    x, y = toy_data(n=20)
    data = loops.InMemory((x, y), 8, map_fn=lambda a, b: (a, a * 2))
    (a, b), *_ = _batches(data.dataset(0))
    np.testing.assert_allclose(b, 2 * x[:8])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(arrays=[np.zeros(3)]), "expected a non-empty tuple"),
        (dict(arrays=(np.zeros(3), np.zeros(4))), r"\[3, 4\] examples"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(batch_size=9, drop_remainder=True), "leaves no batch"),
        (dict(order=5), "order=5"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    args = dict(arrays=(np.zeros((8, 2)), np.zeros(8)), batch_size=4)
    with pytest.raises(ValueError, match=message):
        loops.InMemory(**{**args, **kwargs})


def test_an_order_that_is_not_a_permutation_is_refused():
    data = loops.InMemory((np.zeros(8),), 4, order=lambda e, n: np.arange(3))
    with pytest.raises(ValueError, match=r"shape \(3,\); expected"):
        data.indices(0)


def test_in_memory_trains_exactly_as_tf_data_with_the_same_batches():
    x, y = toy_data()  # 69 examples: a last partial batch of 5
    data = loops.InMemory((x, y), 16, loops.shuffled(4))
    h1, w1 = fit_toy_with(data, jit_compile=False)
    h2, w2 = fit_toy_with(data.dataset, jit_compile=False)  # tf.data
    # The same updates, bit for bit; the epoch means differ in the last
    # float32 digit because the calls group the sums differently.
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-6)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert h1["loss"][-1] < h1["loss"][0]


@pytest.mark.slow
def test_two_replicas_share_each_in_memory_batch():
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(
        cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    x, y = toy_data()
    data = loops.InMemory((x, y), 16, loops.shuffled(4))
    h1, w1 = fit_toy_with(
        data, tf.distribute.OneDeviceStrategy(cpus[0]), jit_compile=False
    )
    h2, w2 = fit_toy_with(data, mirrored)
    np.testing.assert_allclose(h2["loss"], h1["loss"], atol=1e-5)
    np.testing.assert_allclose(h2["accuracy"], h1["accuracy"], atol=1e-6)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(b, a, atol=1e-5)


@pytest.mark.parametrize("strategy", ["default", "one_device"])
def test_xla_compiles_whole_calls_and_trains_as_without_it(strategy):
    x, y = toy_data()
    data = loops.InMemory((x, y), 16, loops.shuffled(4))
    chosen = (
        tf.distribute.OneDeviceStrategy("/CPU:0")
        if strategy == "one_device"
        else None
    )
    h_xla, w_xla = fit_toy_with(data, chosen, jit_compile=True)
    h_off, w_off = fit_toy_with(data, chosen, jit_compile=False)
    np.testing.assert_allclose(h_xla["loss"], h_off["loss"], rtol=1e-5)
    for a, b in zip(w_xla, w_off):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
