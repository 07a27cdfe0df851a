"""The speed benchmark's parts (the benchmark itself runs by hand)."""

import numpy as np
import pytest

from benchmarks import measure, speed


def test_forward_flops_of_the_mlp_hand_computed():
    # 784x128 and 128x10 matmuls (2 FLOPs per multiply-add) plus the bias
    # additions; training counts 3x the forward pass.
    forward = 2 * 784 * 128 + 2 * 128 * 10 + 128 + 10
    assert measure.run({"trainer": "flops", "workload": "mlp"}, None) == {
        "train_flops": 3 * forward
    }


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"input": "tf.data"},
        {"input": "per-example tf.data"},
        {"input": "prebatched", "jit_compile": 0, "steps_per_execution": 4},
    ],
)
def test_loop_measurement_reports_a_rate(tmp_path, extra):
    spec = dict(trainer="loop", workload="mlp", batch_size=64)
    result = measure.run(
        {**spec, "examples": 256, "epochs": 1, **extra}, tmp_path
    )
    assert result["samples_per_second"] > 0
    assert np.isclose(
        256 / result["samples_per_second"], result["epoch_seconds"]
    )


def test_fit_measurement_reports_a_rate(tmp_path):
    spec = dict(trainer="fit", workload="mlp", batch_size=64, examples=256)
    spec.update(epochs=1, steps_per_execution=4, jit_compile=0)
    assert measure.run(spec, tmp_path)["samples_per_second"] > 0


def test_data_tiles_past_the_set_it_has(tmp_path):
    x, y = measure._data(9000, tmp_path)  # random stand-in of 8,000
    assert x.shape == (9000, 28, 28, 1)
    np.testing.assert_array_equal(x[8000:], x[:1000])


def test_tables_cover_the_four_workloads_and_the_curves():
    peers = speed.table_jobs("peers", speed.WORKLOADS)
    assert {j["workload"] for j in peers} == set(speed.WORKLOADS)
    assert {j["trainer"] for j in peers} == {"loop", "fit", "torch"}
    batch = speed.table_jobs("batch", ["mlp"])
    assert sorted({j["batch_size"] for j in batch}) == [
        32,
        64,
        128,
        256,
        512,
        1024,
    ]
    with pytest.raises(ValueError, match="'speedy'"):
        speed.table_jobs("speedy", [])


def test_best_of_keeps_the_fastest_round_and_every_rate():
    tries = [
        {"samples_per_second": 5.0, "epoch_seconds": 2.0},
        {"error": "killed"},
        {"samples_per_second": 8.0, "epoch_seconds": 1.25},
    ]
    assert speed.best_of(tries) == {
        "samples_per_second": 8.0,
        "epoch_seconds": 1.25,
        "rounds": [5.0, 8.0],
    }
    assert speed.best_of([{"error": "x"}]) == {"error": "x"}


def test_pipeline_cost_is_the_median_of_per_round_ratios(capsys):
    def row(kind, rounds):
        return dict(workload="mlp", input=kind, rounds=rounds)

    speed._pipeline_costs(
        [row("memory", [3, 2, 1]), row("prebatched", [4, 2, 2])]
    )
    # Per round: 1 - 3/4, 1 - 2/2, 1 - 1/2; the median is 25%.
    assert "memory +25.0%" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["memory", "tf.data"])
def test_input_only_measurement_reads_every_batch(tmp_path, kind):
    spec = dict(trainer="input", workload="mlp", batch_size=64, input=kind)
    result = measure.run({**spec, "examples": 256, "epochs": 1}, tmp_path)
    assert result["samples_per_second"] > 0
