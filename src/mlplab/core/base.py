"""The `Layer` contract every building block follows."""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import all_finite, check_bool, check_weight, invalid


class Layer:
    """A differentiable block with one `forward` and one `backward`, side by side.

    `forward(x, training)` returns the output; in training mode it keeps what `backward` needs (in
    inference it stores nothing, so many threads may predict at once). `backward(grad_output)` returns
    dL/dx and fills `grads`, a dict matching `params` ("weight", "bias"): write the arrays in place or
    assign new ones, both train the same. `state` holds non-trainable arrays (moving averages).
    `trainable = False` freezes the parameters. A layer of your own:

    >>> class Scale(Layer):
    ...     \"\"\"y = x · s, one learned scale per feature.\"\"\"
    ...     def _create_params(self, input_shape):
    ...         self.params["scale"] = np.ones(input_shape, self.dtype)
    ...     def compute_output_shape(self, input_shape):
    ...         return input_shape
    ...     def forward(self, x, training=False):
    ...         if training:
    ...             self.input = x
    ...         return x * self.params["scale"]
    ...     def backward(self, grad_output):
    ...         self.grads["scale"] = (grad_output * self.input).sum(axis=0)
    ...         return grad_output * self.params["scale"]
    """

    def __init__(self, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Invalid type for argument `name`: expected a string. Received: {name!r}.")
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.built = False
        self.trainable = True
        self.input_shape: tuple | None = None
        self.rng: np.random.Generator | None = None
        self.dtype = np.dtype(np.float32)
        # Training sets this to False on the lowest trainable layer for the duration of its backward:
        # nothing below needs dL/dx, so a layer may skip computing it (and return None).
        self.needs_input_grad = True

    # -- building -------------------------------------------------------------------------------
    def build(self, input_shape: tuple, rng: np.random.Generator | None = None, dtype=np.float32):
        """Create parameters for inputs of shape (n_samples, *input_shape); return the output shape."""
        self.input_shape = tuple(input_shape)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.dtype = np.dtype(dtype)
        self._create_params(self.input_shape)
        self._check_created()
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.built = True
        return self.compute_output_shape(self.input_shape)

    def _create_params(self, input_shape: tuple) -> None:
        """Subclasses with parameters fill `self.params` (and `self.state`) here."""

    def initial_weight(self, initializer, shape: tuple, argument: str) -> np.ndarray:
        """What `initializer` returns for a weight of `shape`, checked (an array of that shape, finite and
        representable in the layer's dtype): a bad initializer is named here, not in a later matmul."""
        where = f" for layer {self.name!r} (from {argument}={initializer!r})"
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by the check below
            value = initializer(shape, self.rng, self.dtype)
        return check_weight(argument, value, shape, self.dtype, where)

    def _check_created(self) -> None:
        """Every array a layer created (its own `_create_params`, too) is a finite float array of its dtype."""
        for group in (self.params, self.state):
            for key, value in group.items():
                if not isinstance(value, np.ndarray) or value.dtype != self.dtype or not all_finite(value):
                    raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) created {key!r} as "
                                     f"{value!r:.80}: expected a finite array of dtype {self.dtype}.")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        raise NotImplementedError

    # -- the two passes -------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def regularization_loss(self) -> float:
        return 0.0

    # -- weights ----------------------------------------------------------------------------------
    def weight_arrays(self) -> list[np.ndarray]:
        """Parameters then state, in Keras order (e.g. [W, b] or [gamma, beta, mean, variance])."""
        return list(self.params.values()) + list(self.state.values())

    def get_weights(self) -> list[np.ndarray]:
        return [array.copy() for array in self.weight_arrays()]

    def set_weights(self, weights) -> None:
        """Copy `weights` into the layer in place (shapes checked first; nothing changes on error)."""
        copy_weights(self.weight_arrays(), weights, where=f" for layer {self.name!r}")

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def weight_list(weights) -> list:
    """`weights` as a list (of what set_weights copies), or a TypeError for None, an array or a string."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"Invalid type for argument `weights`: expected a list of arrays (as from get_weights()). "
                        f"Received: {weights!r:.80} of type {type(weights).__name__}.")
    return list(weights)


def copy_weights(targets, weights, check_finite: bool = True, where: str = "") -> None:
    """Copy each array of `weights` into the matching target in place, after checking the count, every
    shape, dtype and (with check_finite) that all values are finite and representable: on error nothing
    has been copied."""
    arrays = weight_list(weights)
    check_finite = check_bool("check_finite", check_finite)
    if len(arrays) != len(targets):
        raise invalid("weights", f"a list of {len(targets)} arrays{where}", f"{len(arrays)} arrays")
    for index, (target, array) in enumerate(zip(targets, arrays)):
        arrays[index] = check_weight(f"weights[{index}]", array, target.shape, target.dtype, where,
                                     finite=check_finite)
    for target, array in zip(targets, arrays):
        target[...] = array


def backward_pass(layers, grad_output, stop_at=None):
    """The chain rule as one loop: `for layer in reversed(layers): grad = layer.backward(grad)`.

    Each layer knows only its own derivative. With `stop_at` (one of `layers`) the loop ends at that
    layer and skips its input gradient, which nothing below needs (training stops at the lowest
    trainable layer); then the result is None.
    """
    grad = grad_output
    for layer in reversed(layers):
        if layer is stop_at:
            layer.needs_input_grad = False
            try:
                layer.backward(grad)
            finally:
                layer.needs_input_grad = True
            return None
        grad = layer.backward(grad)
    return grad
