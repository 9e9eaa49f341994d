"""The playground's data sets, all on the centred square [-6, 6]² as in TensorFlow Playground.

`make_dataset(name, n_samples, noise, seed)` wraps mlplab.datasets (scaled onto the square) so the
exported script regenerates exactly the page's points from the seed; `parse_csv` reads an upload.
"""
from __future__ import annotations

import csv
import io

import numpy as np

from mlplab import datasets
from mlplab.core.checks import invalid

EXTENT = 6.0  # the plane shown on the page is [-EXTENT, EXTENT]²

# name -> (label on the page, task): task is "binary", "multiclass" or "regression".
DATASETS = {
    "circle": ("Circle", "binary"),
    "xor": ("XOR", "binary"),
    "gaussians": ("Two Gaussians", "binary"),
    "spiral": ("Spiral", "binary"),
    "moons": ("Moons", "binary"),
    "linear": ("Linear (lecture)", "binary"),
    "quadratic": ("Quadratic (lecture)", "binary"),
    "blobs": ("Blobs (4 classes)", "multiclass"),
    "spirals": ("Spirals (3 classes)", "multiclass"),
    "cubic": ("Cubic (1-D regression)", "regression"),
    "custom": ("Your points (click or CSV)", None),
}
MAX_SAMPLES = 2000
MAX_CLASSES = 8
MAX_UPLOAD_BYTES = 200_000
MAX_COLUMNS = 16  # feature columns of an uploaded table
MAX_MAGNITUDE = 1e6  # |value| in an upload; beyond it float32 training is not meaningful


def make_dataset(name: str, n_samples: int = 400, noise: float = 0.0, seed: int = 0):
    """Points x (n_samples, 2) float64 in about [-6, 6]² and labels y (int64, or float64 for "cubic").

    noise is 0..1 (the page's slider / 100): the standard deviation of added jitter in units of the
    square's half-width / 6, so 0.5 blurs every class boundary about as much as in TensorFlow Playground.
    """
    if name not in DATASETS or name == "custom":
        raise invalid("dataset", f"one of {[k for k in DATASETS if k != 'custom']}", name)
    rng = np.random.default_rng(seed)
    jitter = 2.0 * noise  # in plane units
    if name == "circle":
        x, y = datasets.circles(n_samples, noise=0.0, factor=0.5, seed=rng)
        x = x * 5.0
        y = 1 - y  # inside is the positive class, as in TensorFlow Playground
    elif name == "xor":
        x = rng.uniform(-5.0, 5.0, (n_samples, 2))
        x += np.sign(x) * 0.3  # a small gap around the axes
        y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    elif name == "gaussians":
        y = rng.integers(0, 2, n_samples)
        centre = np.where(y[:, None] == 1, 2.0, -2.0)
        x = centre + rng.standard_normal((n_samples, 2)) * (1.0 + 2.0 * noise)
        jitter = 0.0
    elif name == "spiral":
        x, y = datasets.spirals(n_samples, n_classes=2, noise=0.0, seed=rng)
        x = x * 5.5
    elif name == "moons":
        x, y = datasets.moons(n_samples, noise=0.0, seed=rng)
        x = (x - [0.5, 0.25]) * 3.5
    elif name == "linear":
        x, y = datasets.linear_boundary(n_samples, seed=rng)
        x = (x - [4.0, -0.5]) * [1.4, 1.6]  # x1 in [0, 8), x2 in [-4, 3) onto the square
    elif name == "quadratic":
        x, y = datasets.quadratic_boundary(n_samples, seed=rng)
        x = x * [1.1, 1.4]
    elif name == "blobs":
        centres = np.array([[-3.0, -3.0], [3.0, 3.0], [-3.0, 3.0], [3.0, -3.0]])
        x, y = datasets.blobs(n_samples, centers=centres, cluster_std=1.0 + 2.0 * noise, seed=rng)
        jitter = 0.0
    elif name == "spirals":
        x, y = datasets.spirals(n_samples, n_classes=3, noise=0.2, seed=rng)
        x = x * 5.5
    else:  # cubic: x1 carries the input, the label is the value, x2 is 0 (the page draws a curve)
        t, value = datasets.cubic(n_samples, seed=rng)
        x = np.column_stack([t[:, 0] * 4.0, np.zeros(n_samples)])
        y = value[:, 0] + rng.standard_normal(n_samples) * noise
        return x, y
    if jitter:
        x = x + rng.standard_normal(x.shape) * jitter
    return np.asarray(x, np.float64), np.asarray(y, np.int64)


def split(x, y, train_ratio: float, seed: int):
    """A seeded shuffle, then the first `train_ratio` of the points train and the rest test."""
    order = np.random.default_rng(seed + 1).permutation(len(x))
    n_train = min(len(x) - 1, max(1, int(round(len(x) * train_ratio))))
    train, test = order[:n_train], order[n_train:]
    return x[train], y[train], x[test], y[test]


def parse_csv(text: str):
    """Rows "x1,x2,label" (a header line is skipped) -> x (n, 2) float64, y (n,) float64 (see `parse_table`)."""
    columns, x, y = parse_table(text, n_features=2)
    return x, y


def parse_table(text: str, n_features: int | None = None):
    """A CSV of numeric feature columns then a label column -> (feature names, x (n, k) float64, y (n,) float64).

    An optional header names the columns (else x1, x2, ...); at most MAX_COLUMNS features. Size-capped and
    checked: every value must be a finite number within ±MAX_MAGNITUDE; never evaluated. n_features fixes k.
    """
    if not isinstance(text, str):
        raise invalid("csv", "the text of a CSV file", text)
    size = len(text.encode("utf-8"))
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"The CSV file is too large: at most {MAX_UPLOAD_BYTES // 1000} kB are accepted "
                         f"(received {size // 1000} kB).")
    rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError("The CSV file is empty: expected feature columns and a label column.")
    width = len(rows[0][1]) if n_features is None else n_features + 1
    if not 2 <= width <= MAX_COLUMNS + 1:
        raise ValueError(f"CSV line {rows[0][0]}: expected 2 to {MAX_COLUMNS + 1} columns (features, then the "
                         f"label), found {width}.")
    names, values = [f"x{i}" for i in range(1, width)], []
    for index, (number, row) in enumerate(rows):
        if len(row) != width:
            what = "x1, x2, label" if width == 3 else f"{width - 1} features and a label"
            raise ValueError(f"CSV line {number}: expected {width} columns ({what}), found {len(row)}.")
        try:
            parsed = [float(cell) for cell in row]
        except ValueError:
            if index == 0:
                names = [cell.strip() or f"x{i}" for i, cell in enumerate(row[:-1], start=1)]
                continue  # a header line
            raise ValueError(f"CSV line {number}: expected {width} numbers, found {row!r}.") from None
        if not np.isfinite(parsed).all():
            raise ValueError(f"CSV line {number}: values must be finite numbers, found {row!r}.")
        if max(abs(v) for v in parsed) > MAX_MAGNITUDE:
            raise ValueError(f"CSV line {number}: values must lie within ±{MAX_MAGNITUDE:g} (rescale the column), "
                             f"found {row!r}.")
        values.append(parsed)
    if len(values) < 4 or len(values) > MAX_SAMPLES:
        raise ValueError(f"The CSV file must hold between 4 and {MAX_SAMPLES} data rows; it has {len(values)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"CSV header: the column names must be distinct; found {names!r}.")
    array = np.array(values, dtype=np.float64)
    return names, array[:, :-1], array[:, -1]


def infer_task(y) -> str:
    """binary (labels 0/1), multiclass (integers 0..k-1, k ≤ 8) or regression (anything else)."""
    y = np.asarray(y, np.float64)
    if np.array_equal(y, np.round(y)) and y.min() >= 0 and y.max() < MAX_CLASSES:
        return "binary" if y.max() <= 1 else "multiclass"
    return "regression"
