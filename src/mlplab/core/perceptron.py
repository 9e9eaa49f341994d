"""Rosenblatt's perceptron: one neuron with a step activation, trained by the perceptron rule (no gradients).

    ŷ = 1 if w·x + b > 0 else 0            (the threshold θ moved into the bias: b = −θ)
    w ← w + lr·(y − ŷ)·x                    (per sample; nothing changes when ŷ = y)

The bias trick: prepend a constant 1 to every x, so the bias is just the weight w0 of that input and
both updates are one line. Training stops after an epoch with no mistakes (then every training point
is classified correctly) or after `max_epochs`. On data that are not linearly separable, such as
XOR, it can never get there; `fit` says so in `message_` instead of raising.

>>> x = [[0, 0], [0, 1], [1, 0], [1, 1]]
>>> p = Perceptron().fit(x, [0, 0, 0, 1])            # AND
>>> p.converged_, p.weights_.tolist(), p.errors_
(True, [-2.0, 2.0, 1.0], [1, 3, 3, 2, 1, 0])
>>> Perceptron().fit(x, [0, 1, 1, 0]).converged_     # XOR
False
"""
from __future__ import annotations


import numpy as np

from mlplab.core.checks import as_array, check_bool, check_choice, check_number, invalid, make_rng


class NotFittedError(ValueError, AttributeError):
    """Raised when a fitted attribute or `predict` is used before `fit` (as in scikit-learn)."""


class Perceptron:
    """The classic single-neuron binary classifier with labels 0/1.

    Parameters
    ----------
    learning_rate : float > 0, default 1.0 — lr in w ← w + lr·(y − ŷ)·x.
    max_epochs : int ≥ 1, default 100 — passes over the data at most.
    seed : None, int or numpy.random.Generator — used only when `shuffle=True` or `init="random"`.
    bias_trick : bool, default True — keep the bias as w0 of a constant input 1 (`weights_` = [w0, w1, ...]);
        False keeps a separate `intercept_` updated by b ← b + lr·(y − ŷ) (the same rule written out).
    shuffle : bool, default False — visit the samples in a new random order every epoch.
    init : "zeros" (default) or "random" (N(0, 0.01²) weights, bias included).

    Fitted attributes
    -----------------
    weights_ : (n_features + 1,) with the bias as w0 when bias_trick, else (n_features,).
    coef_ : (n_features,) the input weights;  intercept_ : float, the bias b (= −threshold).
    errors_ : list of the number of mistakes (updates) in each epoch.
    converged_ : True when an epoch ended with no mistake.
    n_epochs_ : epochs run;  best_accuracy_ : best training accuracy at the end of an epoch.
    reason_ : "converged", "cycle" (the weights came back to an earlier state: the data are not linearly
        separable, so training stopped) or "max_epochs";  message_ : the same in a sentence.
    """

    def __init__(self, learning_rate: float = 1.0, max_epochs: int = 100, seed=None, bias_trick: bool = True,
                 *, shuffle: bool = False, init: str = "zeros"):
        self.learning_rate = float(check_number("learning_rate", learning_rate, low=0.0, low_open=True))
        self.max_epochs = check_number("max_epochs", max_epochs, low=1, integer=True)
        self.rng = make_rng(seed)
        self.seed = seed
        self.bias_trick = check_bool("bias_trick", bias_trick)
        self.shuffle = check_bool("shuffle", shuffle)
        self.init = check_choice("init", init, ("zeros", "random"))

    # -- training -------------------------------------------------------------------------------
    def fit(self, x, y) -> Perceptron:
        """Run the perceptron rule on x (n_samples, n_features) and labels y (n_samples,) in {0, 1}."""
        x = self.check_input(x, fitting=True)
        y = self._check_y(y, len(x))
        n_features = x.shape[1]
        # The bias trick: a leading column of ones turns b into the weight w0.
        inputs = np.hstack([np.ones((len(x), 1)), x])
        w = (self.rng.normal(0.0, 0.01, n_features + 1) if self.init == "random" else np.zeros(n_features + 1))

        self.n_features_in_ = n_features
        self.errors_: list[int] = []
        self.converged_ = False
        self.best_accuracy_ = float(np.mean(self._step(inputs @ w) == y))
        self.best_epoch_ = 0
        seen = {w.tobytes(): 0}  # weights at the end of each epoch → epoch (0 = the initial weights)
        self.reason_, repeat_of = "max_epochs", None
        lr = self.learning_rate
        for epoch in range(1, self.max_epochs + 1):
            order = self.rng.permutation(len(x)) if self.shuffle else range(len(x))
            mistakes = 0
            for i in order:
                y_hat = 1.0 if inputs[i] @ w > 0 else 0.0
                if y_hat != y[i]:
                    w += lr * (y[i] - y_hat) * inputs[i]  # Rosenblatt: w ← w + lr·(y − ŷ)·x
                    mistakes += 1
            self.errors_.append(mistakes)
            accuracy = float(np.mean(self._step(inputs @ w) == y))
            if accuracy > self.best_accuracy_:
                self.best_accuracy_, self.best_epoch_ = accuracy, epoch
            if mistakes == 0:
                self.converged_, self.reason_ = True, "converged"
                break
            # In a fixed order the rule is deterministic: the same weights at the end of two epochs
            # mean it would repeat the same mistakes forever. On linearly separable data the number
            # of mistakes is finite (Novikoff's theorem), so a cycle proves the data are not separable.
            if not self.shuffle:
                key = w.tobytes()
                if key in seen:
                    self.reason_, repeat_of = "cycle", seen[key]
                    break
                seen[key] = epoch
        self.n_epochs_ = len(self.errors_)
        self._set_weights(w)
        self.message_ = self._message(repeat_of)
        return self

    def _set_weights(self, w: np.ndarray) -> None:
        self._augmented_weights = w.copy()  # [b, w1, ..., wd], what predict uses (same sums as in fit)
        self.intercept_ = float(w[0])
        self.coef_ = w[1:].copy()
        self.weights_ = w.copy() if self.bias_trick else self.coef_.copy()

    def _message(self, repeat_of) -> str:
        epochs = f"{self.n_epochs_} epoch{'s' if self.n_epochs_ != 1 else ''}"
        if self.converged_:
            return f"Converged after {epochs}: every training sample is classified correctly."
        when = "the initial weights" if self.best_epoch_ == 0 else f"after epoch {self.best_epoch_}"
        best = f"Best training accuracy reached: {self.best_accuracy_:.1%} ({when})."
        if self.reason_ == "cycle":
            return (f"Stopped after {epochs} without converging: the weights came back to where they were "
                    f"after epoch {repeat_of}, so the rule would repeat the same mistakes forever. The data are "
                    f"not linearly separable (like XOR): no line w·x + b = 0 puts every 1 on one side and "
                    f"every 0 on the other, so a single perceptron cannot reach 100%; add a hidden layer "
                    f"(an MLP). {best}")
        return (f"Did not converge in {epochs}: some training samples are still misclassified. The data may "
                f"not be linearly separable (like XOR), or need more epochs (max_epochs). {best}")

    # -- inference ------------------------------------------------------------------------------
    @staticmethod
    def _step(z: np.ndarray) -> np.ndarray:
        return (z > 0).astype(np.int64)

    def decision_function(self, x) -> np.ndarray:
        """The net input z = w·x + b for each row of x, shape (n_samples,)."""
        x = self.check_input(x)
        return np.hstack([np.ones((len(x), 1)), x]) @ self._augmented_weights

    def predict(self, x) -> np.ndarray:
        """Labels 1 where w·x + b > 0 else 0, shape (n_samples,), dtype int64."""
        return self._step(self.decision_function(x))

    def score(self, x, y) -> float:
        """Accuracy: the fraction of rows of x whose predicted label equals y."""
        predicted = self.predict(x)
        y = self._check_y(y, len(predicted))
        return float(np.mean(predicted == y))

    def decision_line(self) -> tuple[float, float]:
        """(slope, intercept) of the boundary w1·x1 + w2·x2 + b = 0 as x2 = slope·x1 + intercept (2-D inputs).

        For plotting: x2 = −(w1/w2)·x1 − b/w2. Raises ValueError when the model has not 2 inputs or the
        line is vertical (w2 = 0) and so has no slope.
        """
        self._require_fitted()
        if self.n_features_in_ != 2:
            raise ValueError(f"decision_line() needs a perceptron fitted on 2 features (a line in the plane). "
                             f"Received: a perceptron with {self.n_features_in_} features.")
        (w1, w2), b = self.coef_, self.intercept_
        if w2 == 0:
            where = f"the vertical line x1 = {-b / w1:g}" if w1 != 0 else "no line at all (w1 = w2 = 0)"
            raise ValueError(f"The decision boundary has no slope-intercept form: w2 = 0, so it is {where}.")
        return float(-w1 / w2), float(-b / w2)

    # -- checks ---------------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This Perceptron is not fitted yet: call fit(x, y) first.")

    def check_input(self, x, fitting: bool = False) -> np.ndarray:
        if not fitting:
            self._require_fitted()
        x = as_array("x", x, np.float64, min_ndim=1)
        if x.ndim != 2:
            raise invalid("x", "a 2-D array of shape (n_samples, n_features); reshape a single feature "
                               "with x.reshape(-1, 1)", x)
        if not fitting and x.shape[1] != self.n_features_in_:
            raise invalid("x", f"{self.n_features_in_} features per row, as in fit", x)
        return x

    @staticmethod
    def _check_y(y, n_samples: int) -> np.ndarray:
        y = as_array("y", y, min_ndim=1)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise invalid("y", "labels of shape (n_samples,)", y)
        if len(y) != n_samples:
            raise invalid("y", f"{n_samples} labels, one per row of x", y)
        labels = np.unique(y)
        if not np.isin(labels, (0, 1)).all():
            shown = ", ".join(f"{v:g}" for v in labels[:6]) + (", ..." if len(labels) > 6 else "")
            raise ValueError(f"Invalid value for argument `y`: expected labels 0 and 1 (the step activation "
                             f"outputs 0 or 1). Received labels: {shown}. Map them first, e.g. "
                             f"y = (y > 0).astype(int) for -1/1 labels.")
        return y.astype(np.float64)

    def __repr__(self):
        return (f"Perceptron(learning_rate={self.learning_rate}, max_epochs={self.max_epochs}, seed={self.seed!r}, "
                f"bias_trick={self.bias_trick})")


__all__ = ["NotFittedError", "Perceptron"]
