"""Pictures of classifiers: decision regions, the hidden space of a 2-unit layer (seed 003 §3.1),
seed 001's three scatter panels and seed 003's MNIST prediction."""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import as_array, check_number, invalid
from mlplab.core.activations import Sigmoid, Softmax, Tanh
from mlplab.plotting.base import (class_colormap, class_labels, dense_weights, labels_from_scores, new_axes, padded_limits,
                    points_2d, scatter_classes, scores_of)


def plot_decision_boundary(model, x, y, ax=None, resolution: int = 200, title=None, *, threshold: float = 0.5,
                           padding: float = 0.1, class_names=None, alpha: float = 0.3):
    """Colour the plane by the class `model` predicts there and scatter the data by class.

    model: an mlplab model, any object with `predict`, or a callable x -> scores, on 2-D inputs.
    Several outputs: the class is the argmax; one output: class 1 where score > `threshold`.
    x: (n_samples, 2); y: labels (n_samples,), (n_samples, 1) or one-hot. Returns the Figure.

    >>> fig = plot_decision_boundary(model, x_xor, y_xor, title="XOR")
    """
    x = points_2d(x)
    y = class_labels(y, n=len(x))
    resolution = check_number("resolution", resolution, low=2, integer=True)
    fig, (ax,) = new_axes(ax, figsize=(6, 5))
    (x_low, x_high), (y_low, y_high) = padded_limits(x[:, 0], padding), padded_limits(x[:, 1], padding)
    grid_x, grid_y = np.meshgrid(np.linspace(x_low, x_high, resolution), np.linspace(y_low, y_high, resolution))
    scores = scores_of(model, np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    regions = labels_from_scores(scores, threshold).reshape(grid_x.shape)
    n_outputs = scores.shape[1] if scores.ndim == 2 else 1
    n_classes = max(2, n_outputs, int(y.max()) + 1)
    ax.pcolormesh(grid_x, grid_y, regions, cmap=class_colormap(n_classes), vmin=-0.5, vmax=n_classes - 0.5,
                  alpha=alpha, shading="nearest", linewidth=0, rasterized=True)
    if regions.min() != regions.max():  # a thin line where the predicted class changes
        _boundary_contour(ax, grid_x, grid_y, scores, threshold, colors="k", linewidths=1)
    scatter_classes(ax, x, y, n_classes, class_names, alpha=0.8, edgecolors="k", linewidths=0.3)
    ax.set(xlim=(x_low, x_high), ylim=(y_low, y_high), xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(loc="best")
    if title is not None:
        ax.set_title(title)
    return fig


def _activation_range(activation):
    if isinstance(activation, (Sigmoid, Softmax)):
        return (0.0, 1.0)
    if isinstance(activation, Tanh):
        return (-1.0, 1.0)
    return None


def _draw_line(ax, weight, bias, xlim, ylim, **style):
    """Draw the line w·p + b = 0 across the box xlim × ylim (the axes clip what falls outside).

    Solved for the coordinate with the larger weight, so steep and vertical lines come out right too.
    """
    w_x, w_y = (float(w) for w in weight)
    if w_x == 0.0 and w_y == 0.0:
        return None
    if abs(w_y) >= abs(w_x):
        xs = np.asarray(xlim, dtype=float)
        ys = -(w_x * xs + bias) / w_y
    else:
        ys = np.asarray(ylim, dtype=float)
        xs = -(w_y * ys + bias) / w_x
    return ax.plot(xs, ys, **style)[0]


def _forward(layers, x):
    for layer in layers:
        x = layer.forward(x, training=False)
    return np.asarray(x, dtype=float)


def plot_hidden_space(model, x, y, layer: int = 0, ax=None, *, class_names=None, resolution: int = 200):
    """Seed 003 §3.1: what a 2-unit hidden layer does to 2-D data.

    Left: each point at its hidden activations (z1, z2), coloured by class, with the output layer's
    separating line w·z + b = 0 (a single sigmoid output; two softmax outputs use w₁ − w₀); axes [0, 1]
    for a sigmoid layer. Any other head is drawn as the 0.5 / argmax contour of the rest of the model.
    Right: the data in input space with the lines where each hidden unit's pre-activation is zero,
    w_j·x + b_j = 0 (straight lines for the first layer; contours for a deeper one).
    `layer` indexes `model.layers`. Returns the Figure.
    """
    layers = list(getattr(model, "layers", None) or [])
    if not layers:
        raise TypeError(f"Invalid type for argument `model`: expected an mlplab model with `layers`. "
                        f"Received: {model!r}.")
    check_number("layer", layer, integer=True)
    if not -len(layers) <= layer < len(layers):
        raise invalid("layer", f"an index into model.layers (0..{len(layers) - 1})", layer)
    layer %= len(layers)
    x = points_2d(x)
    if not getattr(model, "built", True):  # an unbuilt mlplab model has no weights yet: predict builds it
        model.predict(x[:1])
    y = class_labels(y, n=len(x))
    hidden = layers[layer]
    weight, bias = dense_weights(hidden, f"model.layers[{layer}]")
    if weight.shape[1] != 2:
        raise invalid("layer", f"a layer with exactly 2 units to draw a 2-D hidden space; layer {layer} "
                               f"({getattr(hidden, 'name', '')}) has {weight.shape[1]} units", layer)
    before, after = layers[:layer], layers[layer + 1:]
    inputs = _forward(before, x)
    z = _forward(layers[layer:layer + 1], inputs)
    n_classes = max(2, int(y.max()) + 1)
    fig, (ax_hidden, ax_input) = new_axes(ax, 2, figsize=(12, 5))

    scatter_classes(ax_hidden, z, y, n_classes, class_names)
    limits = _activation_range(getattr(hidden, "activation", None))
    if limits is None:
        limits = padded_limits(z, 0.1)
    ax_hidden.set(xlim=limits, ylim=limits, xlabel="$z_1$", ylabel="$z_2$", aspect="equal",
                  title=f"hidden space of layer {layer + 1}")  # numbered from 1, like `mlplab explain`
    _draw_head(ax_hidden, after, limits, resolution)
    ax_hidden.legend(loc="best")

    scatter_classes(ax_input, x, y, n_classes, class_names)
    (x_low, x_high), (y_low, y_high) = padded_limits(x[:, 0]), padded_limits(x[:, 1])
    if not before:  # the hidden units act on x itself: their zero sets are straight lines
        for j, color in zip(range(2), ("k", "g")):
            _draw_line(ax_input, weight[:, j], bias[j], (x_low, x_high), (y_low, y_high), color=color,
                       linewidth=2.5, label=f"unit {j + 1}: $w_{j + 1}\\cdot x + b_{j + 1} = 0$")
    else:
        grid_x, grid_y = np.meshgrid(np.linspace(x_low, x_high, resolution), np.linspace(y_low, y_high, resolution))
        logits = _forward(before, np.column_stack([grid_x.ravel(), grid_y.ravel()])) @ weight + bias
        for j, color in zip(range(2), ("k", "g")):
            ax_input.contour(grid_x, grid_y, logits[:, j].reshape(grid_x.shape), levels=[0.0], colors=color,
                             linewidths=2.5)
            ax_input.plot([], [], color=color, linewidth=2.5, label=f"unit {j + 1}: pre-activation = 0")
    ax_input.set(xlim=(x_low, x_high), ylim=(y_low, y_high), xlabel="$x_1$", ylabel="$x_2$",
                 title="hidden units in input space")
    ax_input.legend(loc="best")
    return fig


def _draw_head(ax, after, limits, resolution):
    """Draw where the layers after the hidden one switch class, in hidden-space coordinates."""
    if not after:
        return
    head = after[0]
    activation = getattr(head, "activation", None)
    weights = head.get_weights() if hasattr(head, "get_weights") else []
    if len(after) == 1 and isinstance(activation, (Sigmoid, Softmax)) and len(weights) in (1, 2):
        weight, bias = dense_weights(head, "model.layers[layer + 1]")
        if weight.shape == (2, 1) and isinstance(activation, Sigmoid):
            _draw_line(ax, weight[:, 0], bias[0], limits, limits, color="k", linewidth=3,
                       label="output: $w\\cdot z + b = 0$")
            return
        if weight.shape == (2, 2) and isinstance(activation, Softmax):
            _draw_line(ax, weight[:, 1] - weight[:, 0], bias[1] - bias[0], limits, limits, color="k", linewidth=3,
                       label="output: $p_0 = p_1$")
            return
    grid = np.linspace(*limits, resolution)
    grid_x, grid_y = np.meshgrid(grid, grid)
    scores = _forward(after, np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    regions = labels_from_scores(scores)
    if regions.min() != regions.max():
        _boundary_contour(ax, grid_x, grid_y, scores, 0.5, colors="k", linewidths=3)
        ax.plot([], [], color="k", linewidth=3, label="output boundary")


def _boundary_contour(ax, grid_x, grid_y, scores, threshold, **style):
    """Where the predicted class changes: the smooth level set score = threshold for one output,
    the edges between argmax regions for several."""
    if scores.ndim == 1 or scores.shape[1] == 1:
        ax.contour(grid_x, grid_y, scores.reshape(grid_x.shape), levels=[threshold], **style)
    else:
        regions = scores.argmax(axis=1).reshape(grid_x.shape)
        ax.contour(grid_x, grid_y, regions, levels=np.arange(scores.shape[1] - 1) + 0.5, **style)


def plot_scatter_panels(x_test, y_test, pred_test, x_train, pred_train, ax=None):
    """Seed 001's three panels: "True test y", "Predicted test y", "Prediction on train set".

    Predictions may be class labels or scores (argmax over several outputs, > 0.5 for one).
    Every panel uses the same colour per class. Returns the Figure.
    """
    x_test, x_train = points_2d(x_test, "x_test"), points_2d(x_train, "x_train")
    panels = [(x_test, class_labels(y_test, "y_test", len(x_test)), "True test y"),
              (x_test, _predicted_labels(pred_test, "pred_test", len(x_test)), "Predicted test y"),
              (x_train, _predicted_labels(pred_train, "pred_train", len(x_train)), "Prediction on train set")]
    n_classes = max(2, *(int(labels.max()) + 1 for _, labels, _ in panels))
    cmap = class_colormap(n_classes)
    fig, axes = new_axes(ax, 3, figsize=(15, 5))
    for axis, (points, labels, title) in zip(axes, panels):
        dots = axis.scatter(points[:, 0], points[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, s=12)
        axis.set(xlabel="x1", ylabel="x2", title=title)
        handles, _ = dots.legend_elements()
        present = np.unique(labels)
        axis.legend(handles, [f"C{k}" for k in present], loc="upper right", fontsize="small")
    return fig


def _predicted_labels(pred, name, n):
    pred = as_array(name, pred, float)
    if pred.ndim == 2 and pred.shape[1] > 1:
        labels = pred.argmax(axis=1)
    else:
        pred = pred.reshape(-1)
        labels = pred if np.all(pred == np.round(pred)) else (pred > 0.5)
    return class_labels(labels, name, n)


def plot_mnist_prediction(image, probabilities, ax=None, *, true_label=None):
    """Seed 003 §7.2.8: the digit in grey beside a stem plot of its class probabilities.

    image: 784 pixels, (28, 28) or (1, 28, 28); probabilities: (n_classes,) or (1, n_classes).
    The image's title is "Prediction: k" with k the most probable class. Returns the Figure.
    """
    image = as_array("image", image, float)
    side = int(round(np.sqrt(image.size)))
    if side * side != image.size:
        raise invalid("image", "a square image, e.g. 784 pixels or shape (28, 28)", image)
    probabilities = as_array("probabilities", probabilities, float)
    if probabilities.ndim == 2 and probabilities.shape[0] == 1:
        probabilities = probabilities[0]
    if probabilities.ndim != 1 or probabilities.size < 2:
        raise invalid("probabilities", "one score per class, shape (n_classes,) or (1, n_classes)", probabilities)
    prediction = int(probabilities.argmax())
    fig, (ax_image, ax_probs) = new_axes(ax, 2, figsize=(8, 4))
    ax_image.imshow(image.reshape(side, side), cmap="gray")
    ax_image.axis("off")
    title = f"Prediction: {prediction}"
    ax_image.set_title(title if true_label is None else f"{title} (true: {int(true_label)})")
    classes = np.arange(probabilities.size)
    ax_probs.stem(classes, probabilities)
    ax_probs.plot(prediction, probabilities[prediction], "o", color="tab:red", markersize=9)
    top = max(1.0, float(probabilities.max())) * 1.05
    ax_probs.set(xticks=classes, ylim=(min(0.0, float(probabilities.min()) * 1.05), top), xlabel="class",
                 ylabel="probability", title="class probabilities")
    ax_probs.grid(alpha=0.3)
    return fig
