"""Activation functions as layers: each forward keeps what its backward needs, right beside it.

Every class here is a parameter-free `Layer`; `Dense(units, activation="relu")` holds one of them,
and `Activation("relu")` puts one in a model on its own. Names resolve through `ACTIVATIONS`.
"""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import check_number
from mlplab.core.base import Layer
from mlplab.core.registry import Registry

ACTIVATIONS = Registry("activation")


class ActivationFunction(Layer):
    """Base for element-wise activations: no parameters, output shape = input shape."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


@ACTIVATIONS.register("linear", "identity", "none")
class Linear(ActivationFunction):
    """a = z. The identity: what a Dense layer is without a non-linearity."""

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output


class NoGradientError(RuntimeError):
    """Raised by backward passes through functions whose derivative is zero almost everywhere."""


@ACTIVATIONS.register("step", "heaviside")
class Step(ActivationFunction):
    """a = 1 if z > 0 else 0 (Heaviside): the classic perceptron's threshold."""

    def forward(self, x, training=False):
        return (x > 0).astype(x.dtype)

    def backward(self, grad_output):
        # d(step)/dz is 0 everywhere except at 0, where it does not exist: nothing to learn from.
        raise NoGradientError(
            "The step activation has no useful gradient (0 everywhere, undefined at 0), so backpropagation "
            "cannot train through it. Use ml.Perceptron's learning rule, or a 'sigmoid'/'relu' activation."
        )


def sigmoid(z: np.ndarray, e: np.ndarray | None = None) -> np.ndarray:
    """σ(z) = 1/(1 + e^(−z)), computed from e = e^(−|z|) ∈ (0, 1] (pass it if you have it) so it never
    overflows for either sign. The one sigmoid of the library: the activation, the fused binary
    cross-entropy and softplus' slope."""
    if e is None:
        e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


@ACTIVATIONS.register("sigmoid", "logistic")
class Sigmoid(ActivationFunction):
    """a = 1 / (1 + e^(−z)); da/dz = a(1 − a), computed from the output it kept."""

    def forward(self, x, training=False):
        out = sigmoid(x)
        if training:
            self.output = out
        return out

    def backward(self, grad_output):
        a = self.output
        return grad_output * a * (1.0 - a)


@ACTIVATIONS.register("tanh")
class Tanh(ActivationFunction):
    """a = tanh(z); da/dz = 1 − a²."""

    def forward(self, x, training=False):
        out = np.tanh(x)
        if training:
            self.output = out
        return out

    def backward(self, grad_output):
        a = self.output
        return grad_output * (1.0 - a * a)


@ACTIVATIONS.register("relu")
class ReLU(ActivationFunction):
    """a = max(0, z); da/dz = 1 where z > 0, else 0 (the kink at 0 takes 0, like PyTorch)."""

    def forward(self, x, training=False):
        out = np.maximum(x, 0)
        if training:
            self.output = out
        return out

    def backward(self, grad_output):
        return grad_output * (self.output > 0)


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(ActivationFunction):
    """a = z if z > 0 else alpha·z (alpha = 0.01 as in PyTorch); keeps a gradient for negative z."""

    def __init__(self, alpha: float = 0.01, name=None):
        super().__init__(name=name)
        self.alpha = float(check_number("alpha", alpha, low=0.0))

    def forward(self, x, training=False):
        if training:
            self.input = x
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, grad_output):
        return grad_output * np.where(self.input > 0, 1.0, self.alpha).astype(grad_output.dtype)

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}


@ACTIVATIONS.register("elu")
class ELU(ActivationFunction):
    """a = z if z > 0 else alpha·(e^z − 1); da/dz = 1 or a + alpha."""

    def __init__(self, alpha: float = 1.0, name=None):
        super().__init__(name=name)
        self.alpha = float(check_number("alpha", alpha, low=0.0))

    def forward(self, x, training=False):
        out = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
        if training:
            self.input, self.output = x, out
        return out

    def backward(self, grad_output):
        return grad_output * np.where(self.input > 0, 1.0, self.output + self.alpha)

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}


@ACTIVATIONS.register("softplus")
class Softplus(ActivationFunction):
    """a = log(1 + e^z), written as max(z, 0) + log1p(e^(−|z|)) so it never overflows; da/dz = σ(z)."""

    def forward(self, x, training=False):
        if training:
            self.input = x
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, grad_output):
        return grad_output * sigmoid(self.input)


@ACTIVATIONS.register("softmax")
class Softmax(ActivationFunction):
    """a_i = e^(z_i) / Σ_j e^(z_j) over the last axis (shifted by max z, so no overflow).

    Backward: dz = a ⊙ (g − Σ_j g_j a_j). With a cross-entropy loss, training fuses both into p − y.
    """

    def forward(self, x, training=False):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        if training:
            self.output = e
        return e

    def backward(self, grad_output):
        a = self.output
        return a * (grad_output - (grad_output * a).sum(axis=-1, keepdims=True))


def get_activation(activation) -> ActivationFunction:
    """Resolve None, a name or an instance to a fresh activation layer."""
    if activation is None:
        return Linear()
    if isinstance(activation, ActivationFunction):
        return activation
    return ACTIVATIONS.resolve(activation, "activation", "an activation layer such as ml.ReLU()")


def serialize_activation(activation: ActivationFunction):
    """A name for plain activations, a {"class_name", "config"} dict for ones with settings (LeakyReLU alpha)."""
    config = {k: v for k, v in activation.get_config().items() if k != "name"}
    if not config:
        return activation_name(activation)
    return {"class_name": type(activation).__name__, "config": config}


def activation_name(activation: ActivationFunction) -> str:
    """The registry name of an activation instance (e.g. 'relu')."""
    return ACTIVATIONS.name_of(activation) or type(activation).__name__.lower()
