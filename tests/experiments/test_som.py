"""experiments.som: the U-matrix, the unit labels, the config, and the
experiment run as users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from experiments import config_flags, som
from tests.conftest import REPO


def test_u_matrix_hand_computed():
    # A 2 x 2 grid of 1-D prototypes 0, 1 / 3, 7: every unit neighbours
    # the other three (8-neighbourhood), so U_j = mean |w_j - w_k|.
    u = som.u_matrix(np.array([[0.0], [1.0], [3.0], [7.0]]), 2, 2)
    want = [
        [(1 + 3 + 7) / 3, (1 + 2 + 6) / 3],
        [(3 + 2 + 4) / 3, (7 + 6 + 4) / 3],
    ]
    np.testing.assert_allclose(u, want)
    # A 1 x 3 line: the middle unit has two neighbours, the ends one.
    line = som.u_matrix(np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 0.0]]), 1, 3)
    np.testing.assert_allclose(line, [[5.0, (5 + 4) / 2, 4.0]])


def test_unit_labels_take_the_majority_or_the_nearest_image():
    train_x = np.array([[0.0], [0.1], [0.2], [5.0], [9.0]])
    train_y = np.array([1, 1, 2, 3, 4])
    bmu = np.array([0, 0, 0, 1, 1])  # unit 2 wins nothing
    prototypes = np.array([[0.1], [6.0], [8.5]])
    labels, hits = som.unit_labels(bmu, train_y, prototypes, train_x, 5)
    assert hits.tolist() == [3, 2, 0]
    # Unit 1 ties 3 and 4: argmax takes the first; unit 2 the image at 9.
    assert labels.tolist() == [1, 3, 4]


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="rows=0"):
        som.Config(rows=0)
    with pytest.raises(ValueError, match="at least 2 units"):
        som.Config(rows=1, cols=1)
    with pytest.raises(ValueError, match="eta_end=0.9"):
        som.Config(eta_start=0.5, eta_end=0.9)
    with pytest.raises(ValueError, match="sigma_start=0"):
        som.Config(sigma_start=0)
    with pytest.raises(ValueError, match="init='pca'"):
        som.Config(init="pca")
    values = flags.FlagValues()
    config_flags.define(som.Config, flag_values=values)
    values(["prog", "--rows=5", "--cols=7", "--init=uniform"])
    config = config_flags.parse(som.Config, flag_values=values)
    assert (config.rows, config.cols, config.init) == (5, 7, "uniform")


@pytest.mark.slow
def test_command_line_maps_the_digits(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.som", "--rows=8", "--cols=8",
         "--epochs=3", f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["num_test"] == 360
    # The test images come closer to their BMUs epoch after epoch.
    val = saved["history"]["val_quantization_error"]
    assert val[-1] < val[0], val
    assert saved["quantization_error"] == pytest.approx(val[-1], rel=1e-4)
    assert saved["topographic_error"] < 0.2  # 0.003 measured
    assert saved["bmu_accuracy"] > 0.7  # 0.83 measured; chance is 0.1
    assert f"quantization error {saved['quantization_error']:.4f}" in (
        done.stdout
    )
    assert f"accuracy {saved['bmu_accuracy']:.4f}" in done.stdout
    for name in ("prototypes.png", "u_matrix.png", "hit_map.png"):
        assert (tmp_path / name).stat().st_size > 0, name
