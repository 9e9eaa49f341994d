"""One contiguous buffer for all of a model's parameters, and one for their gradients.

Each layer's `params[key]` and `grads[key]` become reshaped views into the two buffers, so the layers
read and write them as before, while an optimizer updates the whole model with a handful of array
operations on two long vectors instead of a dozen small ones per parameter.
"""
from __future__ import annotations

import numpy as np


class ParameterBuffer:
    """`values` and `grads`: 1-D arrays; `parts`: each parameter's place in them as a (0, slice) pair,
    in Keras order (the form optimizers use to clip per parameter)."""

    def __init__(self, layers, dtype):
        entries = [(layer, key) for layer in layers for key in layer.params]
        size = sum(layer.params[key].size for layer, key in entries)
        self.values = np.empty(size, dtype)
        self.grads = np.zeros(size, dtype)
        self.parts: list[tuple[int, slice]] = []
        start = 0
        for layer, key in entries:
            shape = layer.params[key].shape
            stop = start + layer.params[key].size
            layer.params[key] = _view_holding(self.values[start:stop], shape, layer.params[key])
            layer.grads[key] = _view_holding(self.grads[start:stop], shape, layer.grads[key])
            self.parts.append((0, slice(start, stop)))
            start = stop

    def backs(self, layers) -> bool:
        """True while every parameter and gradient of `layers` is still a view of these buffers
        (a layer added later, a deep copy or a replaced array makes it False)."""
        count = 0
        for layer in layers:
            for key, value in layer.params.items():
                if value.base is not self.values or layer.grads[key].base is not self.grads:
                    return False
                count += 1
        return count == len(self.parts)


def _view_holding(segment: np.ndarray, shape: tuple, current: np.ndarray) -> np.ndarray:
    view = segment.reshape(shape)
    view[...] = current
    return view
