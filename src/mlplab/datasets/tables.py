"""Reading the user's data for the command line: CSV/TSV (delimiter sniffed, quotes, BOM, CRLF), Parquet
and Feather (through pyarrow, `pip install 'mlplab[tables]'`), or an .npz with x and y.

Every problem is a ValueError naming the file and the column or line, so the command prints one line.
Line numbers are the user's: the header is line 1, blank lines and quoted line breaks counted.
"""
from __future__ import annotations

import csv
import difflib
import math
import os
from dataclasses import dataclass, field

import numpy as np

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "<na>"}
MAX_CLASSES_FOR_NUMBERS = 20  # integer targets with at most this many values are taken as classes
BOOL_WORDS = {"true", "false"}
ARROW_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather"}


@dataclass
class Table:
    """Columns of strings (CSV) or arrays (Parquet, Feather, .npz), in file order, and where they came from."""
    path: str
    columns: dict  # name -> list of str (CSV) or np.ndarray
    first_line: int = 2  # line number of the first data row (1 is the header)
    target_hint: str | None = None  # the .npz target column name
    lines: list | None = None  # each row's line number in the file (CSV); None: first_line + index
    notes: list = field(default_factory=list)  # what the reader decided on its own (e.g. a pandas index)
    sparse: object = None  # a sparse .npz: x as a scipy CSR matrix (its columns x0, x1, ... are None above)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self):
        if self.sparse is not None:
            return self.sparse.shape[0]
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def line(self, row: int) -> int:
        """The user's line number of data row `row` (0-based); for Parquet/Feather/.npz the row number."""
        if self.lines is not None:
            return self.lines[row]
        return self.first_line + row

    def select(self, rows) -> "Table":
        """The table of the given rows (indices), keeping their line numbers."""
        rows = np.asarray(rows, dtype=np.int64)
        columns = {k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]) for k, v in self.columns.items()}
        lines = [self.lines[int(i)] for i in rows] if self.lines is not None else None
        first = self.first_line if lines is None else (lines[0] if lines else self.first_line)
        return Table(self.path, columns, first, self.target_hint, lines, list(self.notes))


def suggest(name: str, choices) -> str:
    """' Did you mean 'x'?' for the closest of `choices` (case-insensitive first), else ''."""
    choices = list(choices)
    for choice in choices:
        if choice.lower() == str(name).lower():
            return f" Did you mean {choice!r}?"
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def read_table(path, *, index_col: str | None = None, drop=()) -> Table:
    """A CSV/TSV with a header row, a Parquet or Feather file, or an .npz with x (and optionally y).

    A first column with an empty name holding 0, 1, 2, ... is pandas' index (to_csv's default) and
    is dropped, with a note; `index_col` names another column to drop as an index; `drop` more columns."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"No data file {path!r}: expected a CSV/TSV file with a header row, a Parquet or "
                         f"Feather file, an .npz with x and y, or a built-in dataset name (moons, circles, "
                         f"spirals, blobs).")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; expected a data file.")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        table = _read_npz(path)
    elif suffix in ARROW_SUFFIXES:
        table = _read_arrow(path, ARROW_SUFFIXES[suffix])
    else:
        table = _read_csv(path, "\t" if suffix in (".tsv", ".tab") else None, unnamed_index=index_col == "")
    for name in ([index_col] if index_col else []) + list(drop):
        if name not in table.columns:
            option = "--index-col" if name == index_col else "--drop"
            raise ValueError(f"Invalid value for {option}: {path} has no column {name!r}.{suggest(name, table.names)}"
                             f" Columns: {', '.join(table.names)}.")
        del table.columns[name]
    if not table.columns:
        raise ValueError(f"{path}: no columns left after --drop/--index-col.")
    return table


def _read_csv(path, delimiter, unnamed_index=False) -> Table:
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            sample = file.read(65536)
            file.seek(0)
            delimiter = delimiter or _sniff(sample)
            reader = csv.reader(file, delimiter=delimiter)
            rows, lines, start = [], [], 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV file ({err}); expected UTF-8 text with a header row.") \
            from None
    if not rows:
        raise ValueError(f"{path}: the file is empty; expected a header row and data rows.")
    header = [name.strip() for name in rows[0]]
    notes = []
    index_column = bool(header) and not header[0] and len(rows) > 1 and (unnamed_index or all(
        r and r[0].strip().lstrip("-").isdigit() for r in rows[1:]))
    if index_column:
        notes.append("the first column has no name and holds row numbers: taken as pandas' index and dropped "
                     "(write with df.to_csv(index=False) to leave it out)")
    for index, name in enumerate(header):
        if not name and not (index == 0 and index_column):
            hint = (" If this is pandas' index, write the file with df.to_csv(index=False) or pass "
                    "--index-col ''" if index == 0 else "")
            raise ValueError(f"{path}: column {index + 1} of the header row (line {lines[0]}) has no name.{hint}")
        if header.index(name) != index:
            raise ValueError(f"{path}: the header names column {name!r} twice (line {lines[0]}).")
    if len(rows) == 1:
        raise ValueError(f"{path}: the file has a header row but no data rows.")
    for row, line in zip(rows[1:], lines[1:]):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line} has {len(row)} values; the header has {len(header)} columns"
                             + (f" (delimiter {delimiter!r})" if delimiter != "," else "") + ".")
    columns = {name: [row[i].strip() for row in rows[1:]] for i, name in enumerate(header)}
    if index_column:
        del columns[""]
    return Table(path, columns, first_line=lines[1], lines=lines[1:], notes=notes)


def _sniff(sample: str) -> str:
    """The delimiter of a CSV sample: comma unless the header line splits better on ; tab or |."""
    first = sample.splitlines()[0] if sample else ""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: first.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _read_arrow(path, kind) -> Table:
    try:
        import pyarrow
        import pyarrow.feather as feather
        import pyarrow.parquet as parquet
    except ImportError:
        raise ImportError(f"Reading {path} needs pyarrow: pip install 'mlplab[tables]'.") from None
    try:
        table = parquet.read_table(path) if kind == "parquet" else feather.read_table(path)
    except (pyarrow.ArrowException, OSError) as err:
        raise ValueError(f"{path}: not a readable {kind.capitalize()} file ({err}).") from None
    return table_from_arrow(table, path)


def table_from_arrow(table, path) -> Table:
    """A Table of a pyarrow Table: numbers as float64/int64 arrays (nulls as NaN), text and
    categories as object arrays (nulls as None), booleans as 'True'/'False'."""
    import pyarrow as pa

    index_names = set()
    meta = (table.schema.metadata or {}).get(b"pandas")
    if meta:
        import json

        index_names = {c for c in json.loads(meta).get("index_columns", []) if isinstance(c, str)}
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if name in index_names:
            continue
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pa.types.is_integer(kind) and column.null_count == 0:
            columns[name] = column.to_numpy().astype(np.int64)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            columns[name] = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        elif pa.types.is_boolean(kind):
            columns[name] = np.array([None if v is None else str(v) for v in column.to_pylist()], dtype=object)
        else:
            columns[name] = np.array([None if v is None else str(v) for v in column.to_pylist()], dtype=object)
    if not columns or table.num_rows == 0:
        raise ValueError(f"{path}: the file has no data rows.")
    return Table(os.fspath(path), columns, first_line=1)


def table_from_dataframe(frame, path="DataFrame") -> Table:
    """A Table of a pandas DataFrame (its index is not a column)."""
    columns = {}
    for name in frame.columns:
        series = frame[name]
        kind = series.dtype.kind
        if kind in "biu" and not series.isna().any():
            columns[str(name)] = series.to_numpy().astype(np.int64) if kind != "b" else \
                np.array([str(bool(v)) for v in series], dtype=object)
        elif kind in "fiu":
            columns[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            columns[str(name)] = np.array([None if _pandas_missing(v) else str(v) for v in series], dtype=object)
    return Table(path, columns, first_line=1)


def _pandas_missing(value) -> bool:
    try:
        return value is None or bool(value != value)
    except (TypeError, ValueError):
        return False


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
    return Table(path, columns, first_line=1, target_hint="y" if "y" in arrays else None)


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


# -- column types ---------------------------------------------------------------------------------
def column_type(values) -> str:
    """'numeric' (every present cell a number), 'bool' (True/False), 'categorical' (text), or 'empty'."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return "numeric" if not (values.dtype.kind == "f" and np.isnan(values).all()) else "empty"
    present = [v for v in (values.tolist() if isinstance(values, np.ndarray) else values) if not _is_missing(v)]
    if not present:
        return "empty"
    if all(str(v).strip().lower() in BOOL_WORDS for v in present):
        return "bool"
    try:
        numbers = [float(v) for v in present]
    except (TypeError, ValueError):
        return "categorical"
    return "numeric" if all(math.isfinite(v) for v in numbers) else "categorical"


def infer_types(table: Table, target: str | None, categorical=()) -> dict:
    """name -> 'numeric' or 'categorical' for every feature column (bool counts as categorical);
    `categorical` forces columns to be one-hot encoded."""
    for name in categorical:
        if name not in table.columns:
            raise ValueError(f"Invalid value for --categorical: {table.path} has no column {name!r}."
                             f"{suggest(name, table.names)} Columns: {', '.join(table.names)}.")
    types = {}
    for name, values in table.columns.items():
        if name == target:
            continue
        kind = column_type(values)
        if kind == "empty":
            raise ValueError(f"{table.path}: column {name!r} has no values at all; drop it with --drop {name!r}.")
        types[name] = "categorical" if name in categorical or kind != "numeric" else "numeric"
    return types


def describe(table: Table, target: str | None, types: dict) -> list[str]:
    """Lines reporting each column's inferred type, missing cells and distinct values."""
    lines = [f"{table.path}: {len(table)} rows, {len(table.columns)} columns"]
    lines += [f"  note: {note}" for note in table.notes]
    width = max(len(n) for n in table.names)
    for name, values in table.columns.items():
        cells = values.tolist() if isinstance(values, np.ndarray) else values
        missing = sum(_is_missing(v) for v in cells)
        distinct = len({str(v) for v in cells if not _is_missing(v)})
        role = "target" if name == target else types.get(name, "?")
        example = ", ".join(sorted({str(v) for v in cells if not _is_missing(v)})[:4])
        lines.append(f"  {name:<{width}}  {role:<11}  missing {missing:>4}  distinct {distinct:>5}  e.g. {example}")
    return lines


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in MISSING
    return isinstance(value, float) and math.isnan(value)


# -- numbers, targets, labels ---------------------------------------------------------------------
def numeric_column(table: Table, name: str) -> np.ndarray:
    """The column as float64; names the first missing or non-numeric value and its line."""
    values = table.columns[name]
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        result = values.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(result))
        if len(bad):
            raise ValueError(f"{table.path}: column {name!r} has a missing or infinite value in row {bad[0] + 1}.")
        return result
    values = values.tolist() if isinstance(values, np.ndarray) else values
    result = np.empty(len(values))
    for index, text in enumerate(values):
        where = _where(table, index)
        if _is_missing(text):
            raise ValueError(f"{table.path}: missing value in column {name!r} at {where}; fill it in, drop the "
                             f"row, or pass --missing mean.")
        try:
            result[index] = float(text)
        except ValueError:
            raise ValueError(f"{table.path}: column {name!r} is not numeric ({where}: {text!r}); pass "
                             f"--categorical {name} or --drop {name}.") from None
        if not math.isfinite(result[index]):
            raise ValueError(f"{table.path}: column {name!r} has the non-finite value {text!r} at {where}.")
    return result


def _where(table: Table, row: int) -> str:
    return f"line {table.line(row)}" if table.lines is not None else f"row {row + 1}"


def features(table: Table, names: list[str]) -> np.ndarray:
    """(n_samples, n_features) float64, columns taken by name in the given order."""
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise ValueError(f"{table.path}: no column {missing[0]!r}; the model needs the columns "
                         f"{', '.join(names)}.{suggest(missing[0], table.names)} Found: {', '.join(table.names)}.")
    if table.sparse is not None:  # a sparse .npz: the columns picked from the CSR matrix, still sparse
        if any(table.columns[name] is not None for name in names):
            raise ValueError(f"{table.path}: the features of a sparse .npz are its x columns only.")
        return table.sparse[:, [int(name[1:]) for name in names]]
    return np.column_stack([numeric_column(table, name) for name in names])


def check_target(table: Table, name: str | None) -> str:
    if name is None:
        raise ValueError(f"Missing argument --target: which column of {table.path} to predict. "
                         f"Columns: {', '.join(table.names)}.")
    if name not in table.columns:
        raise ValueError(f"{table.path}: no target column {name!r}.{suggest(name, table.names)} "
                         f"Columns: {', '.join(table.names)}.")
    return name


def missing_targets(table: Table, name: str) -> list[int]:
    """Rows whose target cell is missing."""
    values = table.columns[name]
    cells = values.tolist() if isinstance(values, np.ndarray) else values
    return [i for i, v in enumerate(cells) if _is_missing(v)]


def target_values(table: Table, name: str) -> list:
    """The target column as Python numbers where every value is numeric (integers exactly, even
    beyond 2**53), else as strings."""
    check_target(table, name)
    values = table.columns[name]
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        if values.dtype.kind == "f" and np.isnan(values).any():
            row = int(np.flatnonzero(np.isnan(values))[0])
            raise ValueError(f"{table.path}: missing value in target column {name!r} at {_where(table, row)}; "
                             f"drop the row or fill it in.")
        return values.tolist()
    cells = values.tolist() if isinstance(values, np.ndarray) else values
    for index, text in enumerate(cells):
        if _is_missing(text):
            raise ValueError(f"{table.path}: missing value in target column {name!r} at {_where(table, index)}; "
                             f"drop the row or fill it in.")
    cells = [str(c).strip() for c in cells]
    try:
        return [_number(text) for text in cells]
    except ValueError:
        return list(cells)


def _number(text: str):
    """An int when the text is an integer (exactly, any size), else a float; ValueError otherwise."""
    try:
        return int(text)
    except ValueError:
        pass
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def infer_task(values: list) -> str:
    """classification for strings or a few integer values; regression for other numbers."""
    if any(isinstance(v, str) for v in values):
        return "classification"
    integral = all(isinstance(v, int) or float(v).is_integer() for v in values)
    return "classification" if integral and len(set(values)) <= MAX_CLASSES_FOR_NUMBERS else "regression"


def class_indices(table: Table, name: str, values: list, labels: list, rows_ok=False):
    """Each value's position in `labels`; an unknown label names its line (or, with rows_ok, the
    indices and -1 for unknown rows)."""
    position = {_label_key(label): index for index, label in enumerate(labels)}
    result = np.empty(len(values), dtype=np.int64)
    for index, value in enumerate(values):
        key = _label_key(value)
        if key not in position:
            if rows_ok:
                result[index] = -1
                continue
            raise ValueError(f"{table.path}: unknown class {value!r} in column {name!r} at {_where(table, index)}; "
                             f"the model knows {', '.join(map(str, labels))}.")
        result[index] = position[key]
    return result


def _label_key(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        try:
            return str(_number(value.strip()))
        except ValueError:
            return value.strip()
    return str(value)


def sorted_labels(values: list) -> list:
    """Distinct class labels, numbers in numeric order, strings alphabetically."""
    distinct = set(values)
    if all(isinstance(v, (int, float)) for v in distinct):
        return sorted(distinct)
    return sorted(map(str, distinct))
