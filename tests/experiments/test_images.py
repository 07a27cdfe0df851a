import numpy as np
import pytest
import tensorflow as tf

from experiments import images


def test_grid_places_each_image_and_png_round_trips(tmp_path):
    x = np.stack([np.full((2, 3, 1), v, np.float32) for v in (0.0, 0.5, 1.0)])
    g = images.grid(x, columns=2, pad=1)
    assert g.shape == (2 * 3 + 1, 2 * 4 + 1, 1)
    assert g[1, 1, 0] == 0.0 and g[1, 5, 0] == 0.5 and g[4, 1, 0] == 1.0
    path = images.save_grid(tmp_path / "g.png", x, columns=2)
    decoded = tf.io.decode_png(path.read_bytes()).numpy()
    assert decoded.shape == g.shape and decoded[1, 5, 0] == 128
    with pytest.raises(ValueError, match="columns=0"):
        images.grid(x, columns=0)


def test_side_by_side_interleaves_inputs_and_outputs():
    a, b = np.zeros((4, 2, 2, 1)), np.ones((4, 4))
    s = images.side_by_side(a, b, pairs=3)
    assert s.shape == (6, 2, 2, 1)
    assert s[0].max() == 0 and s[1].min() == 1
