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
    """Rows "x1,x2,label" (a header line is skipped) -> x (n, 2) float64, y (n,) float64.

    Size-capped and checked: every value must be a finite number; never evaluated.
    """
    if not isinstance(text, str):
        raise invalid("csv", "the text of a CSV file", text)
    if len(text.encode("utf-8")) > MAX_UPLOAD_BYTES:
        raise ValueError(f"The CSV file is too large: at most {MAX_UPLOAD_BYTES // 1000} kB are accepted "
                         f"(received {len(text.encode('utf-8')) // 1000} kB).")
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    values = []
    for number, row in enumerate(rows, start=1):
        if len(row) != 3:
            raise ValueError(f"CSV line {number}: expected 3 columns (x1, x2, label), found {len(row)}.")
        try:
            parsed = [float(cell) for cell in row]
        except ValueError:
            if number == 1 and not values:
                continue  # a header line
            raise ValueError(f"CSV line {number}: expected three numbers, found {row!r}.") from None
        if not np.isfinite(parsed).all():
            raise ValueError(f"CSV line {number}: values must be finite numbers, found {row!r}.")
        values.append(parsed)
    if len(values) < 4 or len(values) > MAX_SAMPLES:
        raise ValueError(f"The CSV file must hold between 4 and {MAX_SAMPLES} data rows; it has {len(values)}.")
    array = np.array(values, dtype=np.float64)
    return array[:, :2], array[:, 2]


def infer_task(y) -> str:
    """binary (labels 0/1), multiclass (integers 0..k-1, k ≤ 8) or regression (anything else)."""
    y = np.asarray(y, np.float64)
    if np.array_equal(y, np.round(y)) and y.min() >= 0 and y.max() < MAX_CLASSES:
        return "binary" if y.max() <= 1 else "multiclass"
    return "regression"
