"""Pictures from the lecture notes, for mlplab models (matplotlib is an optional extra: pip install "mlplab[plot]").

Every function takes an optional `ax` (a new figure when None) and returns the matplotlib Figure;
`save_figure(fig, "out.png")` writes PNG or SVG atomically. Models are used only through their public
API (`predict`, `layers`, `layer.get_weights()`, `layer.activation`, `History.history`, `History.gradient_norms`).

>>> from mlplab.plotting import plot_decision_boundary, save_figure
>>> save_figure(plot_decision_boundary(model, x, y), "xor.png")
"""
from mlplab.plotting.base import save_figure
from mlplab.plotting.classification import plot_decision_boundary, plot_hidden_space, plot_mnist_prediction, plot_scatter_panels
from mlplab.plotting.curves import plot_gradient_norms, plot_history, plot_regression_fit, plot_relu_pieces, plot_relu_shapes

__all__ = ["save_figure", "plot_decision_boundary", "plot_hidden_space", "plot_mnist_prediction",
           "plot_scatter_panels", "plot_gradient_norms", "plot_history", "plot_regression_fit", "plot_relu_pieces",
           "plot_relu_shapes"]
