"""Small fixed data sets: logic gates and the exact arrays of the lecture notes, plus sklearn's digits.

Every call returns fresh arrays, so changing them never changes what the next call returns.
"""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import invalid

__all__ = [
    "LOGIC_GATES", "logic_gate", "overfitting_points", "digit_bitmaps", "digit_query_bitmap",
    "TINY_SETS", "tiny_sets", "digits",
]

_GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
_GATE_OUTPUTS = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
    "xor": [0, 1, 1, 0],
}
LOGIC_GATES = tuple(_GATE_OUTPUTS)


def _lookup(argument: str, name, table: dict):
    if not isinstance(name, str):
        raise TypeError(f"Invalid type for argument `{argument}`: expected a string, one of "
                        f"{', '.join(map(repr, table))}. Received: {argument}={name!r}.")
    key = name.lower()
    if key not in table:
        raise invalid(argument, f"one of {', '.join(map(repr, table))}", name)
    return table[key]


def logic_gate(name: str):
    """The truth table of a two-input logic gate: "and", "or", "nand", "nor" or "xor" (any case).

    Returns x (4, 2) float64 with rows [0,0], [0,1], [1,0], [1,1] and y (4,) int64. "xor" is the
    classic set that no single perceptron can learn (not linearly separable).

    >>> x, y = logic_gate("xor")
    >>> y.tolist()
    [0, 1, 1, 0]
    """
    outputs = _lookup("name", name, _GATE_OUTPUTS)
    return _GATE_INPUTS.copy(), np.array(outputs, dtype=np.int64)


def overfitting_points():
    """The 10 points the lecture overfits with a deep sigmoid network (seed 003, §8.2).

    x = linspace(-4.5, 4.5, 10) and the printed y values, both float64 of shape (10, 1).
    """
    x = np.linspace(-4.5, 4.5, 10).reshape(-1, 1)
    y = np.array([0.9819, 0.7973, 1.9737, 0.1838, 1.3180,
                  -0.8361, -0.6591, -2.4701, -2.8122, -6.2512]).reshape(-1, 1)
    return x, y


# 5 rows x 4 columns, row-major, exactly as listed in seed 004 §4.5.
_BITMAPS = {
    "zero": [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0],
    "one": [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0],
    "two": [0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1],
    "three": [1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1],
}
_QUERY_BITMAP = [0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1]


def digit_bitmaps():
    """The 5x4 bitmaps of the digits zero to three from the lecture (seed 004 §4.5).

    Returns x (4, 20) float64, one flattened bitmap per row (`x[i].reshape(5, 4)` draws it), and
    y (4,) int64 = [0, 1, 2, 3]. The lecture itself regresses y / 3 with a sigmoid output.
    """
    x = np.array([_BITMAPS[name] for name in ("zero", "one", "two", "three")], dtype=np.float64)
    return x, np.arange(4, dtype=np.int64)


def digit_query_bitmap():
    """The lecture's `predict` bitmap (20,) float64: the network is asked which digit it is.

    It is pixel for pixel the bitmap of "two", so a network that fits the training set answers 2.
    """
    return np.array(_QUERY_BITMAP, dtype=np.float64)


_TINY_INPUTS = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
_TINY = {
    "4.2": (_TINY_INPUTS, [[0], [0], [1], [1]]),
    "4.4": (_TINY_INPUTS, [[0], [1], [1], [0]]),
    "4.4-listing": ([[1, 1, 1], [3, 3, 3], [2, 2, 2], [2, 2, 2]], [[1], [1], [0], [1]]),
}
TINY_SETS = tuple(_TINY)


def tiny_sets(name: str):
    """The 4-sample training sets of seed 004, as float64 x (4, 3) and y (4, 1).

    - "4.2": the one-layer network's data, y = first input column (the third column is a constant 1,
      which acts as a bias). With the listing's code it reproduces the printed output.
    - "4.4": the data that actually produces listing 4.4's printed output (≈ [0, 1, 1, 0]):
      y = XOR of the first two columns, on the same inputs as 4.2. Run through the listing's code
      (np.random.seed(1), 60,000 steps) it reproduces the printed errors and outputs.
    - "4.4-listing": the arrays printed in listing 4.4 itself, x = [[1,1,1], [3,3,3], [2,2,2],
      [2,2,2]] and y = [[1], [1], [0], [1]]. They cannot produce that output: rows 3 and 4 are
      identical with different targets (the same code ends near [0.91, 0.69, 0.69, 0.69]).
      Kept so the discrepancy can be shown.
    """
    x, y = _lookup("name", name, _TINY)
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def digits():
    """scikit-learn's bundled 8x8 handwritten digits (no download needed).

    Returns x (1797, 64) float64 with pixel values 0..16 and y (1797,) int64 in 0..9.
    Needs the optional extra: pip install "mlplab[sklearn]".
    """
    try:
        from sklearn.datasets import load_digits  # optional dependency, imported only here
    except ImportError as err:
        raise ImportError(
            "mlplab.datasets.digits() needs scikit-learn, which is not installed. "
            'Install it with: pip install "mlplab[sklearn]"'
        ) from err
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)
