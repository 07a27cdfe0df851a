"""ODE-net classifier and its parameter-matched ResNet (Cheat sheet 7.7.3)."""

import numpy as np
import pytest

from keras_cheats.layers.ode_block import ODEBlock
from keras_cheats.models import odenet


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1)])
def test_every_solver_has_the_same_parameters(shape):
    counts = {}
    for solver in odenet.SOLVERS:
        config = odenet.ODENetConfig(solver=solver, filters=8, groups=4)
        model = odenet.build_odenet(shape, 10, config)
        counts[solver] = sum(int(np.prod(v.shape)) for v in
                             model.trainable_weights)  # fmt: skip
        assert model.output.shape == (None, 10)
        block = model.get_layer("ode_block")
        assert isinstance(block, ODEBlock)
        # The state is the image downsampled twice by 2: 8 -> 2, 28 -> 7.
        assert block.input.shape[1:] == (shape[0] // 4, shape[1] // 4, 8)
    assert len(set(counts.values())) == 1, counts
    # stem 3x3 (1 -> 8), two 4x4 stride-2 convs, three norms before the
    # block's and the head's, the block, the dense layer.
    c = 8
    block = 2 * (9 * (c + 1) * c + c) + 4 * c
    down = 2 * (16 * c * c + c)
    want = (9 * c + c) + down + 3 * 2 * c + block + (c * 10 + 10)
    assert counts["resnet"] == want


def test_resnet_is_one_euler_step():
    block = odenet.ode_block(odenet.ODENetConfig(solver="resnet", steps=7))
    assert (block.solver, block.steps) == ("euler", 1)
    block = odenet.ode_block(odenet.ODENetConfig(solver="rk4", steps=7))
    assert (block.solver, block.steps) == ("rk4", 7)


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="solver=.adams."):
        odenet.ODENetConfig(solver="adams")
    with pytest.raises(ValueError, match="steps=0"):
        odenet.ODENetConfig(steps=0)
    with pytest.raises(ValueError, match="divide filters=12; .*groups=8"):
        odenet.ODENetConfig(filters=12)
