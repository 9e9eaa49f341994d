"""Argument checks shared by the library: each error names the argument, what was expected and what was received."""
from __future__ import annotations

import math
import numbers

import numpy as np

from mlplab.core.sparse import SparseRows, is_sparse, sparse_rows


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
                 integer=False, allow_none=False, allow_inf=False):
    """Return `value` if it is a real number (or int) within the given bounds, else raise. Infinity is
    refused unless `allow_inf` (for a parameter whose documentation gives infinity a meaning)."""
    if value is None and allow_none:
        return value
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(
            f"Invalid type for argument `{name}`: expected {'an integer' if integer else 'a number'}. "
            f"Received: {name}={_describe(value)} of type {type(value).__name__}."
        )
    if value != value or (not allow_inf and not isinstance(value, numbers.Integral) and math.isinf(value)):
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
    if isinstance(value, SparseRows) or is_sparse(value):  # kept sparse: only a first Dense layer takes it
        rows = sparse_rows(name, value, dtype)
        if finite:
            check_finite(name, rows)
        return rows
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
        arr = checked_cast(name, arr, dtype) if finite else _quiet_cast(arr, dtype)
    if finite:
        check_finite(name, arr)
    return arr


def _quiet_cast(arr: np.ndarray, dtype) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return arr.astype(dtype, copy=False)


def checked_cast(name: str, arr, dtype, hint: str = "rescale them or use dtype='float64'") -> np.ndarray:
    """`arr` cast to the float `dtype`, refusing finite values that the cast would turn into ±inf (the
    error names `name`, the range and the largest magnitude). NaN/inf already there pass unchanged."""
    original = np.asarray(arr)
    cast = _quiet_cast(original, dtype)
    if cast.dtype.kind == "f" and cast.size and not all_finite(cast):
        magnitudes = np.abs(original[np.isfinite(original)]) if original.dtype.kind == "f" else np.abs(original)
        largest = float(np.max(magnitudes)) if magnitudes.size else 0.0
        if largest > float(np.finfo(cast.dtype).max):
            raise invalid(name, f"values within {cast.dtype}'s range (±{np.finfo(cast.dtype).max:.3g}); {hint} "
                                f"(largest magnitude found: {largest:.3g})", original)
    return cast


def as_float32(name: str, arr, hint: str = "rescale them or use dtype='float64'") -> np.ndarray:
    """The one checked float32 cast (core, estimators, ONNX export): overflow is an error naming `name`."""
    return checked_cast(name, arr, np.float32, hint)


def check_finite(name: str, arr: np.ndarray, first_row: int = 0, whole=None, source=None) -> None:
    """Raise naming the first NaN/inf of `arr`; `arr` may be rows `first_row`... of the argument `whole`,
    cast from `source` (then values that overflowed in the cast are reported as such)."""
    if isinstance(arr, SparseRows):  # NaN/inf can only be among the stored values
        if arr.dtype.kind == "f" and not np.isfinite(arr.nonzeros).all():
            raise invalid(name, "finite values only (NaN/inf found among the stored values of the sparse matrix)",
                          arr if whole is None else whole)
        return
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
TINY = 64  # ... and up to this size as Python floats


def all_finite(arr: np.ndarray) -> bool:
    """np.isfinite(arr).all() in one pass and without its temporary array of booleans: a NaN or ±inf
    makes its row's sum non-finite. The row sums are a matrix-vector product with ones, which BLAS does
    on every core. Only a non-finite sum (or finite values overflowing it) calls for a closer look.
    Small arrays take the direct test: for them the call overhead is all there is (a one-row prediction's
    few outputs: Python floats, half the cost of two NumPy calls)."""
    if arr.size <= TINY:
        return all(map(math.isfinite, arr.ravel().tolist()))
    if arr.size <= SMALL:
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):
        rows = arr.reshape(len(arr), -1) if arr.ndim > 1 and arr.size else arr.reshape(1, -1)
        if np.isfinite(rows @ np.ones(rows.shape[1], rows.dtype)).all():
            return True
    return bool(np.isfinite(np.min(arr)) and np.isfinite(np.max(arr)))


def check_string(name: str, value) -> str:
    """Return `value` if it is a string (a name such as a monitored metric), else a TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"Invalid type for argument `{name}`: expected a string. "
                        f"Received: {name}={_describe(value)} of type {type(value).__name__}.")
    return value


def check_weight(name: str, value, shape: tuple, dtype, where: str = "", finite: bool = True) -> np.ndarray:
    """`value` as an array of `shape` in the float `dtype` (a weight from an initializer or set_weights):
    numeric, of that shape, finite and representable in `dtype`; else an error naming `name` and `where`.
    finite=False only checks type and shape (NaNGuard restores a snapshot that may hold NaN)."""
    shaped = "" if shape is None else f" of shape {tuple(shape)}"
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"Invalid type for argument `{name}`: expected an array{shaped}{where}. "
                        f"Received: {name}={_describe(value)} of type {type(value).__name__}.")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise TypeError(f"Invalid type for argument `{name}`: expected an array{shaped}{where}. Received: a "
                        f"ragged nested list (rows of different lengths?): {str(err).rstrip('.')}.") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Invalid type for argument `{name}`: expected a numeric array{shaped}{where}. "
                        f"Received: an array of dtype {arr.dtype}.")
    if shape is not None and arr.shape != tuple(shape):
        raise invalid(name, f"an array{shaped}{where}", arr)
    if not finite:
        return _quiet_cast(arr, dtype)
    arr = checked_cast(name, arr, dtype, f"rescale them or use dtype='float64'{where}")
    if not all_finite(arr):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise invalid(name, f"finite values representable in {arr.dtype}{where} (NaN/inf found at index {bad})", arr)
    return arr


REQUIRED, OPTIONAL = True, False


def check_config(config, schema, path: str = "config"):
    """Check a config dict against `schema` before anything is built; an error names the path of the bad
    field (e.g. config['layers'][1]['class_name']). A schema is a type (or tuple of types), a list
    [item_schema] for a list of items, or a dict {key: (schema, REQUIRED or OPTIONAL)}; keys the schema
    does not name are left to the caller."""
    if isinstance(schema, dict):
        if not isinstance(config, dict):
            raise TypeError(f"Invalid type for `{path}`: expected a dict with keys "
                            f"{sorted(schema)}. Received: {_describe(config)} of type {type(config).__name__}.")
        for key, (sub, required) in schema.items():
            if key in config:
                check_config(config[key], sub, f"{path}[{key!r}]")
            elif required:
                raise ValueError(f"Invalid value for `{path}`: the field {key!r} is missing "
                                 f"(fields present: {sorted(map(str, config))}).")
    elif isinstance(schema, list):
        if not isinstance(config, (list, tuple)):
            raise TypeError(f"Invalid type for `{path}`: expected a list. "
                            f"Received: {_describe(config)} of type {type(config).__name__}.")
        for index, item in enumerate(config):
            check_config(item, schema[0], f"{path}[{index}]")
    else:
        types = schema if isinstance(schema, tuple) else (schema,)
        wrong_bool = isinstance(config, bool) and bool not in types and int in types
        if not isinstance(config, types) or wrong_bool:
            names = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            raise TypeError(f"Invalid type for `{path}`: expected {names}. "
                            f"Received: {_describe(config)} of type {type(config).__name__}.")
    return config
