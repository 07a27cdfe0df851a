"""experiments.digit_attributes: the table zero-shot learning relies on."""

import itertools

import numpy as np

from experiments import digit_attributes as da


def test_ten_distinct_binary_rows():
    assert da.TABLE.shape == (10, len(da.NAMES))
    assert 8 <= len(da.NAMES) <= 15
    assert set(np.unique(da.TABLE)) == {0.0, 1.0}
    for a, b in itertools.combinations(range(10), 2):
        distance = int(np.abs(da.TABLE[a] - da.TABLE[b]).sum())
        assert distance >= 1, f"digits {a} and {b} share one description"


def test_every_attribute_varies_among_the_default_seen_classes():
    # Seen: 0 to 6 (the default unseen 7, 8, 9): an attribute constant
    # there is one the model never sees switch.
    seen = da.TABLE[:7]
    assert (seen.max(axis=0) == 1).all() and (seen.min(axis=0) == 0).all()


def test_describe_reads_the_table():
    assert da.describe(1) == "vertical_stroke"
    assert da.describe(7) == (
        "top_edge, right_upper, vertical_stroke, diagonal_stroke"
    )
    assert da.TABLE[8, da.NAMES.index("closed_loop")] == 1.0
