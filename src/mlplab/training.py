"""The training loop behind `Sequential.fit/evaluate`, and the checks that run before it touches the model.

Everything is validated first; only then does the model change. The numerical work of each step is
the engine's (`mlplab.engine`).
"""
from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np

from mlplab.core.checks import as_array, check_bool, check_number, invalid
from mlplab.core.callbacks import Callback, CallbackList, History, NaNGuard, ProgressBar
from mlplab.engine.buffers import batches, engine_for
from mlplab.engine.fused import check_output_matches_loss
from mlplab.engine.inference import evaluate_arrays
from mlplab.core.losses import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy


class NotCompiledError(RuntimeError, ValueError):
    """Raised by fit/evaluate before compile."""


class Transaction:
    """What `fit` may change, recorded before it starts: weights (BatchNormalization's moving statistics
    included), whether the model was built, optimizer state and learning rate, the random generator,
    `history` and `stop_training`. `rollback()` puts all of it back, with Ctrl-C held off meanwhile."""

    def __init__(self, model):
        self.model, self.built = model, model.built
        self.weights = model.get_weights() if model.built else None  # copies
        self.optimizer_state = model.optimizer.get_state()  # copies
        self.learning_rate = model.optimizer.learning_rate
        self.rng_state = model.rng.bit_generator.state
        self.history, self.stop_training = getattr(model, "history", None), model.stop_training

    def rollback(self) -> None:
        model = self.model
        with interrupts_deferred():
            if self.built:
                model.set_weights(self.weights, check_finite=False)
            else:
                unbuild(model)
            model.optimizer.set_state(self.optimizer_state)
            model.optimizer.learning_rate = self.learning_rate
            model.rng.bit_generator.state = self.rng_state
            model.history, model.stop_training = self.history, self.stop_training


def unbuild(model) -> None:
    """Take a model that `fit` built back to unbuilt, so that its next build draws the same weights."""
    for layer in model.layers:
        layer.params, layer.grads, layer.state = {}, {}, {}
        layer.built, layer.input_shape = False, None
    model.built, model.input_shape, model._engine = False, None, None


@contextlib.contextmanager
def interrupts_deferred():
    """Hold off SIGINT (Ctrl-C) for the duration, then raise KeyboardInterrupt if one came: a second
    Ctrl-C must not tear the rollback of the first. Outside the main thread, signals cannot arrive anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if received:
        raise KeyboardInterrupt


def check_batch_size(batch_size):
    return check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)


def require_compiled(model, call: str):
    if not model.layers:
        raise ValueError(f"The model has no layers: add some (Sequential([...]) or model.add(...)) before `{call}`.")
    if not model.compiled:
        raise NotCompiledError(f"The model must be compiled before `{call}`: call "
                               f"model.compile(optimizer=..., loss=...) first.")
    check_output_matches_loss(model.layers, model.loss)  # layers may have been added since compile


def check_targets(model, x, y, name: str = "y") -> np.ndarray:
    """y validated by the loss's own rules against the model's output shape."""
    y_array = as_array(name, y, min_ndim=1, finite=False)
    if len(y_array) != len(x):
        raise invalid(name, f"{len(x)} rows, one per sample of x", y_array)
    return model.loss.check_targets(y_array, model.output_shapes(x.shape[1:])[-1], model.dtype, name)


def sample_weights(model, y, sample_weight, class_weight, n: int, name: str = "sample_weight"):
    """One weight per sample (model dtype) from `sample_weight` times `class_weight`, or None."""
    weights = None
    if sample_weight is not None:
        weights = as_array(name, sample_weight, np.float64, min_ndim=1)
        if weights.shape != (n,):
            raise invalid(name, f"one weight per sample, shape ({n},)", weights)
        if weights.min() < 0:
            raise invalid(name, "weights ≥ 0", weights)
    if class_weight is not None:
        labels = class_labels(model, y)
        per_class = _class_weight_table(class_weight, labels)
        from_classes = per_class[labels]
        weights = from_classes if weights is None else weights * from_classes
    return None if weights is None else weights.astype(model.dtype)


def class_labels(model, y) -> np.ndarray:
    """Integer class of each sample: the label, the one-hot argmax, or 0/1 of a single sigmoid output."""
    if isinstance(model.loss, SparseCategoricalCrossentropy):
        return y
    if y.ndim == 2 and y.shape[1] > 1 and isinstance(model.loss, CategoricalCrossentropy):
        return y.argmax(axis=1)
    if isinstance(model.loss, BinaryCrossentropy) and y.shape[1:] == (1,):
        return (y[:, 0] > 0.5).astype(np.intp)
    raise invalid("class_weight", "a classification loss (binary, categorical or sparse cross-entropy "
                                  "with one output per class)", type(model.loss).__name__)


def _class_weight_table(class_weight, labels):
    n_classes = int(labels.max()) + 1
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise invalid("class_weight", "a dict {class: weight} or 'balanced'", class_weight)
        counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
        present = counts > 0
        table = np.zeros(n_classes)
        table[present] = len(labels) / (present.sum() * counts[present])  # scikit-learn's "balanced"
        return table
    if not isinstance(class_weight, dict):
        raise TypeError(f"Invalid type for argument `class_weight`: expected a dict {{class: weight}} or "
                        f"'balanced'. Received: {class_weight!r}.")
    table = np.ones(n_classes)
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
            raise invalid("class_weight", "integer class indices as keys", label)
        check_number(f"class_weight[{label}]", weight, low=0.0)
        if label < n_classes:
            table[label] = weight
    return table


def _split_validation(model, x, y, w, validation_split, validation_data):
    """(x, y, w, validation arrays or None, number of rows to hold out by shuffled split)."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise invalid("validation_data", "a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)",
                          validation_data)
        x_val = model.check_input(validation_data[0], "validation_data[0]")
        y_val = check_targets(model, x_val, validation_data[1], "validation_data[1]")
        w_val = None if len(validation_data) == 2 else sample_weights(
            model, y_val, validation_data[2], None, len(x_val), "validation_data[2]")
        return x, y, w, (x_val, y_val, w_val), None
    if not validation_split:
        return x, y, w, None, None
    n_val = int(round(len(x) * validation_split))
    if n_val < 1 or n_val >= len(x):
        raise invalid("validation_split", f"a fraction that leaves at least one sample on each side "
                                          f"of {len(x)} samples", validation_split)
    return x, y, w, None, n_val


def _check_batch_norm_batches(model, n, batch):
    """BatchNormalization cannot learn from a batch of one row (it has no variance): refuse up front."""
    if any(type(layer).__name__ == "BatchNormalization" and layer.trainable for layer in model.layers):
        sizes = {min(batch, n), n % batch or batch}
        if 1 in sizes:
            raise invalid("batch_size", f"a size that leaves no training batch of 1 row for {n} samples, "
                                        f"since BatchNormalization needs at least 2", batch)


def fit(model, x, y, *, epochs, batch_size, validation_split, validation_data, shuffle, callbacks, verbose,
        nan_guard, sample_weight=None, class_weight=None):
    require_compiled(model, "fit")
    check_number("epochs", epochs, low=1, integer=True)
    check_batch_size(batch_size)
    check_number("validation_split", validation_split, low=0.0, high=1.0, high_open=True)
    check_number("verbose", verbose, low=0, high=2, integer=True)
    shuffle, nan_guard = check_bool("shuffle", shuffle), check_bool("nan_guard", nan_guard)
    if isinstance(callbacks, Callback) or (callbacks is not None and not isinstance(callbacks, (list, tuple))):
        raise TypeError(f"Invalid type for argument `callbacks`: expected a list of ml.Callback. "
                        f"Received: {callbacks!r}.")
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"Invalid type for argument `callbacks`: expected ml.Callback instances. "
                            f"Received: {callback!r}.")
    x = model.check_input(x)
    y = check_targets(model, x, y)
    w = sample_weights(model, y, sample_weight, class_weight, len(x))
    x, y, w, validation, n_val = _split_validation(model, x, y, w, validation_split, validation_data)
    n = len(x) - (n_val or 0)
    batch = n if batch_size is None else min(batch_size, n)
    _check_batch_norm_batches(model, n, batch)
    metric_keys = ["loss"] + [m.name for m in model.metrics]
    log_keys = metric_keys + ([f"val_{k}" for k in metric_keys] if validation is not None or n_val else [])
    for callback in callbacks:  # a misspelt `monitor`, a bad path: refused here, before the model changes
        callback.check_before_fit(model, log_keys)

    # Everything is valid: from here on the model changes, as one transaction.
    transaction = Transaction(model)
    try:
        return _run_fit(model, x, y, w, validation, n_val, n, batch, epochs, shuffle, callbacks, verbose,
                        nan_guard, log_keys)
    except BaseException:  # Ctrl-C included: the model goes back to its state before fit, then the error
        transaction.rollback()
        raise


def _run_fit(model, x, y, w, validation, n_val, n, batch, epochs, shuffle, callbacks, verbose, nan_guard,
             log_keys):
    """Build, split, then the epochs; `fit` has checked every argument and rolls this back on any error."""
    if not model.built:
        model.build(x.shape[1:])
    if n_val:
        order = model.rng.permutation(len(x))
        held, kept = order[:n_val], order[n_val:]
        validation = (x[held], y[held], None if w is None else w[held])
        x, y, w = x[kept], y[kept], None if w is None else w[kept]
    history = History()
    has_guard = any(isinstance(c, NaNGuard) for c in callbacks)
    extra = [NaNGuard()] if nan_guard and not has_guard else []
    guard = nan_guard or has_guard
    bar = [ProgressBar(verbose)] if verbose else []
    steps = -(-n // batch)
    params = {"epochs": epochs, "steps": steps, "samples": n, "log_keys": log_keys, "verbose": verbose}
    hooks = CallbackList(callbacks + [history] + bar + extra, model, params)
    model.stop_training = False
    model.history = history
    engine = engine_for(model)
    hooks.on_train_begin({})
    # With the guard on, overflow on the way to a NaN loss is reported by the guard, not by NumPy warnings.
    quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore") if guard else contextlib.nullcontext()
    with quiet:
        if getattr(model.optimizer, "full_batch", False):  # L-BFGS: one run on all the data
            _fit_full_batch(model, engine, x, y, w, epochs, validation, hooks, history)
            hooks.on_train_end({})
            return history
        for epoch in range(epochs):
            hooks.on_epoch_begin(epoch, {})
            logs = _train_epoch(model, engine, x, y, w, batch, shuffle, hooks)
            if validation is not None:
                logs.update({f"val_{k}": v for k, v in evaluate_arrays(model, *validation, None).items()})
            history.add_diagnostics(engine.diagnostics())
            hooks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        hooks.on_train_end({})
    return history


def _fit_full_batch(model, engine, x, y, w, epochs, validation, hooks, history):
    """A full-batch optimizer (ml.LBFGS) runs once over all the data: each of its iterations is an epoch
    for the callbacks (and the loss curve); a callback's stop_training ends the run."""
    epoch = 0
    hooks.on_epoch_begin(epoch, {})

    def on_iteration(loss):
        nonlocal epoch
        logs = {"loss": loss}
        if model.metrics:
            logs = evaluate_arrays(model, x, y, w, None)
        if validation is not None:
            logs.update({f"val_{k}": v for k, v in evaluate_arrays(model, *validation, None).items()})
        hooks.on_batch_end(0, {"loss": loss})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            raise StopIteration
        epoch += 1
        hooks.on_epoch_begin(epoch, {})

    model.optimizer.result = history.optimizer_result = engine.minimize_lbfgs(x, y, w, epochs, on_iteration)


def _train_epoch(model, engine, x, y, w, batch, shuffle, hooks):
    metrics = model.metrics
    for metric in metrics:
        metric.reset()
    if batch >= len(x):  # one full batch: no generator, no bookkeeping (tiny networks notice)
        loss, output = engine.train_step(x, y, w)
        for metric in metrics:
            metric.update(y, output, w)
        hooks.on_batch_end(0, {"loss": loss})
        return {"loss": loss, **{metric.name: metric.result() for metric in metrics}}
    total_loss = 0.0
    for step, (xb, yb, wb) in enumerate(batches(model.rng, x, y, w, batch, shuffle)):
        loss, output = engine.train_step(xb, yb, wb)
        total_loss += loss * len(xb)
        for metric in metrics:
            metric.update(yb, output, wb)
        hooks.on_batch_end(step, {"loss": loss})
    logs = {"loss": total_loss / len(x)}
    for metric in metrics:
        logs[metric.name] = metric.result()
    return logs


def train_step(model, xb, yb, sample_weight=None):
    """One step of gradient descent on a batch: forward, loss, backward, update. Returns (loss, output).

    The explicit-loop counterpart of `fit`'s inner step, through the same engine (flat buffers, fused
    output). `xb` and `yb` are used as given, without the checks `fit` makes."""
    require_compiled(model, "train_step")
    xb = np.asarray(xb, dtype=model.dtype)
    if not model.built:
        model.build(xb.shape[1:])
    return engine_for(model).train_step(xb, yb, sample_weight)


def evaluate(model, x, y, *, batch_size, verbose, sample_weight=None):
    require_compiled(model, "evaluate")
    check_batch_size(batch_size)
    x = model.check_input(x)
    y = check_targets(model, x, y)
    w = sample_weights(model, y, sample_weight, None, len(x))
    if not model.built:
        model.build(x.shape[1:])
    logs = evaluate_arrays(model, x, y, w, batch_size)
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return logs
