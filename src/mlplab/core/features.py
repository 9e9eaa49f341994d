"""`Features`: a parameter-free layer that turns raw points (x1, x2) into chosen input features.

TensorFlow Playground's inputs (x1, x2, x1², x2², x1·x2, sin x1, sin x2) computed inside the model, so a
saved model takes the raw point: `ml.load_model(file).predict(points)` needs no preprocessing.
"""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import invalid
from mlplab.core.base import Layer
from mlplab.core.layers import LAYERS

# name -> (f(x1, x2), df/dx1, df/dx2): each feature with its two partial derivatives, side by side.
FEATURES = {
    "x1": (lambda a, b: a, lambda a, b: np.ones_like(a), lambda a, b: np.zeros_like(a)),
    "x2": (lambda a, b: b, lambda a, b: np.zeros_like(a), lambda a, b: np.ones_like(a)),
    "x1^2": (lambda a, b: a * a, lambda a, b: 2 * a, lambda a, b: np.zeros_like(a)),
    "x2^2": (lambda a, b: b * b, lambda a, b: np.zeros_like(a), lambda a, b: 2 * b),
    "x1*x2": (lambda a, b: a * b, lambda a, b: b, lambda a, b: a),
    "sin(x1)": (lambda a, b: np.sin(a), lambda a, b: np.cos(a), lambda a, b: np.zeros_like(a)),
    "sin(x2)": (lambda a, b: np.sin(b), lambda a, b: np.zeros_like(a), lambda a, b: np.cos(b)),
}


@LAYERS.register("Features")
class Features(Layer):
    """out[:, j] = feature_j(x1, x2) for the chosen `features` (names from `FEATURES`), in the given order.

    Input (n_samples, 2), output (n_samples, len(features)); no parameters. Backward sums each feature's
    partial derivatives: dL/dx1 = Σ_j dL/dout_j · ∂f_j/∂x1 (and likewise for x2).

    >>> layer = Features(["x1", "x2", "x1*x2"])
    """

    def __init__(self, features=("x1", "x2"), name: str | None = None):
        super().__init__(name=name)
        if isinstance(features, str) or not isinstance(features, (list, tuple)):
            raise invalid("features", f"a list of feature names from {list(FEATURES)}", features)
        features = list(features)
        unknown = [f for f in features if f not in FEATURES]
        if not features or unknown or len(set(features)) != len(features):
            raise invalid("features", f"a non-empty list of distinct names from {list(FEATURES)}", features)
        self.features = features
        self.declared_input_shape = (2,)  # a model starting with Features builds at once, like Dense(input_dim=2)

    def compute_output_shape(self, input_shape):
        if tuple(input_shape) != (2,):
            raise invalid("x", "points of shape (n_samples, 2): Features computes from (x1, x2)", (None, *input_shape))
        return (len(self.features),)

    def forward(self, x, training=False):
        if x.ndim != 2 or x.shape[1] != 2:
            raise invalid("x", "points of shape (n_samples, 2)", x)
        self.input = x
        a, b = x[:, 0], x[:, 1]
        return np.stack([FEATURES[f][0](a, b) for f in self.features], axis=1).astype(x.dtype, copy=False)

    def backward(self, grad_output):
        a, b = self.input[:, 0], self.input[:, 1]
        grad = np.zeros_like(self.input)
        for j, f in enumerate(self.features):
            _, d1, d2 = FEATURES[f]
            grad[:, 0] += grad_output[:, j] * d1(a, b)
            grad[:, 1] += grad_output[:, j] * d2(a, b)
        return grad

    def get_config(self):
        return {"features": list(self.features), "name": self.name}

    def __repr__(self):
        return f"Features({', '.join(self.features)})"


__all__ = ["Features", "FEATURES"]
