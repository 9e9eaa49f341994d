"""Shared plumbing for `mlplab.plotting`: the lazy matplotlib import, atomic saving, and argument checks.

matplotlib is an optional extra, so it is imported here, inside functions, never at module import:
`import mlplab` stays NumPy-only and fast.
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import numpy as np

from mlplab.core.checks import as_array, invalid

# Seed 003 draws class 1 red and class 0 blue ('ro' C1, 'bo' C0); further classes follow.
CLASS_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple",
                "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")

SAVE_FORMATS = {".png": "png", ".svg": "svg"}


def _backend_chosen(matplotlib) -> bool:
    """True when the user (MPLBACKEND, matplotlib.use, matplotlibrc) already picked a backend."""
    if os.environ.get("MPLBACKEND"):
        return True
    getter = getattr(matplotlib.rcParams, "_get_backend_or_none", None)  # matplotlib >= 3.5
    return getter is not None and getter() is not None


def _headless() -> bool:
    if sys.platform in ("win32", "darwin"):  # native GUI backends there need no X/Wayland display
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def pyplot():
    """Import and return `matplotlib.pyplot`, choosing the file-only "Agg" backend on a headless
    machine when nobody chose a backend yet (so plotting works in CI, over ssh and in the CLI)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError('mlplab.plotting needs matplotlib, an optional extra. Install it with: '
                          'pip install "mlplab[plot]"') from None
    if "matplotlib.pyplot" not in sys.modules and not _backend_chosen(matplotlib) and _headless():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def class_colormap(n_classes: int):
    """A discrete colormap with one colour per class (class k ↦ CLASS_COLORS[k])."""
    pyplot()
    from matplotlib.colors import ListedColormap
    if n_classes > len(CLASS_COLORS):
        import matplotlib
        return ListedColormap(matplotlib.colormaps["tab20"](np.linspace(0, 1, n_classes)))
    return ListedColormap(CLASS_COLORS[:max(n_classes, 2)])


def class_color(k: int, n_classes: int):
    return class_colormap(n_classes)(k)


def new_axes(ax, n: int = 1, *, figsize=None, name: str = "ax"):
    """Return (figure, [axes]): `n` new side-by-side axes when `ax` is None, else the given axes.

    `ax` may be one Axes (when n == 1) or a sequence of n Axes.
    """
    plt = pyplot()
    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=figsize or (6 * n, 4.5), squeeze=False)
        return fig, list(axes[0])
    axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    axes = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axes) != n or not all(hasattr(a, "figure") and hasattr(a, "plot") for a in axes):
        expected = "a matplotlib Axes" if n == 1 else f"a sequence of {n} matplotlib Axes"
        raise invalid(name, f"None or {expected}", ax)
    return axes[0].figure, axes


def save_figure(fig, path) -> Path:
    """Write `fig` to `path` as PNG or SVG, chosen by the suffix; returns the path.

    The file is written atomically: to a temporary file in the same folder, then `os.replace`d
    onto `path`, so a reader never sees half an image and a failed save leaves no debris.
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"Invalid value for argument `path`: expected a file name ending in "
                         f"{' or '.join(SAVE_FORMATS)} (the suffix picks the format). Received: path='{path}' "
                         f"(suffix {path.suffix!r}).")
    if not hasattr(fig, "savefig"):
        raise TypeError(f"Invalid type for argument `fig`: expected a matplotlib Figure. Received: {fig!r}.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"Invalid value for argument `path`: expected a file in an existing folder. "
                         f"Received: path='{path}' (folder '{folder}' does not exist).")
    # O_EXCL with mode 0666: a fresh file the umask trims as usual (mkstemp would make it 0600).
    temp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            fig.savefig(stream, format=fmt, bbox_inches="tight", dpi=100 if fmt == "png" else None)
        os.replace(temp, path)
    except BaseException:
        if temp.exists():
            temp.unlink()
        raise
    return path


# -- data and model helpers --------------------------------------------------------------------
def scores_of(model, x: np.ndarray, name: str = "model") -> np.ndarray:
    """Outputs of `model` on `x`: `model.predict(x)` for models (mlplab, scikit-learn-like), else `model(x)`."""
    if hasattr(model, "predict") and callable(model.predict):
        out = model.predict(x)
    elif callable(model):
        out = model(x)
    else:
        raise TypeError(f"Invalid type for argument `{name}`: expected an mlplab model, an object with "
                        f"`predict`, or a callable x -> scores. Received: {model!r}.")
    out = np.asarray(out, dtype=float)
    if out.ndim == 0 or len(out) != len(x):
        raise invalid(f"{name}(x)", f"one output row per input row ({len(x)})", out)
    return out


def labels_from_scores(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class indices: argmax for several outputs, `score > threshold` for one output."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    return (scores.reshape(len(scores)) > threshold).astype(int)


def class_labels(y, name: str = "y", n: int | None = None) -> np.ndarray:
    """Integer class labels 0..K−1 from labels (n,), (n, 1) or one-hot (n, K)."""
    y = as_array(name, y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    elif y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise invalid(name, "class labels of shape (n_samples,), (n_samples, 1) or one-hot (n_samples, n_classes)", y)
    y = y.reshape(-1)
    if np.any(y < 0) or np.any(y != np.round(y)):
        raise invalid(name, "non-negative integer class labels (0, 1, ...)", y)
    if n is not None and len(y) != n:
        raise invalid(name, f"{n} labels, one per row of x", y)
    return y.astype(int)


def points_2d(x, name: str = "x") -> np.ndarray:
    x = as_array(name, x, float, min_ndim=2)
    if x.ndim != 2 or x.shape[1] != 2:
        raise invalid(name, "2-D inputs: an array of shape (n_samples, 2)", x)
    return x


def padded_limits(values: np.ndarray, padding: float = 0.1) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low if high > low else 1.0
    return low - padding * span, high + padding * span


def scatter_classes(ax, x: np.ndarray, y: np.ndarray, n_classes: int, class_names=None, **kwargs):
    """Scatter the points of each class in its colour, labelled for the legend ("C0", "C1", ...)."""
    size = float(np.clip(4000 / max(len(x), 1), 14, 80))  # few points: bigger markers
    style = {"s": size, "alpha": 0.6, "edgecolors": "none"} | kwargs
    for k in range(n_classes):
        mask = y == k
        if mask.any():
            label = class_names[k] if class_names is not None else f"C{k}"
            ax.scatter(x[mask, 0], x[mask, 1], color=class_color(k, n_classes), label=label, **style)


def dense_weights(layer, name: str):
    """(W, b) of a Dense-like layer through its public `get_weights()`; b = zeros when use_bias=False."""
    weights = layer.get_weights() if hasattr(layer, "get_weights") else []
    if len(weights) not in (1, 2) or np.ndim(weights[0]) != 2:
        raise invalid(name, "a Dense layer (weights [W] or [W, b] with W of shape (in, units))",
                      type(layer).__name__)
    weight = np.asarray(weights[0], dtype=float)
    bias = np.asarray(weights[1], dtype=float) if len(weights) == 2 else np.zeros(weight.shape[1])
    return weight, bias
