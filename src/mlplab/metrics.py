"""Streaming metrics: `reset()`, `update(y_true, y_pred)` per batch, `result()` for the epoch.

"accuracy" picks its kind from the shapes: one output column → binary (threshold), one-hot targets
→ categorical (argmax both), integer labels with k > 1 outputs → sparse (argmax of the prediction).
"""
from __future__ import annotations

import numpy as np

from .registry import Registry

METRICS = Registry("metric")


class Metric:
    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, y_true, y_pred):
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def __call__(self, y_true, y_pred) -> float:
        """One-shot value on whole arrays."""
        self.reset()
        self.update(np.asarray(y_true), np.asarray(y_pred))
        value = self.result()
        self.reset()
        return value


@METRICS.register("accuracy", "acc")
class Accuracy(Metric):
    """Fraction of correct predictions; `threshold` applies to single-output (binary) models."""
    name = "accuracy"

    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__()

    def update(self, y_true, y_pred):
        y_pred = y_pred.reshape(len(y_pred), -1)
        if y_pred.shape[1] == 1:
            predicted = (y_pred[:, 0] > self.threshold)
            actual = y_true.reshape(-1) > 0.5
        else:
            predicted = y_pred.argmax(axis=1)
            y_true = y_true.reshape(len(y_true), -1)
            actual = y_true.argmax(axis=1) if y_true.shape[1] > 1 else y_true[:, 0].astype(np.intp)
        self.total += float(np.count_nonzero(predicted == actual))
        self.count += len(y_pred)


@METRICS.register("mse", "mean_squared_error")
class MeanSquaredError(Metric):
    name = "mse"

    def update(self, y_true, y_pred):
        diff = y_pred.reshape(len(y_pred), -1) - y_true.reshape(len(y_true), -1)
        self.total += float(np.vdot(diff, diff))
        self.count += diff.size


@METRICS.register("mae", "mean_absolute_error")
class MeanAbsoluteError(Metric):
    name = "mae"

    def update(self, y_true, y_pred):
        diff = y_pred.reshape(len(y_pred), -1) - y_true.reshape(len(y_true), -1)
        self.total += float(np.abs(diff).sum())
        self.count += diff.size


@METRICS.register("r2", "r2_score")
class R2Score(Metric):
    """R² = 1 − SS_res / SS_tot per output column, averaged (scikit-learn's uniform average)."""
    name = "r2"

    def reset(self):
        self.n, self.sum_y, self.sum_y2, self.ss_res = 0, 0.0, 0.0, 0.0

    def update(self, y_true, y_pred):
        y_true = y_true.reshape(len(y_true), -1).astype(np.float64)
        y_pred = y_pred.reshape(len(y_pred), -1).astype(np.float64)
        self.n += len(y_true)
        self.sum_y = self.sum_y + y_true.sum(axis=0)
        self.sum_y2 = self.sum_y2 + (y_true * y_true).sum(axis=0)
        self.ss_res = self.ss_res + ((y_true - y_pred) ** 2).sum(axis=0)

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
    if isinstance(metric, str):
        try:
            return METRICS.create(metric)
        except ValueError as err:
            raise ValueError(f"Invalid value for argument `metrics`: {err}") from None
    raise TypeError(f"Invalid type for argument `metrics`: expected names like 'accuracy' or ml.Metric "
                    f"instances. Received: {metric!r}.")


def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Accuracy of predictions (probabilities, scores or one-hot) against labels or one-hot targets."""
    return Accuracy(threshold)(y_true, y_pred)


def r2_score(y_true, y_pred) -> float:
    return R2Score()(y_true, y_pred)
