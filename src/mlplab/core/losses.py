"""Losses are criteria, not layers: `forward(y_true, y_pred)` returns a float, `backward()` returns dL/dy_pred.

Cross-entropies take `from_logits=True` to work on pre-activations with the log-sum-exp form;
then the gradient is simply p − y (divided by the batch size), with no NaN or inf for huge logits.
`sample_weight` (one weight per sample) multiplies each sample's loss, Keras's meaning: the mean
still divides by the number of samples. Each loss also owns the rules its targets must follow
(`check_targets`).
"""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import as_array, check_bool, check_choice, invalid
from mlplab.core.activations import sigmoid
from mlplab.core.registry import Registry

LOSSES = Registry("loss")
EPSILON = 1e-7  # probabilities are clipped to [ε, 1 − ε] before taking logs (Keras's convention)


class Loss:
    """Base criterion. `reduction` is "mean" (over all elements) or "sum"."""

    def __init__(self, reduction: str = "mean", from_logits: bool = False):
        self.reduction = check_choice("reduction", reduction, ("mean", "sum"))
        self.from_logits = check_bool("from_logits", from_logits)

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        return self.forward(y_true, y_pred, sample_weight)

    def forward(self, y_true, y_pred, sample_weight=None) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def _setup(self, count: int, sample_weight, ndim: int) -> None:
        """The scale 1/count (or 1 for "sum") and the per-sample weights shaped to broadcast."""
        self.scale = 1.0 / count if self.reduction == "mean" else 1.0
        self.weight = None if sample_weight is None else sample_weight.reshape((-1,) + (1,) * (ndim - 1))

    def _total(self, losses: np.ndarray) -> float:
        """Σ (weighted) losses × scale."""
        total = losses.sum() if self.weight is None else np.vdot(losses, np.broadcast_to(self.weight, losses.shape))
        return float(total) * self.scale

    def _weighted(self, grad: np.ndarray) -> np.ndarray:
        return grad if self.weight is None else grad * self.weight

    def check_targets(self, y, output_shape: tuple, dtype, name: str = "y") -> np.ndarray:
        """`y` as this loss needs it for outputs of shape (n_samples, *output_shape), or a ValueError."""
        y = as_array(name, y, dtype, min_ndim=1)
        if y.ndim == 1 and tuple(output_shape) == (1,):
            y = y.reshape(-1, 1)
        if y.shape[1:] != tuple(output_shape):
            raise invalid(name, f"targets of shape (n_samples, {', '.join(map(str, output_shape))}) to match the "
                                f"model output{self._shape_hint(y)}", y)
        return y

    def _shape_hint(self, y) -> str:
        return ""

    def with_logits(self) -> "Loss":
        """The same loss taking logits (what training uses to fuse it with a softmax/sigmoid output)."""
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

    def forward(self, y_true, y_pred, sample_weight=None):
        self.diff = y_pred - y_true
        self._setup(self.diff.size, sample_weight, self.diff.ndim)
        if self.weight is None:
            return float(np.vdot(self.diff, self.diff)) * self.scale
        return self._total(self.diff * self.diff)

    def backward(self):
        return self._weighted((2.0 * self.scale) * self.diff)

    def get_config(self):
        return {"reduction": self.reduction}


@LOSSES.register("mean_absolute_error", "mae")
class MeanAbsoluteError(Loss):
    """L = mean(|ŷ − y|); dL/dŷ = sign(ŷ − y)/N."""

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, y_true, y_pred, sample_weight=None):
        self.diff = y_pred - y_true
        self._setup(self.diff.size, sample_weight, self.diff.ndim)
        return self._total(np.abs(self.diff))

    def backward(self):
        return self._weighted(self.scale * np.sign(self.diff))

    def get_config(self):
        return {"reduction": self.reduction}


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(Loss):
    """L = −mean(y·log p + (1 − y)·log(1 − p)).

    from_logits: L = mean(max(z, 0) − z·y + log(1 + e^(−|z|))), dL/dz = (σ(z) − y)/N.
    """

    def forward(self, y_true, y_pred, sample_weight=None):
        self.y = y_true
        self._setup(y_pred.size, sample_weight, y_pred.ndim)
        if self.from_logits:
            z = y_pred
            e = np.exp(-np.abs(z))  # e^(−|z|) ∈ (0, 1]: never overflows
            self.p = sigmoid(z, e)
            losses = np.maximum(z, 0) - z * y_true + np.log1p(e)
        else:
            self.p = y_pred
            p = np.clip(y_pred, EPSILON, 1 - EPSILON)
            self.p_clipped = p
            losses = -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
        return self._total(losses)

    def backward(self):
        if self.from_logits:
            return self._weighted((self.p - self.y) * self.scale)
        p = self.p_clipped
        return self._weighted(((self.p - self.y) / (p * (1 - p))) * self.scale)

    def check_targets(self, y, output_shape, dtype, name="y"):
        y = super().check_targets(y, output_shape, dtype, name)
        if y.min() < 0 or y.max() > 1:
            raise invalid(name, "targets in [0, 1] for BinaryCrossentropy (0/1 labels or probabilities)", y)
        return y

    def with_logits(self):
        return BinaryCrossentropy(self.reduction, from_logits=True)


class _SoftmaxCrossentropy(Loss):
    """Shared log-softmax core: log p = z − logsumexp(z); dL/dz = (softmax(z) − y)/n."""

    def _prepare_targets(self, y_true, n_classes: int, dtype) -> np.ndarray:
        raise NotImplementedError

    def forward(self, y_true, y_pred, sample_weight=None):
        self._setup(y_pred.shape[0] if y_pred.ndim > 1 else 1, sample_weight, y_pred.ndim)
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
        return -self._total(self.target * log_p)

    def backward(self):
        if self.from_logits:
            return self._weighted((self.p - self.target) * self.scale)
        return self._weighted((-self.target / self.p_clipped) * self.scale)


@LOSSES.register("categorical_crossentropy", "cce")
class CategoricalCrossentropy(_SoftmaxCrossentropy):
    """L = −mean_over_samples Σ_k y_k log p_k with one-hot (or soft) targets y of shape (n, k).

    Each row of y must be a distribution (entries in [0, 1] summing to 1): only then is the fused
    gradient p − y the gradient of this loss.
    """

    def _prepare_targets(self, y_true, n_classes, dtype):
        return y_true

    def check_targets(self, y, output_shape, dtype, name="y"):
        y = super().check_targets(y, output_shape, dtype, name)
        if y.min() < 0 or y.max() > 1:
            raise invalid(name, "targets in [0, 1] for CategoricalCrossentropy", y)
        sums = y.reshape(-1, y.shape[-1]).sum(axis=-1, dtype=np.float64)
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
        if bad.size:
            raise invalid(name, f"rows that sum to 1 (one-hot or class probabilities) for CategoricalCrossentropy; "
                                f"row {bad[0]} sums to {sums[bad[0]]:g} (for integer labels use "
                                f"sparse_categorical_crossentropy)", y)
        return y

    def _shape_hint(self, y):
        return " (use sparse_categorical_crossentropy for integer labels)" if y.ndim == 1 else ""

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

    def check_targets(self, y, output_shape, dtype, name="y"):
        y = as_array(name, y, min_ndim=1)
        labels = y.reshape(len(y), -1)
        if labels.shape[1] != 1:
            raise invalid(name, "integer class labels of shape (n_samples,) for sparse_categorical_crossentropy "
                                "(use categorical_crossentropy for one-hot targets)", y)
        n_classes = output_shape[-1]
        if y.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
            raise invalid(name, "integer class labels", y)
        low, high = labels.min(), labels.max()
        if low < 0 or high >= n_classes:
            raise invalid(name, f"class labels in [0, {n_classes - 1}] for a model with {n_classes} outputs "
                                f"(found labels from {low:g} to {high:g})", y)
        return labels.reshape(-1).astype(np.intp)

    def with_logits(self):
        return SparseCategoricalCrossentropy(self.reduction, from_logits=True)


def get_loss(loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    return LOSSES.resolve(loss, "loss", "an ml.Loss instance")


@LOSSES.register("poisson")
class Poisson(Loss):
    """Poisson loss on log rates (the log link): the network outputs z = log λ and
    L = mean(e^z − y·z + y·log y − y), half the Poisson deviance (0 for a perfect fit); dL/dz = (e^z − y)/N.
    Targets are counts or rates ≥ 0; predictions of the rate are exp(output)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, y_true, y_pred, sample_weight=None):
        self.rate = np.exp(y_pred)
        self.y = y_true
        self._setup(y_pred.size, sample_weight, y_pred.ndim)
        y_log_y = np.where(y_true > 0, y_true * np.log(np.where(y_true > 0, y_true, 1)), 0.0)
        return self._total(self.rate - y_true * y_pred + y_log_y - y_true)

    def backward(self):
        return self._weighted(self.scale * (self.rate - self.y))

    def check_targets(self, y, output_shape, dtype, name="y"):
        y = super().check_targets(y, output_shape, dtype, name)
        if (y < 0).any():
            raise invalid(name, "targets ≥ 0 (counts or rates) for the Poisson loss", y)
        return y

    def get_config(self):
        return {"reduction": self.reduction}
