"""Losses are criteria, not layers: `forward(y_true, y_pred)` returns a float, `backward()` returns dL/dy_pred.

Cross-entropies take `from_logits=True` to work on pre-activations with the log-sum-exp form;
then the gradient is simply p − y (divided by the batch size), with no NaN or inf for huge logits.
"""
from __future__ import annotations

import numpy as np

from ._checks import invalid
from .registry import Registry

LOSSES = Registry("loss")
EPSILON = 1e-7  # probabilities are clipped to [ε, 1 − ε] before taking logs (Keras's convention)


class Loss:
    """Base criterion. `reduction` is "mean" (over all elements) or "sum"."""

    def __init__(self, reduction: str = "mean", from_logits: bool = False):
        if reduction not in ("mean", "sum"):
            raise invalid("reduction", "'mean' or 'sum'", reduction)
        self.reduction = reduction
        self.from_logits = bool(from_logits)

    def __call__(self, y_true, y_pred) -> float:
        return self.forward(y_true, y_pred)

    def _scale(self, count: int) -> float:
        return 1.0 / count if self.reduction == "mean" else 1.0

    def forward(self, y_true, y_pred) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def with_logits(self) -> "Loss":
        """The same loss taking logits (used by the model to fuse it with a softmax/sigmoid output)."""
        raise ValueError(f"{type(self).__name__} has no logits form.")

    def get_config(self) -> dict:
        return {"reduction": self.reduction, "from_logits": self.from_logits}

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r}, from_logits={self.from_logits})"


@LOSSES.register("mean_squared_error", "mse")
class MeanSquaredError(Loss):
    """L = mean((ŷ − y)²); dL/dŷ = 2(ŷ − y)/N (N = number of elements; no /N with reduction="sum")."""

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, y_true, y_pred):
        self.diff = y_pred - y_true
        self.scale = self._scale(self.diff.size)
        return float(np.vdot(self.diff, self.diff)) * self.scale

    def backward(self):
        return (2.0 * self.scale) * self.diff

    def get_config(self):
        return {"reduction": self.reduction}


@LOSSES.register("mean_absolute_error", "mae")
class MeanAbsoluteError(Loss):
    """L = mean(|ŷ − y|); dL/dŷ = sign(ŷ − y)/N."""

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, y_true, y_pred):
        self.diff = y_pred - y_true
        self.scale = self._scale(self.diff.size)
        return float(np.abs(self.diff).sum()) * self.scale

    def backward(self):
        return self.scale * np.sign(self.diff)

    def get_config(self):
        return {"reduction": self.reduction}


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(Loss):
    """L = −mean(y·log p + (1 − y)·log(1 − p)).

    from_logits: L = mean(max(z, 0) − z·y + log(1 + e^(−|z|))), dL/dz = (σ(z) − y)/N.
    """

    def forward(self, y_true, y_pred):
        self.y = y_true
        self.scale = self._scale(y_pred.size)
        if self.from_logits:
            z = y_pred
            e = np.exp(-np.abs(z))  # e^(−|z|) ∈ (0, 1]: never overflows
            self.p = np.where(z >= 0, 1.0, e) / (1.0 + e)  # σ(z) = 1/(1 + e) for z ≥ 0, e/(1 + e) below
            losses = np.maximum(z, 0) - z * y_true + np.log1p(e)
        else:
            self.p = y_pred
            p = np.clip(y_pred, EPSILON, 1 - EPSILON)
            self.p_clipped = p
            losses = -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
        return float(losses.sum()) * self.scale

    def backward(self):
        if self.from_logits:
            return (self.p - self.y) * self.scale
        p = self.p_clipped
        return ((self.p - self.y) / (p * (1 - p))) * self.scale

    def with_logits(self):
        return BinaryCrossentropy(self.reduction, from_logits=True)


class _SoftmaxCrossentropy(Loss):
    """Shared log-softmax core: log p = z − logsumexp(z); dL/dz = (softmax(z) − y)/n."""

    def _prepare_targets(self, y_true, n_classes: int, dtype) -> np.ndarray:
        raise NotImplementedError

    def forward(self, y_true, y_pred):
        n = y_pred.shape[0] if y_pred.ndim > 1 else 1
        self.scale = self._scale(n)
        self.target = self._prepare_targets(y_true, y_pred.shape[-1], y_pred.dtype)
        if self.from_logits:
            shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
            e = np.exp(shifted)  # ≤ 1, and 1 at the maximum: the sum is in [1, k]
            total = e.sum(axis=-1, keepdims=True)
            log_p = shifted - np.log(total)
            self.p = e / total
        else:
            self.p = y_pred
            self.p_clipped = np.clip(y_pred, EPSILON, 1.0)
            log_p = np.log(self.p_clipped)
        return -float((self.target * log_p).sum()) * self.scale

    def backward(self):
        if self.from_logits:
            return (self.p - self.target) * self.scale
        return (-self.target / self.p_clipped) * self.scale


@LOSSES.register("categorical_crossentropy", "cce")
class CategoricalCrossentropy(_SoftmaxCrossentropy):
    """L = −mean_over_samples Σ_k y_k log p_k with one-hot (or soft) targets y of shape (n, k)."""

    def _prepare_targets(self, y_true, n_classes, dtype):
        return y_true

    def with_logits(self):
        return CategoricalCrossentropy(self.reduction, from_logits=True)


@LOSSES.register("sparse_categorical_crossentropy", "scce")
class SparseCategoricalCrossentropy(_SoftmaxCrossentropy):
    """Categorical cross-entropy with integer labels y of shape (n,) instead of one-hot rows."""

    def _prepare_targets(self, y_true, n_classes, dtype):
        labels = np.asarray(y_true).reshape(-1).astype(np.intp)
        target = np.zeros((labels.shape[0], n_classes), dtype=dtype)
        target[np.arange(labels.shape[0]), labels] = 1
        return target

    def with_logits(self):
        return SparseCategoricalCrossentropy(self.reduction, from_logits=True)


def get_loss(loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        return LOSSES.create(loss)
    raise TypeError(
        f"Invalid type for argument `loss`: expected a name ({', '.join(LOSSES.names())}) or an ml.Loss instance. "
        f"Received: {loss!r}."
    )
