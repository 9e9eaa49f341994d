"""The training loop behind `Sequential.fit/evaluate`, and the checks that run before it touches the model."""
from __future__ import annotations

import contextlib

import numpy as np

from ._checks import as_array, check_number, invalid
from .callbacks import CallbackList, History, NaNGuard, ProgressBar, Callback, check_monitor
from .losses import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy


def check_batch_size(batch_size):
    return check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)


def _require_compiled(model, call: str):
    if not model.compiled:
        from .model import NotCompiledError
        raise NotCompiledError(f"The model must be compiled before `{call}`: call "
                               f"model.compile(optimizer=..., loss=...) first.")


def check_targets(model, x, y, name: str = "y") -> np.ndarray:
    """Validate y against x, the loss and the model's output shape; return it shaped like the output."""
    y = as_array(name, y, min_ndim=1)
    if len(y) != len(x):
        raise invalid(name, f"{len(x)} rows, one per sample of x", y)
    out_shape = model.output_shapes(x.shape[1:])[-1]
    loss = model.loss
    if isinstance(loss, SparseCategoricalCrossentropy):
        labels = y.reshape(len(y), -1)
        if labels.shape[1] != 1:
            raise invalid(name, "integer class labels of shape (n_samples,) for sparse_categorical_crossentropy "
                                "(use categorical_crossentropy for one-hot targets)", y)
        n_classes = out_shape[-1]
        if y.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
            raise invalid(name, "integer class labels", y)
        low, high = labels.min(), labels.max()
        if low < 0 or high >= n_classes:
            raise invalid(name, f"class labels in [0, {n_classes - 1}] for a model with {n_classes} outputs "
                                f"(found labels from {low:g} to {high:g})", y)
        return labels.reshape(-1).astype(np.intp)
    y = y.astype(model.dtype, copy=False)
    if y.ndim == 1 and out_shape == (1,):
        y = y.reshape(-1, 1)
    if y.shape[1:] != tuple(out_shape):
        hint = " (use sparse_categorical_crossentropy for integer labels)" if isinstance(
            loss, CategoricalCrossentropy) and y.ndim == 1 else ""
        raise invalid(name, f"targets of shape (n_samples, {', '.join(map(str, out_shape))}) to match the model "
                            f"output{hint}", y)
    if isinstance(loss, (BinaryCrossentropy, CategoricalCrossentropy)) and (y.min() < 0 or y.max() > 1):
        raise invalid(name, f"targets in [0, 1] for {type(loss).__name__}", y)
    return y


def _split_validation(model, x, y, validation_split, validation_data):
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise invalid("validation_data", "a tuple (x_val, y_val)", validation_data)
        x_val = model._check_x(validation_data[0], "validation_data[0]")
        return x, y, x_val, check_targets(model, x_val, validation_data[1], "validation_data[1]"), None
    if not validation_split:
        return x, y, None, None, None
    n_val = int(round(len(x) * validation_split))
    if n_val < 1 or n_val >= len(x):
        raise invalid("validation_split", f"a fraction that leaves at least one sample on each side "
                                          f"of {len(x)} samples", validation_split)
    return x, y, None, None, n_val


def fit(model, x, y, *, epochs, batch_size, validation_split, validation_data, shuffle, callbacks, verbose,
        nan_guard):
    _require_compiled(model, "fit")
    check_number("epochs", epochs, low=1, integer=True)
    check_batch_size(batch_size)
    check_number("validation_split", validation_split, low=0.0, high=1.0, high_open=True)
    check_number("verbose", verbose, low=0, high=2, integer=True)
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"Invalid type for argument `callbacks`: expected ml.Callback instances. "
                            f"Received: {callback!r}.")
    x = model._check_x(x)
    y = check_targets(model, x, y)
    x, y, x_val, y_val, n_val = _split_validation(model, x, y, validation_split, validation_data)
    metric_keys = ["loss"] + [m.name for m in model.metrics]
    log_keys = metric_keys + ([f"val_{k}" for k in metric_keys] if x_val is not None or n_val else [])
    for callback in callbacks:  # a misspelt `monitor` fails here, before the model changes
        check_monitor(callback, log_keys)

    # Everything is valid: from here on the model changes.
    if not model.built:
        model.build(x.shape[1:])
    if n_val:
        order = model.rng.permutation(len(x))
        x_val, y_val = x[order[:n_val]], y[order[:n_val]]
        x, y = x[order[n_val:]], y[order[n_val:]]
    history = History()
    has_guard = any(isinstance(c, NaNGuard) for c in callbacks)
    extra = [NaNGuard()] if nan_guard and not has_guard else []
    guard = nan_guard or has_guard
    bar = [ProgressBar(verbose)] if verbose else []
    n = len(x)
    batch = n if batch_size is None else min(batch_size, n)
    steps = -(-n // batch)
    params = {"epochs": epochs, "steps": steps, "samples": n, "log_keys": log_keys, "verbose": verbose}
    hooks = CallbackList(callbacks + [history] + bar + extra, model, params)
    model.stop_training = False
    model.history = history
    hooks.on_train_begin({})
    # With the guard on, overflow on the way to a NaN loss is reported by the guard, not by NumPy warnings.
    quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore") if guard else contextlib.nullcontext()
    with quiet:
        for epoch in range(epochs):
            hooks.on_epoch_begin(epoch, {})
            logs = _train_epoch(model, x, y, batch, shuffle, hooks)
            if x_val is not None:
                logs.update({f"val_{k}": v for k, v in _evaluate_arrays(model, x_val, y_val, None).items()})
            hooks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        hooks.on_train_end({})
    return history


def _train_epoch(model, x, y, batch, shuffle, hooks):
    for metric in model.metrics:
        metric.reset()
    total_loss, n = 0.0, len(x)
    for step, (xb, yb) in enumerate(_batches(model, x, y, batch, shuffle)):
        loss, output = train_step(model, xb, yb)
        total_loss += loss * len(xb)
        for metric in model.metrics:
            metric.update(yb, output)
        hooks.on_batch_end(step, {"loss": loss})
    logs = {"loss": total_loss / n}
    logs.update({metric.name: metric.result() for metric in model.metrics})
    return logs


def _batches(model, x, y, batch, shuffle):
    """The epoch's mini-batches. Shuffled batches are gathered row by row into one reused buffer:
    the training set is never copied (x[permutation] would copy all of it every epoch)."""
    n = len(x)
    if not shuffle or batch >= n:  # one full batch: the order changes nothing
        for start in range(0, n, batch):
            yield x[start:start + batch], y[start:start + batch]
        return
    order = model.rng.permutation(n)
    buffer = np.empty((batch, *x.shape[1:]), x.dtype)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        yield np.take(x, rows, axis=0, out=buffer[:len(rows)], mode="clip"), y[rows]


def train_step(model, xb, yb):
    """One step of gradient descent on a batch: forward, loss, backward, update. Returns (loss, output)."""
    if model.fused:  # the loss turns the logits into probabilities p itself, and dL/dz = p − y
        loss = model.fused_loss.forward(yb, model.forward_logits(xb, training=True))
        output = model.layers[-1].activation.output = model.fused_loss.p
        model.backward(model.fused_loss.backward(), from_logits=True, input_grad=False)
    else:
        output = model.forward(xb, training=True)
        loss = model.loss.forward(yb, output)
        model.backward(model.loss.backward(), input_grad=False)
    loss += model.regularization_loss()
    model.optimizer.step(model)
    return loss, output


def _evaluate_arrays(model, x, y, batch_size):
    batch = len(x) if batch_size is None else batch_size
    for metric in model.metrics:
        metric.reset()
    total = 0.0
    for start in range(0, len(x), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        output = model.forward(xb, training=False)
        if model.fused:  # same value, computed stably from the logits
            total += model.fused_loss.forward(yb, model.layers[-1].logits) * len(xb)
        else:
            total += model.loss.forward(yb, output) * len(xb)
        for metric in model.metrics:
            metric.update(yb, output)
    logs = {"loss": total / len(x) + model.regularization_loss()}
    logs.update({metric.name: metric.result() for metric in model.metrics})
    return logs


def evaluate(model, x, y, *, batch_size, verbose):
    _require_compiled(model, "evaluate")
    check_batch_size(batch_size)
    x = model._check_x(x)
    y = check_targets(model, x, y)
    if not model.built:
        model.build(x.shape[1:])
    logs = _evaluate_arrays(model, x, y, batch_size)
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return logs
