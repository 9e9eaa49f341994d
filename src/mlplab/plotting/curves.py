"""Curves: training history (seed 001), gradient norms through depth (the vanishing gradient),
ReLU shapes and pieces (seed 003 §4) and regression fits (seed 003 §8)."""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from mlplab.core.checks import as_array, check_number, invalid
from mlplab.core.activations import Linear, ReLU
from mlplab.plotting.base import dense_weights, new_axes, pyplot, scores_of


# -- training history ------------------------------------------------------------------------------
def _history_dict(history) -> dict:
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(f"Invalid type for argument `history`: expected an ml History (from fit) or a dict "
                        f"of lists such as {{'loss': [...], 'val_loss': [...]}}. Received: {history!r}.")
    return logs


def plot_history(history, metrics=("loss",), ax=None):
    """Seed 001's curves: epoch vs each metric, training solid and validation ("val_" + name) dashed.

    history: a History from `fit` or a dict of lists; metrics: a name or names ("loss", "accuracy");
    several metrics get one panel each (`ax` may then be a sequence of Axes). Returns the Figure.

    >>> fig = plot_history(model.fit(x, y, epochs=50, validation_split=0.2), metrics=("loss", "accuracy"))
    """
    logs = _history_dict(history)
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not metrics:
        raise invalid("metrics", "at least one logged name such as 'loss'", metrics)
    for name in metrics:
        if name not in logs and f"val_{name}" not in logs:
            raise invalid("metrics", f"names logged in the history ({', '.join(logs) or 'none'})", name)
    fig, axes = new_axes(ax, len(metrics), name="ax")
    for axis, name in zip(axes, metrics):
        keys = [name] if name.startswith("val_") else [name, f"val_{name}"]
        for key in (k for k in keys if k in logs):
            values = np.asarray(logs[key], dtype=float)
            validation = key.startswith("val_")
            axis.plot(np.arange(1, len(values) + 1), values, "--" if validation else "-",
                      label=key if validation else f"train_{key}", marker="x" if len(values) < 30 else None)
        axis.set(xlabel="epoch", ylabel=name, title=f"epoch vs {name}")
        axis.grid(alpha=0.3)
        axis.legend()
    return fig


# -- gradient norms -----------------------------------------------------------------------------
def _is_norm_dict(value) -> bool:
    return isinstance(value, Mapping) and all(isinstance(v, numbers.Real) for v in value.values())


def _norm_series(histories, labels, epoch):
    """[(label, {layer: norm})] from a History, a {layer: norm} dict, {label: History} or a list of these."""
    if hasattr(histories, "gradient_norms") or _is_norm_dict(histories):
        items = [histories]
    elif isinstance(histories, Mapping):
        labels = list(histories) if labels is None else labels
        items = list(histories.values())
    else:
        items = list(histories)
    labels = [None] * len(items) if labels is None else list(labels)
    if len(labels) != len(items):
        raise invalid("labels", f"{len(items)} labels, one per history", labels)
    series = []
    for index, (item, label) in enumerate(zip(items, labels)):
        if _is_norm_dict(item):
            norms = dict(item)
        elif hasattr(item, "gradient_norms"):
            per_epoch = item.gradient_norms
            if not per_epoch:
                raise invalid(f"histories[{index}]", "a History with gradient norms (train with fit first)", item)
            if not -len(per_epoch) <= epoch < len(per_epoch):
                raise invalid("epoch", f"an epoch index in [{-len(per_epoch)}, {len(per_epoch) - 1}]", epoch)
            norms = dict(per_epoch[epoch])
        else:
            raise TypeError(f"Invalid type for argument `histories`: expected History objects or "
                            f"{{layer: norm}} dicts. Received: {item!r}.")
        if not norms:
            raise invalid(f"histories[{index}]", "at least one layer's gradient norm", norms)
        series.append((label, norms))
    return series


def plot_gradient_norms(histories, labels=None, epoch: int = -1, ax=None):
    """‖dL/dW‖ per layer through depth, on a log scale: the vanishing gradient made visible.

    histories: a History (its `gradient_norms[epoch]`), a {layer: norm} dict, a {label: History} dict
    or a list of these (e.g. a sigmoid and a ReLU network). Returns the Figure.

    >>> fig = plot_gradient_norms([h_sigmoid, h_relu], labels=["sigmoid", "relu"])
    """
    check_number("epoch", epoch, integer=True)
    series = _norm_series(histories, labels, epoch)
    fig, (ax,) = new_axes(ax, figsize=(7, 4.5))
    for label, norms in series:
        values = np.asarray(list(norms.values()), dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, "o-", label=label)
    longest = list(max(series, key=lambda item: len(item[1]))[1])
    # Layers numbered from 1 at the input, as `mlplab explain` numbers them (names such as dense_1 would
    # suggest counting from 0).
    ax.set_xticks(np.arange(1, len(longest) + 1))
    ax.set_yscale("log")
    when = "last epoch" if epoch == -1 else f"epoch {epoch + 1 if epoch >= 0 else epoch}"
    ax.set(xlabel="layer (1 = next to the input)", ylabel="gradient norm ‖dL/dW‖",
           title=f"Gradient norm per layer ({when})")
    ax.grid(alpha=0.3, which="both")
    if any(label is not None for label, _ in series):
        ax.legend()
    return fig


# -- ReLU pictures (seed 003 §4) ------------------------------------------------------------------
def _relu(x):
    return np.maximum(0.0, x)


RELU_SHAPES = (("$h(x)$", lambda x: _relu(x)), ("$h(x - 0.5)$", lambda x: _relu(x - 0.5)),
               ("$h(-2x)$", lambda x: _relu(-2 * x)), ("$-h(-2x - 1)$", lambda x: -_relu(-2 * x - 1)))


def plot_relu_shapes(ax=None):
    """Seed 003's ReLU shapes h(x), h(x − 0.5), h(−2x), −h(−2x − 1) with h(x) = max(0, x), on [−1.5, 1.5].

    ax=None: a 2×2 grid, one shape per panel; an Axes: all four on it with a legend. Returns the Figure.
    """
    x = np.linspace(-1.5, 1.5, 100)
    if ax is None:
        fig, grid = pyplot().subplots(2, 2, figsize=(9, 7))
        for axis, (label, shape) in zip(grid.ravel(), RELU_SHAPES):
            axis.plot(x, shape(x), "--", color="red", alpha=0.7, linewidth=2)
            axis.set(title=label, xlabel="x", ylabel="y", xlim=(-2, 2), ylim=(-1.7, 2.2), aspect="equal")
            axis.grid(alpha=0.3)
        fig.tight_layout()
        return fig
    fig, (ax,) = new_axes(ax)
    for label, shape in RELU_SHAPES:
        ax.plot(x, shape(x), "--", linewidth=2, label=label)
    ax.set(xlabel="x", ylabel="y", xlim=(-2, 2), ylim=(-1.7, 2.2), aspect="equal", title="ReLU shapes")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _relu_network(model):
    """W1 (k,), b1 (k,), W2 (k,), b2 and the hidden activation of a Dense(k) → Dense(1) model on 1-D input."""
    layers = list(getattr(model, "layers", None) or [])
    if layers and not getattr(model, "built", True) and hasattr(model, "predict"):
        model.predict(np.zeros((1, 1)))  # an unbuilt mlplab model gets its weights for 1-D input
    shape = " → ".join(f"{type(layer).__name__}" for layer in layers) or repr(model)
    if len(layers) != 2:
        raise invalid("model", "a 1-D input network of exactly two Dense layers: Dense(k, 'relu') → Dense(1)",
                      shape)
    w1, b1 = dense_weights(layers[0], "model.layers[0]")
    w2, b2 = dense_weights(layers[1], "model.layers[1]")
    if w1.shape[0] != 1 or w2.shape[1] != 1:
        raise invalid("model", "Dense(k, 'relu') on 1-D input → Dense(1)",
                      f"Dense({w1.shape[0]} -> {w1.shape[1]}) → Dense({w2.shape[0]} -> {w2.shape[1]})")
    if not isinstance(getattr(layers[1], "activation", None), Linear):
        raise invalid("model", "a linear output layer Dense(1) (no activation), so the output is the sum of "
                               "the pieces", type(getattr(layers[1], "activation", None)).__name__)
    activation = getattr(layers[0], "activation", None)
    if not isinstance(activation, ReLU):
        raise invalid("model", "a ReLU hidden layer Dense(k, activation='relu')", type(activation).__name__)
    return w1[0], b1, w2[:, 0], float(b2[0])


def plot_relu_pieces(model, x_range=(-2, 2), target=None, ax=None, show_sum: bool = True, *,
                     n_points: int = 400, ylim=None):
    """Seed 003 §4: a Dense(k, relu) → Dense(1) network on 1-D x is a sum of k ReLU pieces.

    Draws each piece w2_i·relu(w1_i·x + b1_i) as its own line, their sum (+ b2 if the output has a bias)
    which is the model's output, and `target` dashed: a callable f(x) or a pair (x, y) of arrays.
    `ylim` (e.g. seed 003's (-1.7, 2.2)) fixes the y range. Returns the Figure.

    >>> fig = plot_relu_pieces(model_4, x_range=(-2, 2), target=lambda x: x**3 + 0.1*x**2 - x + 0.1)
    """
    w1, b1, w2, b2 = _relu_network(model)
    low, high = (float(v) for v in x_range)
    if not low < high:
        raise invalid("x_range", "a pair (low, high) with low < high", x_range)
    x = np.linspace(low, high, check_number("n_points", n_points, low=2, integer=True))
    pieces = w2 * _relu(np.outer(x, w1) + b1)  # (n_points, k): column i is piece i
    fig, (ax,) = new_axes(ax, figsize=(7, 4.5))
    if target is not None:
        if callable(target):
            target_x, target_y = x, np.asarray(target(x), dtype=float).reshape(-1)
        else:
            try:
                target_x, target_y = target
            except (TypeError, ValueError):
                raise invalid("target", "a callable f(x) or a pair (x, y) of arrays", target) from None
            target_x = as_array("target[0]", target_x, float).reshape(-1)
            target_y = as_array("target[1]", target_y, float).reshape(-1)
        if target_x.shape != target_y.shape:
            raise invalid("target", "x and y of the same length", target_y)
    for i in range(pieces.shape[1]):
        ax.plot(x, pieces[:, i], linewidth=2, alpha=0.6, label=f"piece {i + 1}" if pieces.shape[1] <= 10 else None)
    if show_sum:
        ax.plot(x, pieces.sum(axis=1) + b2, "c", linewidth=3, label="sum (model output)")
    if target is not None:  # drawn last, dashed and dark: visible on top of a model that fits it well
        ax.plot(target_x, target_y, "--", color="black", linewidth=2, zorder=5, label="target")
    ax.set(xlim=(low, high), xlabel="x", ylabel="y", title=f"{pieces.shape[1]} ReLU pieces")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)  # off the curves
    return fig


# -- regression fit (seed 003 §8) -------------------------------------------------------------------
def plot_regression_fit(model_or_fn, x, y, x_grid=None, ax=None, *, label="model", title=None):
    """Data points and the model's curve over `x_grid` (default: 200 points across the data),
    as in seed 003's overfitting / batch-norm / dropout plots. Returns the Figure."""
    x = as_array("x", x, float)
    y = as_array("y", y, float)
    if (x.ndim == 2 and x.shape[1] != 1) or x.ndim > 2:
        raise invalid("x", "1-D inputs: shape (n_samples,) or (n_samples, 1)", x)
    x, y = x.reshape(-1), y.reshape(-1)
    if len(x) != len(y):
        raise invalid("y", f"{len(x)} targets, one per x", y)
    grid = np.linspace(x.min(), x.max(), 200) if x_grid is None else as_array("x_grid", x_grid, float).reshape(-1)
    curve = scores_of(model_or_fn, grid.reshape(-1, 1), "model_or_fn")
    if curve.ndim == 2 and curve.shape[1] != 1:
        raise invalid("model_or_fn", "a model with one output", curve)
    fig, (ax,) = new_axes(ax, figsize=(6, 4))
    ax.plot(x, y, "o", label="data")
    ax.plot(grid, curve.reshape(-1), "r", linewidth=2, label=label)
    ax.set(xlabel="x", ylabel="y")
    if title is not None:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
