"""Weight penalties: `penalty(W)` is added to the loss and `gradient(W)` to dL/dW."""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import check_number
from mlplab.core.registry import Registry

REGULARIZERS = Registry("regularizer")


@REGULARIZERS.register("l1_l2")
class L1L2:
    """penalty = l1·Σ|w| + l2·Σw²; gradient = l1·sign(w) + 2·l2·w (Keras's convention, no ½)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = float(check_number("l1", l1, low=0))
        self.l2 = float(check_number("l2", l2, low=0))

    def penalty(self, weight: np.ndarray) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(weight).sum())
        if self.l2:
            total += self.l2 * float(np.square(weight).sum())
        return total

    def gradient(self, weight: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(weight)
        if self.l1:
            grad += self.l1 * np.sign(weight)
        if self.l2:
            grad += (2.0 * self.l2) * weight
        return grad

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


@REGULARIZERS.register("l1")
class L1(L1L2):
    """penalty = l1·Σ|w| (pushes weights to exactly zero)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


@REGULARIZERS.register("l2")
class L2(L1L2):
    """penalty = l2·Σw² (weight decay: shrinks weights smoothly)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def get_regularizer(regularizer, argument: str = "kernel_regularizer"):
    if regularizer is None or isinstance(regularizer, L1L2):
        return regularizer
    return REGULARIZERS.resolve(regularizer, argument, "None or an ml.L1/L2/L1L2 instance")
