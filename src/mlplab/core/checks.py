"""Argument checks shared by the library: each error names the argument, what was expected and what was received."""
from __future__ import annotations

import numbers

import numpy as np


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def invalid(name: str, expected: str, value) -> ValueError:
    """Build the library's standard ValueError for argument `name`."""
    return ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. Received: {name}={_describe(value)}."
    )


def check_number(name: str, value, *, low=None, high=None, low_open=False, high_open=False,
                 integer=False, allow_none=False):
    """Return `value` if it is a real number (or int) within the given bounds, else raise."""
    if value is None and allow_none:
        return value
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(
            f"Invalid type for argument `{name}`: expected {'an integer' if integer else 'a number'}. "
            f"Received: {name}={_describe(value)} of type {type(value).__name__}."
        )
    if value != value:  # NaN
        raise invalid(name, "a finite number", value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise invalid(name, f"a value in {interval}", value)
    return value


def check_bool(name: str, value) -> bool:
    """Return `value` as a bool if it is True or False (not "False", not 0)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Invalid type for argument `{name}`: expected True or False. "
                        f"Received: {name}={_describe(value)} of type {type(value).__name__}.")
    return bool(value)


def check_choice(name: str, value, choices):
    """Return `value` if it is one of `choices`, else raise listing them."""
    if not isinstance(value, str) or value not in choices:
        raise invalid(name, " or ".join(repr(c) for c in choices), value)
    return value


def as_array(name: str, value, dtype=None, *, min_ndim: int = 1, allow_empty: bool = False,
             finite: bool = True) -> np.ndarray:
    """Convert `value` to a finite numeric array, rejecting strings, objects, NaN/inf and empty input.
    finite=False leaves the NaN/inf check to the caller (`check_finite`, e.g. chunk by chunk)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"Invalid type for argument `{name}`: expected a numeric array. Received: a string.")
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"Invalid type for argument `{name}`: expected a plain array; masked arrays are not "
                        f"supported. Fill or drop the masked values first (e.g. {name}.filled(0) or "
                        f"{name}[~{name}.mask.any(axis=1)]).")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise TypeError(f"Invalid type for argument `{name}`: expected a numeric array. Received: {err}.") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Invalid type for argument `{name}`: expected a numeric array (bool, int or float). "
            f"Received: an array of dtype {arr.dtype}. Convert strings or objects to numbers first; for a table "
            f"with text columns (a pandas DataFrame), mlplab.files.preprocessing.prepare_table(frame, target) "
            f"encodes it as `mlplab train` does."
        )
    if arr.ndim < min_ndim:
        raise invalid(name, f"an array with at least {min_ndim} dimension(s)", arr)
    if arr.size == 0 and not allow_empty:
        raise invalid(name, "a non-empty array", arr)
    if dtype is not None and arr.dtype != dtype:
        original = arr
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(dtype)
        if finite and arr.dtype.kind == "f" and not all_finite(arr) and all_finite(original):
            largest = float(np.max(np.abs(original)))
            raise invalid(name, f"values within {arr.dtype}'s range (±{np.finfo(arr.dtype).max:.3g}); rescale "
                                f"them or use dtype='float64' (largest magnitude found: {largest:.3g})", original)
    if finite:
        check_finite(name, arr)
    return arr


def check_finite(name: str, arr: np.ndarray, first_row: int = 0, whole=None, source=None) -> None:
    """Raise naming the first NaN/inf of `arr`; `arr` may be rows `first_row`... of the argument `whole`,
    cast from `source` (then values that overflowed in the cast are reported as such)."""
    if arr.dtype.kind == "f" and arr.size and not all_finite(arr):
        if source is not None:
            as_array(name, source, arr.dtype, min_ndim=0)  # raises the overflow message if that is the cause
        bad = np.argwhere(~np.isfinite(arr))[0]
        bad[0] += first_row
        raise invalid(name, f"finite values only (NaN/inf found at index {tuple(int(i) for i in bad)})",
                      arr if whole is None else whole)


def resolve_dtype(dtype) -> np.dtype:
    """The model dtype: float32 (default) or float64."""
    if dtype is None:  # np.dtype(None) would silently mean float64
        raise invalid("dtype", "'float32' or 'float64'", dtype)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise invalid("dtype", "'float32' or 'float64'", dtype) from None
    if resolved not in (np.float32, np.float64):
        raise invalid("dtype", "'float32' or 'float64'", dtype)
    return resolved


def make_rng(seed, name: str = "seed") -> np.random.Generator:
    """`np.random.default_rng(seed)` after checking that `seed` is None, an int >= 0 or a Generator."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Invalid type for argument `{name}`: expected None, a non-negative integer or a "
                        f"numpy.random.Generator. Received: {name}={seed!r} of type {type(seed).__name__}.")
    if seed < 0:
        raise invalid(name, "None, a non-negative integer or a numpy.random.Generator", seed)
    return np.random.default_rng(int(seed))


SMALL = 65536  # arrays up to this size are checked for NaN/inf directly


def all_finite(arr: np.ndarray) -> bool:
    """np.isfinite(arr).all() in one pass and without its temporary array of booleans: a NaN or ±inf
    makes its row's sum non-finite. The row sums are a matrix-vector product with ones, which BLAS does
    on every core. Only a non-finite sum (or finite values overflowing it) calls for a closer look.
    Small arrays take the direct test: for them the call overhead is all there is."""
    if arr.size <= SMALL:
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):
        rows = arr.reshape(len(arr), -1) if arr.ndim > 1 and arr.size else arr.reshape(1, -1)
        if np.isfinite(rows @ np.ones(rows.shape[1], rows.dtype)).all():
            return True
    return bool(np.isfinite(np.min(arr)) and np.isfinite(np.max(arr)))
