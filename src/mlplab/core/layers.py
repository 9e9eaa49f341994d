"""Layers with explicit forward and backward passes: Dense, Activation, Dropout, BatchNormalization, Flatten."""
from __future__ import annotations

import copy
import inspect
import math

import numpy as np

from mlplab.core.checks import check_bool, check_config, check_number, invalid
from mlplab.core.activations import ActivationFunction, activation_name, get_activation, serialize_activation
from mlplab.core.base import Layer
from mlplab.core.initializers import INITIALIZERS, get_initializer
from mlplab.core.registry import Registry
from mlplab.core.regularizers import REGULARIZERS, get_regularizer

LAYERS = Registry("layer")


def _check_input_dim(input_dim):
    if input_dim is not None:
        check_number("input_dim", input_dim, low=1, integer=True)
    return input_dim


@LAYERS.register("Dense")
class Dense(Layer):
    """Fully connected layer: z = x W + b, a = activation(z).

    x: (n_samples, in_features), W: (in_features, units) (Keras layout), b: (units,).
    Backward: dW = xᵀ dz, db = Σ_rows dz, dx = dz Wᵀ, with dz = activation.backward(grad_output).

    >>> layer = Dense(3, activation="relu", input_dim=2)
    """

    def __init__(self, units: int, activation=None, *, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, input_dim: int | None = None, name: str | None = None):
        super().__init__(name=name)
        self.units = check_number("units", units, low=1, integer=True)
        self.activation = get_activation(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = get_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = get_initializer(bias_initializer, "bias_initializer")
        self.kernel_regularizer = get_regularizer(kernel_regularizer)
        self.input_dim = _check_input_dim(input_dim)

    def _create_params(self, input_shape):
        if len(input_shape) != 1:
            raise invalid("x", "2-D input (n_samples, n_features) for a Dense layer; add ml.Flatten() first",
                          (None, *input_shape))
        shape = (input_shape[0], self.units)
        self.params["weight"] = self.initial_weight(self.kernel_initializer, shape, "kernel_initializer")
        if self.use_bias:
            self.params["bias"] = self.initial_weight(self.bias_initializer, (self.units,), "bias_initializer")

    def compute_output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, training=False):
        z = x @ self.params["weight"]
        if self.use_bias:
            z += self.params["bias"]
        if training:
            self.input = x
        return self.activation.forward(z, training)

    def backward(self, grad_output):
        grad_z = self.activation.backward(grad_output)  # δ = dL/dz
        if isinstance(self.input, np.ndarray):
            np.matmul(self.input.T, grad_z, out=self.grads["weight"])
        else:  # sparse input rows (mlplab.core.sparse): xᵀ·dz as a sparse product
            self.grads["weight"][...] = self.input.T @ grad_z
        if self.kernel_regularizer is not None:
            self.grads["weight"] += self.kernel_regularizer.gradient(self.params["weight"])
        if self.use_bias:
            np.add.reduce(grad_z, axis=0, out=self.grads["bias"])
        return grad_z @ self.params["weight"].T if self.needs_input_grad else None

    def regularization_loss(self):
        if self.kernel_regularizer is None or not self.built:
            return 0.0
        return self.kernel_regularizer.penalty(self.params["weight"])

    def linear_part(self) -> "Dense":
        """The layer without its activation (z = x W + b): a copy sharing `params` and `grads` with this
        layer, with a training cache of its own. A fused output trains through it; explain shows z with it."""
        head = copy.copy(self)
        head.activation = get_activation("linear")
        return head

    def get_config(self):
        regularizer = self.kernel_regularizer
        return {"units": self.units, "activation": serialize_activation(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": INITIALIZERS.serialize(self.kernel_initializer),
                "bias_initializer": INITIALIZERS.serialize(self.bias_initializer),
                "kernel_regularizer": None if regularizer is None else REGULARIZERS.serialize(regularizer),
                "input_dim": self.input_dim, "name": self.name}

    def __repr__(self):
        n_in = self.input_shape[0] if self.input_shape else self.input_dim or "?"
        return f"Dense({n_in} -> {self.units}, activation={activation_name(self.activation)!r})"


@LAYERS.register("Activation")
class Activation(Layer):
    """Applies an activation on its own: Activation("sigmoid") after BatchNormalization, as in the seeds."""

    def __init__(self, activation, name: str | None = None):
        super().__init__(name=name)
        self.activation = get_activation(activation)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        return self.activation.forward(x, training)

    def backward(self, grad_output):
        return self.activation.backward(grad_output)

    def get_config(self):
        return {"activation": serialize_activation(self.activation), "name": self.name}

    def __repr__(self):
        return f"Activation({activation_name(self.activation)!r})"


@LAYERS.register("Dropout")
class Dropout(Layer):
    """Inverted dropout: in training each input is zeroed with probability `rate` and the rest are
    scaled by 1/(1 − rate), so inference is the identity and the expected activation is unchanged."""

    def __init__(self, rate: float, name: str | None = None):
        super().__init__(name=name)
        self.rate = float(check_number("rate", rate, low=0.0, high=1.0, high_open=True))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        if not training:
            return x
        if self.rate == 0.0:  # nothing to drop: no random numbers drawn
            self.mask = x.dtype.type(1.0)
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
        self.mask = keep * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self.mask

    def backward(self, grad_output):
        return grad_output * self.mask

    def get_config(self):
        return {"rate": self.rate, "name": self.name}

    def __repr__(self):
        return f"Dropout(rate={self.rate})"


@LAYERS.register("BatchNormalization")
class BatchNormalization(Layer):
    """y = γ·x̂ + β with x̂ = (x − μ_B)/√(σ²_B + ε), per feature.

    Training uses the batch's μ_B, σ²_B (biased) and updates moving averages
    (moving = momentum·moving + (1 − momentum)·batch, Keras convention); inference uses the moving ones,
    and so does training with `trainable = False` (a frozen layer, as in Keras).
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None):
        super().__init__(name=name)
        self.momentum = float(check_number("momentum", momentum, low=0.0, high=1.0))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0, low_open=True))

    def _create_params(self, input_shape):
        shape = (input_shape[-1],)
        self.params["gamma"] = np.ones(shape, self.dtype)
        self.params["beta"] = np.zeros(shape, self.dtype)
        self.state["moving_mean"] = np.zeros(shape, self.dtype)
        self.state["moving_variance"] = np.ones(shape, self.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        axes = tuple(range(x.ndim - 1))
        batch_statistics = training and self.trainable  # a frozen layer normalizes as in inference (Keras)
        if batch_statistics:
            if math.prod(x.shape[:-1]) < 2:
                raise invalid("x", "at least 2 values per feature in a training batch for BatchNormalization "
                                   "(one row has no variance): use a larger batch_size", x)
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            m = self.momentum
            self.state["moving_mean"] *= m
            self.state["moving_mean"] += (1 - m) * mean
            self.state["moving_variance"] *= m
            self.state["moving_variance"] += (1 - m) * var
        else:
            mean, var = self.state["moving_mean"], self.state["moving_variance"]
        inv_std = 1.0 / np.sqrt(var + self.epsilon)
        x_hat = (x - mean) * inv_std
        if training:
            self.x_hat, self.inv_std, self.batch_statistics = x_hat, inv_std, batch_statistics
        return self.params["gamma"] * x_hat + self.params["beta"]

    def backward(self, grad_output):
        axes = tuple(range(grad_output.ndim - 1))
        n = math.prod(grad_output.shape[:-1])
        x_hat = self.x_hat
        self.grads["gamma"][...] = (grad_output * x_hat).sum(axis=axes)
        self.grads["beta"][...] = grad_output.sum(axis=axes)
        g = grad_output * self.params["gamma"]  # dL/dx̂
        if not self.batch_statistics:  # the moving μ and σ² are constants: x̂ is an affine map of x
            return g * self.inv_std
        # μ and σ² depend on every x in the batch; the two sums carry those paths back.
        return (self.inv_std / n) * (n * g - g.sum(axis=axes) - x_hat * (g * x_hat).sum(axis=axes))

    def get_config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon, "name": self.name}

    def __repr__(self):
        return f"BatchNormalization(momentum={self.momentum}, epsilon={self.epsilon})"


@LAYERS.register("Flatten")
class Flatten(Layer):
    """Reshape (n, d1, d2, ...) to (n, d1·d2·...): 28×28 images go straight into a Dense layer."""

    def __init__(self, input_shape: tuple | None = None, name: str | None = None):
        super().__init__(name=name)
        if input_shape is not None:
            input_shape = tuple(input_shape)
            for d in input_shape:
                check_number("input_shape", d, low=1, integer=True)
        self.declared_input_shape = input_shape

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        if training:
            self.original_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        return grad_output.reshape(self.original_shape)

    def get_config(self):
        return {"input_shape": self.declared_input_shape, "name": self.name}

    def __repr__(self):
        return "Flatten()"


def declared_input_shape(layer: Layer) -> tuple | None:
    """The input shape a first layer states up front (Dense input_dim, Flatten input_shape), if any."""
    if isinstance(layer, Dense) and layer.input_dim is not None:
        return (layer.input_dim,)
    return getattr(layer, "declared_input_shape", None)  # Flatten(input_shape=...), Features: (2,)


def layer_from_config(class_name: str, config: dict, trainable: bool = True, path: str = "config") -> Layer:
    """The layer `class_name`(**config); an unknown class, an unknown or missing field, or a bad value is
    a ValueError/TypeError naming `path` (where the layer's config sits, e.g. config['layers'][1])."""
    try:
        factory = LAYERS.get(class_name)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{path}['class_name']: {err}") from None
    check_config(config, dict, f"{path}['config']")
    accepted, open_ended = _init_fields(factory)
    unknown = [] if open_ended else sorted(set(config) - set(accepted))
    missing = [key for key, required in accepted.items() if required and key not in config]
    if unknown or missing:
        problem = f"unknown field(s) {unknown}" if unknown else f"missing field(s) {missing}"
        raise ValueError(f"Invalid value for `{path}['config']`: {problem} for a {class_name} layer "
                         f"(its fields: {sorted(accepted)}).")
    try:
        layer = factory(**config)
        layer.trainable = check_bool("trainable", trainable)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{path}: {err}") from None
    return layer


def _init_fields(factory) -> tuple[dict[str, bool], bool]:
    """({keyword: required} of a layer constructor, whether it also takes **kwargs)."""
    fields, open_ended = {}, False
    for parameter in inspect.signature(factory).parameters.values():
        open_ended |= parameter.kind is parameter.VAR_KEYWORD
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            fields[parameter.name] = parameter.default is parameter.empty
    return fields, open_ended


__all__ = ["Layer", "Dense", "Activation", "Dropout", "BatchNormalization", "Flatten", "ActivationFunction",
           "LAYERS"]
