"""Numerical gradient checks (centred differences, float64) for a layer, a loss or a whole model.

>>> result = gradcheck(Dense(3, "tanh"), np.random.default_rng(0).normal(size=(4, 2)))
>>> result.ok, result.max_error
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from mlplab.core.checks import invalid
from mlplab.core.base import Layer
from mlplab.core.losses import Loss


@dataclass
class GradCheckResult:
    """Analytic vs numerical gradients for each checked array ("input", "dense/weight", ...)."""
    errors: dict[str, float] = field(default_factory=dict)
    rtol: float = 1e-5
    atol: float = 1e-7

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_error <= 1.0

    def __repr__(self):
        worst = ", ".join(f"{k}: {v:.2e}" for k, v in self.errors.items())
        return f"GradCheckResult(ok={self.ok}, normalised errors={{{worst}}})"


def _numerical(f, array, eps):
    """Centred differences (f(a + ε) − f(a − ε)) / 2ε for every element of `array`, changed in place."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _score(analytic, numerical, rtol, atol):
    """max |a − n| / (atol + rtol·|n|): ≤ 1 means the two agree."""
    return float(np.max(np.abs(analytic - numerical) / (atol + rtol * np.abs(numerical)), initial=0.0))


def _compare(objective, analytic, arrays, eps, rtol, atol) -> GradCheckResult:
    """Score each analytic gradient against centred differences of `objective` w.r.t. its array."""
    return GradCheckResult({key: _score(analytic[key], _numerical(objective, arrays[key], eps), rtol, atol)
                            for key in arrays}, rtol, atol)


def _to_float64(layers):
    for layer in layers:
        layer.dtype = np.dtype(np.float64)
        for store in (layer.params, layer.grads, layer.state):
            for key in store:
                store[key] = store[key].astype(np.float64)


def _reseed(layers, seed):
    for layer in layers:
        layer.rng = np.random.default_rng(seed)  # stochastic layers (Dropout) draw the same mask every call


def gradcheck(target, x, y=None, *, loss: Loss | None = None, training: bool = True, eps: float = 1e-6,
              rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> GradCheckResult:
    """Compare `target`'s backward pass with centred finite differences, in float64.

    - a Layer: objective Σ(out ⊙ R) with a fixed random R; checks dL/dx and every parameter.
    - a Loss: checks dL/dy_pred at y_pred = x against targets y.
    - a Sequential: objective loss(y, model(x)) + regularization (the compiled loss unless `loss` is given).
    The target is copied; the original is not changed. Backward passes follow a training-mode forward
    (inference stores nothing); to check an inference form, freeze the layer (`trainable = False`:
    BatchNormalization then normalizes with its moving statistics).
    """
    if training is not True:
        raise invalid("training", "True: backward needs a training-mode forward; to check a layer's inference "
                                  "form set layer.trainable = False", training)
    x = np.array(x, dtype=np.float64)
    if isinstance(target, Loss):
        return _check_loss(copy.deepcopy(target), x, np.asarray(y), eps, rtol, atol)
    target = copy.deepcopy(target)
    if isinstance(target, Layer):
        return _check_layer(target, x, training, eps, rtol, atol, seed)
    if hasattr(target, "layers"):
        return _check_model(target, x, y, loss, training, eps, rtol, atol, seed)
    raise TypeError(f"Invalid type for argument `target`: expected an ml Layer, Loss or Sequential. "
                    f"Received: {target!r}.")


def _check_loss(loss, y_pred, y_true, eps, rtol, atol):
    loss.forward(y_true, y_pred)
    analytic = loss.backward()
    numerical = _numerical(lambda: loss.forward(y_true, y_pred), y_pred, eps)
    return GradCheckResult({"y_pred": _score(analytic, numerical, rtol, atol)}, rtol, atol)


def _check_layer(layer, x, training, eps, rtol, atol, seed):
    if not layer.built:
        layer.build(x.shape[1:], np.random.default_rng(seed), np.float64)
    _to_float64([layer])
    projection = np.random.default_rng(seed + 1).normal(size=layer.compute_output_shape(x.shape[1:]))

    def objective():
        _reseed([layer], seed)
        return float(np.sum(layer.forward(x, training) * projection)) + layer.regularization_loss()

    objective()
    grad_x = layer.backward(np.broadcast_to(projection, (len(x), *projection.shape)).copy())
    analytic = {"input": grad_x, **{f"{layer.name or 'layer'}/{k}": g.copy() for k, g in layer.grads.items()}}
    arrays = {"input": x, **{f"{layer.name or 'layer'}/{k}": p for k, p in layer.params.items()}}
    return _compare(objective, analytic, arrays, eps, rtol, atol)


def _check_model(model, x, y, loss, training, eps, rtol, atol, seed):
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise ValueError("Invalid value for argument `loss`: the model is not compiled, so pass loss=... "
                         "to gradcheck. Received: loss=None.")
    model.dtype = np.dtype(np.float64)
    if not model.built:
        model.build(x.shape[1:])
    _to_float64(model.layers)
    y = np.asarray(y)

    def objective():
        _reseed(model.layers, seed)
        return loss.forward(y, model.forward(x, training)) + model.regularization_loss()

    objective()
    grad_x = model.backward(loss.backward())
    analytic = {"input": grad_x}
    arrays = {"input": x}
    for layer in model.layers:
        for key in layer.params:
            analytic[f"{layer.name}/{key}"] = layer.grads[key].copy()
            arrays[f"{layer.name}/{key}"] = layer.params[key]
    return _compare(objective, analytic, arrays, eps, rtol, atol)
