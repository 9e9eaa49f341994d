"""Streaming metrics: `reset()`, `update(y_true, y_pred)` per batch, `result()` for the epoch.

"accuracy" picks its kind from the shapes: one output column → binary (threshold), one-hot targets
→ categorical (argmax both), integer labels with k > 1 outputs → sparse (argmax of the prediction).
"""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import check_number
from mlplab.core.registry import Registry

METRICS = Registry("metric")


class Metric:
    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def _add(self, values: np.ndarray, sample_weight, per_row: int = 1) -> None:
        """Add per-row `values` (each counting `per_row` elements), weighted by `sample_weight` if given."""
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += len(values) * per_row
        else:
            self.total += float(np.dot(values, sample_weight))
            self.count += float(sample_weight.sum()) * per_row

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def get_config(self) -> dict:
        return {}

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """One-shot value on whole arrays."""
        self.reset()
        self.update(np.asarray(y_true), np.asarray(y_pred),
                    None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64))
        value = self.result()
        self.reset()
        return value


@METRICS.register("accuracy", "acc")
class Accuracy(Metric):
    """Fraction of correct predictions; `threshold` applies to single-output (binary) models."""
    name = "accuracy"

    def __init__(self, threshold: float = 0.5):
        self.threshold = float(check_number("threshold", threshold))
        super().__init__()

    def get_config(self):
        return {"threshold": self.threshold}

    def update(self, y_true, y_pred, sample_weight=None):
        y_pred = y_pred.reshape(len(y_pred), -1)
        if y_pred.shape[1] == 1:
            predicted = (y_pred[:, 0] > self.threshold)
            actual = y_true.reshape(-1) > 0.5
        else:
            predicted = y_pred.argmax(axis=1)
            y_true = y_true.reshape(len(y_true), -1)
            actual = y_true.argmax(axis=1) if y_true.shape[1] > 1 else y_true[:, 0].astype(np.intp)
        if sample_weight is None:  # the common case in one count
            self.total += float(np.count_nonzero(predicted == actual))
            self.count += len(y_pred)
        else:
            self._add((predicted == actual).astype(np.float64), sample_weight)


@METRICS.register("mse", "mean_squared_error")
class MeanSquaredError(Metric):
    name = "mse"

    def update(self, y_true, y_pred, sample_weight=None):
        diff = y_pred.reshape(len(y_pred), -1) - y_true.reshape(len(y_true), -1)
        self._add((diff * diff).sum(axis=1, dtype=np.float64), sample_weight, diff.shape[1])


@METRICS.register("mae", "mean_absolute_error")
class MeanAbsoluteError(Metric):
    name = "mae"

    def update(self, y_true, y_pred, sample_weight=None):
        diff = y_pred.reshape(len(y_pred), -1) - y_true.reshape(len(y_true), -1)
        self._add(np.abs(diff).sum(axis=1, dtype=np.float64), sample_weight, diff.shape[1])


@METRICS.register("r2", "r2_score")
class R2Score(Metric):
    """R² = 1 − SS_res / SS_tot per output column, averaged (scikit-learn's uniform average)."""
    name = "r2"

    def reset(self):
        self.n, self.sum_y, self.sum_y2, self.ss_res = 0, 0.0, 0.0, 0.0

    def update(self, y_true, y_pred, sample_weight=None):
        y_true = y_true.reshape(len(y_true), -1).astype(np.float64)
        y_pred = y_pred.reshape(len(y_pred), -1).astype(np.float64)
        w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.n += float(w.sum())  # the weighted count (scikit-learn's weighted R²)
        self.sum_y = self.sum_y + w @ y_true
        self.sum_y2 = self.sum_y2 + w @ (y_true * y_true)
        self.ss_res = self.ss_res + w @ ((y_true - y_pred) ** 2)

    def result(self):
        if not self.n:
            return float("nan")
        ss_tot = self.sum_y2 - self.sum_y ** 2 / self.n
        ss_res = np.asarray(self.ss_res, dtype=np.float64)
        ss_tot = np.asarray(ss_tot, dtype=np.float64)
        safe = np.where(ss_tot > 0, ss_tot, 1.0)
        scores = np.where(ss_tot > 0, 1 - ss_res / safe, np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(scores))


def get_metric(metric) -> Metric:
    if isinstance(metric, Metric):
        return metric
    return METRICS.resolve(metric, "metrics", "an ml.Metric instance")


def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Accuracy of predictions (probabilities, scores or one-hot) against labels or one-hot targets."""
    return Accuracy(threshold)(y_true, y_pred)


def r2_score(y_true, y_pred) -> float:
    return R2Score()(y_true, y_pred)
