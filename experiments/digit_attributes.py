"""A hand-written attribute table of the ten digits, for zero-shot learning
(cheat sheet 8.1).

Zero-shot learning names a class it never saw by its description: here a
vector of binary attributes per digit, as most people write it (the
MNIST shapes: an open 4, a 7 without a crossbar, a 1 as one stroke). A
model that predicts the attributes of an image from the seen classes
can then score the unseen classes by their rows of `TABLE`.

Two things the table must give (tests check both): ten distinct rows,
else two classes cannot be told apart; and with the default unseen
classes 7, 8, 9, every attribute takes both values among the seen classes
0 to 6, else the model never learns when it is on (or off).

A first table of shape words (loop at the top, bar at the top, open on
the left, symmetric, crossing strokes, a waist...) scored at chance on
MNIST: a CNN trained on 0 to 6 learned each such attribute as "looks like
one of the seen digits that has it" (a 9 got the attributes of a 4). The
table below, written after that, describes mostly where the ink lies,
which a CNN's local features carry over to unseen digits.
"""

import numpy as np

# Attribute name -> the digits that have it, with the reason. Most say
# where the ink lies (a CNN's local features carry that across classes);
# the upper/lower half and left/right half are of the digit's box.
DIGITS_WITH = {
    # A stroke along the top edge: 0, 3, 8, 9's arcs, 2's hook, 5's flag,
    # 7's bar (6 starts with a thin rising tip, 1 and 4 with stroke ends).
    "top_edge": (0, 2, 3, 5, 7, 8, 9),
    # A stroke along the bottom edge: 0, 3, 5, 6, 8's arcs, 2's base
    # (1, 4, 7 and 9 end in the tip of a stem).
    "bottom_edge": (0, 2, 3, 5, 6, 8),
    # Ink on the left of the upper half: 0, 6, 8's arcs, 9's loop, 4's
    # arm, 5's upright.
    "left_upper": (0, 4, 5, 6, 8, 9),
    # Ink on the left of the lower half: 0, 6, 8's arcs, 2's corner.
    "left_lower": (0, 2, 6, 8),
    # Ink on the right of the upper half: 0, 3, 8's arcs, 2's hook, 9's
    # loop, 4's stem, 7's bar.
    "right_upper": (0, 2, 3, 4, 7, 8, 9),
    # Ink on the right of the lower half: 0, 3, 5, 6, 8's arcs, the stems
    # of 4 and 9.
    "right_lower": (0, 3, 4, 5, 6, 8, 9),
    # A stroke across the middle: 3's cusp, 4's bar, 5's turn, 6's and 9's
    # loops closing there, 8's waist (the middle of 0 is its hole).
    "middle_across": (3, 4, 5, 6, 8, 9),
    # A closed loop: 0, 6, 8 and 9 (4 written open).
    "closed_loop": (0, 6, 8, 9),
    # A long straight near-vertical stroke: 1, and the stems of 4, 7, 9.
    "vertical_stroke": (1, 4, 7, 9),
    # A long straight diagonal from upper right to lower left: 2's
    # descent, 7's slanted stem.
    "diagonal_stroke": (2, 7),
}

NAMES = tuple(DIGITS_WITH)
NUM_CLASSES = 10
# (10, A) float32: TABLE[c, a] = 1 if digit c has attribute a.
TABLE = np.array(
    [[float(c in DIGITS_WITH[a]) for a in NAMES] for c in range(NUM_CLASSES)],
    np.float32,
)


def describe(digit) -> str:
    """The attributes of one digit, comma-separated."""
    return ", ".join(a for a in NAMES if digit in DIGITS_WITH[a])
