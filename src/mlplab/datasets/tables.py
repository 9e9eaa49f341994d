"""Reading the user's data for the command line: a CSV file with a header row, or an .npz with x and y.

Every problem is a ValueError naming the file and the column or line, so the command prints one line.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MAX_CLASSES_FOR_NUMBERS = 20  # integer targets with at most this many values are taken as classes


@dataclass
class Table:
    """Columns of strings (CSV) or numbers (.npz), in file order, and where they came from."""
    path: str
    columns: dict  # name -> list of str (CSV) or np.ndarray (npz)
    first_line: int = 2  # line number of the first data row (1 is the header)
    target_hint: str | None = None  # the .npz target column name
    sparse: object = None  # a sparse .npz: x as a scipy CSR matrix (its columns x0, x1, ... are None above)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self):
        return self.sparse.shape[0] if self.sparse is not None else len(next(iter(self.columns.values())))


def read_table(path) -> Table:
    """A CSV with a header row, or an .npz with arrays x (n_samples, n_features) and optionally y."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"No data file {path!r}: expected a CSV file with a header row, an .npz with x and y, "
                         f"or a built-in dataset name (moons, circles, spirals, blobs).")
    if path.lower().endswith(".npz"):
        return _read_npz(path)
    with open(path, newline="", encoding="utf-8-sig") as file:
        try:
            rows = list(csv.reader(file))
        except (csv.Error, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not a readable CSV file ({err}).") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path}: the file is empty; expected a header row and data rows.")
    header = [name.strip() for name in rows[0]]
    for index, name in enumerate(header):
        if not name:
            raise ValueError(f"{path}: column {index + 1} of the header row has no name.")
        if header.index(name) != index:
            raise ValueError(f"{path}: the header names column {name!r} twice.")
    if len(rows) == 1:
        raise ValueError(f"{path}: the file has a header row but no data rows.")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line} has {len(row)} values; the header has {len(header)} columns.")
    columns = {name: [row[i].strip() for row in rows[1:]] for i, name in enumerate(header)}
    return Table(path, columns)


def _read_npz(path) -> Table:
    try:
        with np.load(path, allow_pickle=False) as archive:  # never unpickle
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npz file ({err}).") from None
    if "x" not in arrays and ({"data", "indices", "indptr", "shape"} <= set(arrays)
                              or {"x_data", "x_indices", "x_indptr", "x_shape"} <= set(arrays)):
        return _read_sparse_npz(path, arrays)
    if "x" not in arrays:
        raise ValueError(f"{path}: expected an array named 'x' (and 'y' for training). "
                         f"Found: {', '.join(arrays) or 'nothing'}.")
    x = arrays["x"]
    if x.ndim != 2 or len(x) == 0 or x.dtype.kind not in "biuf":
        raise ValueError(f"{path}: 'x' must be a non-empty numeric array of shape (n_samples, n_features). "
                         f"Received: shape {x.shape}, dtype {x.dtype}.")
    columns = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    if "y" in arrays:
        y = arrays["y"]
        if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "biufU":
            raise ValueError(f"{path}: 'y' must be a 1-D array of numbers or strings with one value per row "
                             f"of x. Received: shape {y.shape}, dtype {y.dtype}.")
        columns["y"] = y
    return Table(path, columns, target_hint="y" if "y" in arrays else None)


def _read_sparse_npz(path, arrays) -> Table:
    """A sparse x, kept sparse: scipy.sparse.save_npz's file (data, indices, indptr, shape, format), or the
    same arrays prefixed x_ (x_data, ...) next to a 'y'. CSR or CSC; never densified."""
    import scipy.sparse  # only for sparse files

    prefix = "x_" if "x_data" in arrays else ""
    kind = arrays.get(prefix + "format", np.array("csr")).item()
    kind = (kind.decode("ascii", "replace") if isinstance(kind, bytes) else str(kind)).lower()
    if kind not in ("csr", "csc"):
        raise ValueError(f"{path}: a sparse 'x' must be in CSR or CSC format. Received: {kind!r}.")
    try:
        parts = (arrays[prefix + "data"], arrays[prefix + "indices"], arrays[prefix + "indptr"])
        build = scipy.sparse.csr_matrix if kind == "csr" else scipy.sparse.csc_matrix
        x = build(parts, shape=tuple(int(d) for d in arrays[prefix + "shape"])).tocsr()
        x.check_format(full_check=True)
    except (ValueError, TypeError, IndexError) as err:
        raise ValueError(f"{path}: not a valid sparse matrix ({err}).") from None
    if x.shape[0] == 0 or x.shape[1] == 0 or x.dtype.kind not in "biuf" or not np.isfinite(x.data).all():
        raise ValueError(f"{path}: a sparse 'x' must be non-empty, numeric and finite. Received: shape {x.shape}, "
                         f"dtype {x.dtype}.")
    columns = {f"x{i}": None for i in range(x.shape[1])}
    if "y" in arrays:
        y = arrays["y"]
        if y.ndim != 1 or len(y) != x.shape[0] or y.dtype.kind not in "biufU":
            raise ValueError(f"{path}: 'y' must be a 1-D array of numbers or strings with one value per row "
                             f"of x. Received: shape {y.shape}, dtype {y.dtype}.")
        columns["y"] = y
    return Table(path, columns, target_hint="y" if "y" in arrays else None, sparse=x)


def numeric_column(table: Table, name: str) -> np.ndarray:
    """The column as float64; names the first missing or non-numeric value and its line."""
    values = table.columns[name]
    if isinstance(values, np.ndarray):
        result = values.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(result))
        if len(bad):
            raise ValueError(f"{table.path}: column {name!r} has a missing or infinite value in row {bad[0] + 1}.")
        return result
    result = np.empty(len(values))
    for index, text in enumerate(values):
        line = table.first_line + index
        if text.lower() in MISSING:
            raise ValueError(f"{table.path}: missing value in column {name!r} at line {line}; fill it in or drop "
                             f"the row.")
        try:
            result[index] = float(text)
        except ValueError:
            raise ValueError(f"{table.path}: column {name!r} is not numeric (line {line}: {text!r}); encode it as "
                             f"numbers or drop the column.") from None
        if not math.isfinite(result[index]):
            raise ValueError(f"{table.path}: column {name!r} has the non-finite value {text!r} at line {line}.")
    return result


def features(table: Table, names: list[str]) -> np.ndarray:
    """(n_samples, n_features) float64, columns taken by name in the given order."""
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise ValueError(f"{table.path}: no column {missing[0]!r}; the model needs the columns "
                         f"{', '.join(names)}. Found: {', '.join(table.names)}.")
    if table.sparse is not None:  # a sparse .npz: the columns picked from the CSR matrix, still sparse
        if any(table.columns[name] is not None for name in names):
            raise ValueError(f"{table.path}: the features of a sparse .npz are its x columns only.")
        return table.sparse[:, [int(name[1:]) for name in names]]
    return np.column_stack([numeric_column(table, name) for name in names])


def target_values(table: Table, name: str) -> list:
    """The target column as Python numbers where every value is numeric, else as strings."""
    if name not in table.columns:
        raise ValueError(f"{table.path}: no target column {name!r}. Columns: {', '.join(table.names)}.")
    values = table.columns[name]
    if isinstance(values, np.ndarray):
        return values.tolist()
    for index, text in enumerate(values):
        if text.lower() in MISSING:
            raise ValueError(f"{table.path}: missing value in target column {name!r} at line "
                             f"{table.first_line + index}; drop the row or fill it in.")
    try:
        numbers = [float(text) for text in values]
    except ValueError:
        return list(values)
    return [int(v) if v.is_integer() else v for v in numbers]


def infer_task(values: list) -> str:
    """classification for strings or a few integer values; regression for other numbers."""
    if any(isinstance(v, str) for v in values):
        return "classification"
    integral = all(float(v).is_integer() for v in values)
    return "classification" if integral and len(set(values)) <= MAX_CLASSES_FOR_NUMBERS else "regression"


def class_indices(table: Table, name: str, values: list, labels: list) -> np.ndarray:
    """Each value's position in `labels`; an unknown label names its line."""
    position = {str(label): index for index, label in enumerate(labels)}
    result = np.empty(len(values), dtype=np.int64)
    for index, value in enumerate(values):
        key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if key not in position:
            raise ValueError(f"{table.path}: unknown class {value!r} in column {name!r} at line "
                             f"{table.first_line + index}; the model knows {', '.join(map(str, labels))}.")
        result[index] = position[key]
    return result


def sorted_labels(values: list) -> list:
    """Distinct class labels, numbers in numeric order, strings alphabetically."""
    distinct = set(values)
    if all(isinstance(v, (int, float)) for v in distinct):
        return sorted(distinct)
    return sorted(map(str, distinct))
