"""Callbacks hook into `fit`: History, ProgressBar, EarlyStopping, ReduceLROnPlateau, NaNGuard, LambdaCallback."""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from mlplab.core.checks import check_bool, check_choice, check_number, check_string, invalid


class Callback:
    """Base class. `self.model` is set by fit; `self.params` has epochs, steps and the log keys.

    `check_before_fit(model, log_keys)` runs before fit changes anything: a callback that cannot work
    with this fit (a monitor that is never logged, a path it could not write) raises there, not after an
    epoch. Override it (calling super) to check your own callback's settings."""

    model = None
    params: dict = {}

    def set_model(self, model):
        self.model = model

    def check_before_fit(self, model, log_keys) -> None:
        """Raise ValueError/TypeError if this callback cannot run in a fit logging `log_keys`."""
        check_monitor(self, log_keys)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...


class History(Callback):
    """Per-epoch logs, Keras-style (`history["val_loss"]`), plus diagnostics for the vanishing gradient:

    `gradient_norms[epoch][layer]` — ‖dL/dW‖ of each layer on the epoch's last batch;
    `activation_stats[epoch][layer]` — fraction of dead ReLU units / saturated sigmoid or tanh outputs.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self._records: list = []  # per epoch, the engine's compact diagnostics, turned into dicts on first read

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def add_diagnostics(self, diagnostics) -> None:
        """Keep one epoch's diagnostics (their gradient_norms() and activation_stats()); fit hands them over."""
        self._records.append(diagnostics)

    @property
    def gradient_norms(self) -> list[dict[str, float]]:
        return [record.gradient_norms() for record in self._records]

    @property
    def activation_stats(self) -> list[dict[str, dict[str, float]]]:
        return [record.activation_stats() for record in self._records]

    def __getitem__(self, key):
        return self.history[key]


class ProgressBar(Callback):
    """verbose=1: a live bar per epoch with loss and metrics; verbose=2: one line per epoch."""

    def __init__(self, verbose: int = 1, stream=None, width: int = 24):
        self.verbose, self.stream, self.width = verbose, stream or sys.stdout, width

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start, self.last_draw = epoch, time.perf_counter(), 0.0

    def on_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.verbose == 1 and self.stream.isatty() and now - self.last_draw > 0.1:
            self.last_draw = now
            self._write(batch + 1, logs, end="\r")

    def on_epoch_end(self, epoch, logs=None):
        self._write(self.params["steps"], logs, end="\n")

    def _write(self, done, logs, end):
        steps, epochs = self.params["steps"], self.params["epochs"]
        filled = int(self.width * done / steps)
        bar = "=" * max(filled - 1, 0) + (">" if filled < self.width else "=") + "." * (self.width - filled)
        values = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items())
        elapsed = time.perf_counter() - self.start
        text = f"Epoch {self.epoch + 1}/{epochs} [{bar}] {done}/{steps} - {elapsed:.2f}s"
        self.stream.write(f"{text} - {values}{end}" if values else text + end)
        self.stream.flush()


def monitor_mode(monitor: str, mode: str) -> str:
    check_string("monitor", monitor)
    if check_choice("mode", mode, ("auto", "min", "max")) == "auto":
        return "max" if any(word in monitor for word in ("acc", "r2")) else "min"
    return mode


def check_monitor_name(callback_name: str, monitor) -> str:
    """`monitor` must name a logged value ("val_loss", "accuracy", ...): a non-empty string."""
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"Invalid type for argument `monitor` of {callback_name}: expected the name of a logged "
                        f"value, e.g. 'val_loss' or 'loss'. Received: monitor={monitor!r}.")
    return monitor


def check_monitor(callback, available):
    """Raise if the callback watches a value (`monitor`) that is not among the logged ones `available`."""
    monitor = getattr(callback, "monitor", None)
    if monitor is not None and available and monitor not in available:
        raise invalid(f"{type(callback).__name__}(monitor)",
                      f"one of the logged values {available}", monitor)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    With restore_best_weights=True the best epoch's weights are put back when training ends,
    whether it stopped early or ran out of epochs first.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 restore_best_weights: bool = False, baseline: float | None = None):
        self.monitor = check_monitor_name("EarlyStopping", monitor)
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.patience = check_number("patience", patience, low=0, integer=True)
        self.mode = monitor_mode(monitor, mode)
        self.restore_best_weights = check_bool("restore_best_weights", restore_best_weights)
        self.baseline = check_number("baseline", baseline, allow_none=True)

    def _improved(self, value, reference):
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best = self.baseline if self.baseline is not None else (math.inf if self.mode == "min" else -math.inf)
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if self._improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate by `factor` after `patience` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0):
        self.monitor = check_monitor_name("ReduceLROnPlateau", monitor)
        self.factor = check_number("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = check_number("patience", patience, low=0, integer=True)
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.cooldown = check_number("cooldown", cooldown, low=0, integer=True)
        self.min_lr = check_number("min_lr", min_lr, low=0.0)

    def check_before_fit(self, model, log_keys) -> None:
        check_monitor(self, log_keys)
        if callable(model.optimizer.learning_rate):
            raise ValueError(f"ReduceLROnPlateau needs a float learning rate; the optimizer uses a schedule "
                             f"({model.optimizer.learning_rate!r}). Use one or the other.")

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_left = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = logs.get(self.monitor)
        optimizer = self.model.optimizer
        logs["learning_rate"] = optimizer.learning_rate
        if value is None:
            return
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if better:
            self.best, self.wait = value, 0
        elif self.cooldown_left == 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
                self.cooldown_left, self.wait = self.cooldown, 0


class NaNGuard(Callback):
    """Stop with a FloatingPointError as soon as training diverges, naming the epoch and batch.

    Divergence: a batch loss that is NaN or ±inf, or that exceeds `max_growth` × max(first batch
    loss, 1) (a loss exploding while still finite, e.g. 80 → 1e17); or weights that are not finite
    after the last update (earlier ones show in the next loss). On by default in `fit`. Like any failed call, a diverged fit leaves the model as it
    was: weights, optimizer state and random generator are put back as they were when `fit` began.
    """

    def __init__(self, max_growth: float = 1e6):
        self.max_growth = check_number("max_growth", max_growth, low=1.0)

    def on_train_begin(self, logs=None):
        model = self.model
        self.snapshot = (model.get_weights(), model.optimizer.get_state(), model.rng.bit_generator.state)
        self.limit = None

    def _restore(self):
        weights, state, rng_state = self.snapshot
        self.model.set_weights(weights, check_finite=False)
        self.model.optimizer.set_state(state)
        self.model.rng.bit_generator.state = rng_state
        self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if self.limit is None and math.isfinite(loss):
            self.limit = self.max_growth * max(loss, 1.0)
        if not math.isfinite(loss) or loss > self.limit:
            self._restore()
            what = f"became {loss}" if not math.isfinite(loss) else (
                f"grew to {loss:.3g}, over {self.max_growth:g} times its first value")
            raise FloatingPointError(f"The training loss {what} at epoch {self.epoch + 1}, batch {batch + 1}: "
                                     f"training diverged. {self._advice()}")

    def on_train_end(self, logs=None):
        # Non-finite weights make the next loss non-finite; only the very last update needs a look.
        if not all(np.isfinite(w).all() for layer in self.model.layers for w in layer.params.values()):
            self._restore()
            raise FloatingPointError(f"The weights became NaN or inf in the last update of training. "
                                     f"{self._advice()}")

    def _advice(self):
        return (f"Try a lower learning rate (the optimizer has {self.model.optimizer.current_learning_rate:g}), "
                f"scale the inputs (e.g. ml.preprocessing.standardize), or clip gradients (clipnorm=1.0). "
                f"The model was restored to its state before fit.")


class LambdaCallback(Callback):
    """Build a callback from plain functions, e.g. LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None):
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_batch_begin=on_batch_begin,
                     on_batch_end=on_batch_end, on_train_begin=on_train_begin, on_train_end=on_train_end)
        for hook, function in hooks.items():
            if function is not None:
                if not callable(function):
                    raise TypeError(f"Invalid type for argument `{hook}`: expected a callable. "
                                    f"Received: {function!r}.")
                setattr(self, hook, function)


class CallbackList:
    """Calls each callback in turn; hooks a callback does not override are skipped."""

    HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.params = params
        for hook in self.HOOKS:
            bound = [getattr(c, hook) for c in self.callbacks if _overrides(c, hook)]
            setattr(self, hook, _chain(bound))


def _overrides(callback, hook) -> bool:
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


def _chain(functions):
    def call(*args):
        for function in functions:
            function(*args)
    return call
