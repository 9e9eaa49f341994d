"""Flat buffers and the training step: what `fit` and `train_step` run for every batch.

- flat buffers (Lua Torch's `getParameters()`): packing is one explicit step (`Engine(model)`, when
  training starts or the model, optimizer or loss changed): every trainable parameter, its gradient and
  its optimizer slots go into one vector each and the layers' arrays become views of them. An array a
  layer replaced (`self.grads["w"] = new`) is copied back into its place, so its optimizer state carries on;
- the step runs the model's own chain-rule loop (`backward_pass`), stopped at the lowest trainable layer
  (no gradient for the data), over the fused output plan (`engine.fused`);
- the update is the optimizer's rule on the flat vectors, or the fused form it names
  (`optimizer.fused_rule()`: Adam in one compiled pass, `kernels`), tested against the textbook rule;
- shuffled batches gathered into one reused buffer (no copy of the training set per epoch);
- per-epoch diagnostics (gradient norms, activation statistics) kept compact, handed to History by fit.
"""

from __future__ import annotations

import math

import numpy as np

from mlplab.core.activations import ReLU, Sigmoid, Tanh
from mlplab.core.base import Layer, backward_pass
from mlplab.core.checks import invalid
from mlplab.core.layers import Dense
from mlplab.engine import kernels
from mlplab.engine.fused import output_plan


class Engine:
    """What `fit` and `train_step` run: the model's layers over flat parameter, gradient and slot buffers."""

    def __init__(self, model):
        self.model, self.optimizer, self.key = model, model.optimizer, engine_key(model)
        self.layers, self.fused_loss = output_plan(model.layers, model.loss)
        self._pack()
        lowest = next((i for i, layer in enumerate(self.layers) if layer.trainable and layer.params), None)
        self.lowest = None if lowest is None else self.layers[lowest]
        self.regularized = [layer for layer in self.layers if getattr(layer, "kernel_regularizer", None) is not None
                            or type(layer).regularization_loss not in (Layer.regularization_loss,
                                                                       Dense.regularization_loss)]
        self.clipping = (optimizer := model.optimizer).clipnorm or optimizer.clipvalue or optimizer.global_clipnorm
        self.weight_grads = [(layer.name, next(iter(layer.grads.values()))) for layer in model.layers if layer.grads]
        self.watched = [(layer.name, layer.activation) for layer in self.layers
                        if isinstance(getattr(layer, "activation", None), WATCHED_ACTIVATIONS)]

    def _pack(self):
        """Copy every trainable parameter, gradient and optimizer slot into one flat vector each and make
        the layers' and the optimizer's arrays views of them (optimizer state is kept by place)."""
        model, optimizer = self.model, self.optimizer
        places = [(layer, key) for layer in model.layers if layer.trainable for key in layer.params]
        self.values = pack([(layer.params, key) for layer, key in places], model.dtype)
        self.grads = pack([(layer.grads, key) for layer, key in places], model.dtype)
        total = self.values.size
        self.slots = {slot: np.empty(total, model.dtype) for slot in optimizer.slots}
        self.entries, self.parts, start = [], [], 0
        for layer, key in places:
            shape, stop = layer.params[key].shape, start + layer.params[key].size
            place = (layer.name, key)
            old = optimizer.state.get(place)
            if old is None or any(old[s].shape != shape for s in optimizer.slots):
                old = optimizer.init_state(layer.params[key])
            optimizer.state[place] = {s: _view(self.slots[s], start, stop, shape, old[s]) for s in optimizer.slots}
            self.entries.append((layer, key, layer.params[key], layer.grads[key]))
            self.parts.append((0, slice(start, stop)))
            start = stop
        self.state = optimizer.state

    def _restore_views(self, table: str):
        """Arrays a layer replaced since the last step go back into their place in the flat buffer."""
        for layer, key, params, grads in self.entries:
            view = params if table == "params" else grads
            store = layer.params if table == "params" else layer.grads
            current = store[key]
            if current is not view:
                current = np.asarray(current)
                if current.shape != view.shape:
                    raise invalid(f"{layer.name}.{table}[{key!r}]", f"an array of shape {view.shape}", current)
                view[...] = current
                store[key] = view

    # -- one step -------------------------------------------------------------------------------
    def train_step(self, x, y, sample_weight=None):
        """Forward, loss, backward, update on one batch. Returns (loss, output probabilities)."""
        loss, out = self._forward_backward(x, y, sample_weight)
        self.update()
        return loss, (out if self.fused_loss is None else self.fused_loss.p)

    def loss_and_gradient(self, x, y, sample_weight=None):
        """The loss (with regularization) on (x, y) and its gradient in the flat buffer `grads`, with the
        parameters as they are in `values`: what a full-batch method such as L-BFGS asks for."""
        loss, _ = self._forward_backward(x, y, sample_weight)
        return float(loss), self.grads

    def _forward_backward(self, x, y, sample_weight):
        """Forward, loss (+ regularization) and backward, filling the flat gradient buffer; no update."""
        self._restore_views("params")
        out = x
        for layer in self.layers:
            out = layer.forward(out, True)
        loss_fn = self.fused_loss or self.model.loss
        loss = loss_fn.forward(y, out, sample_weight)
        grad = loss_fn.backward()
        if self.lowest is not None:  # the model's own chain-rule loop, stopped where nothing needs dL/dx
            backward_pass(self.layers, grad, stop_at=self.lowest)
            self._restore_views("grads")
        for layer in self.regularized:
            loss += layer.regularization_loss()
        return loss, out

    def minimize_lbfgs(self, x, y, sample_weight, max_iter, on_iteration):
        """scipy's L-BFGS-B over the flat parameter vector, from the current parameters; the best point is
        left in the parameters. on_iteration(loss) runs after each iteration (raise StopIteration to stop).
        Returns scipy's result as a dict (nit, nfev, status, message, fun)."""
        from scipy.optimize import minimize  # scipy only when L-BFGS is used

        optimizer, values = self.optimizer, self.values

        def fun(theta):
            values[...] = theta
            loss, grads = self.loss_and_gradient(x, y, sample_weight)
            return loss, grads.astype(np.float64)

        result = minimize(fun, values.astype(np.float64), method="L-BFGS-B", jac=True,
                          callback=lambda intermediate_result: on_iteration(float(intermediate_result.fun)),
                          options={"maxiter": max_iter, "maxfun": optimizer.max_fun, "gtol": optimizer.tol,
                                   "ftol": optimizer.ftol, "maxcor": optimizer.memory})
        values[...] = result.x
        optimizer.iterations += int(result.nit)
        return {"nit": int(result.nit), "nfev": int(result.nfev), "status": int(result.status),
                "message": str(result.message), "fun": float(result.fun)}

    def diagnostics(self):
        """This step's gradient norms and activation statistics, cheaply: small gradients copied and small
        activations kept by reference (they are new arrays every step), large ones summarized now.
        History turns them into per-layer dicts when it is read."""
        grads = [(name, grad.copy() if grad.size <= KEPT else norm(grad)) for name, grad in self.weight_grads]
        kept = [(name, activation, output if output.size <= KEPT else activation_statistic(activation, output))
                for name, activation in self.watched if (output := getattr(activation, "output", None)) is not None]
        return Diagnostics(grads, kept)

    def update(self):
        """The optimizer's rule once, on the flat buffers: its fused form when it names one, else `update`."""
        optimizer = self.optimizer
        lr = optimizer.current_learning_rate
        grads = optimizer.clip([self.grads], self.parts)[0] if self.clipping else self.grads
        optimizer.iterations += 1
        fused = FUSED.get(optimizer.fused_rule())
        if fused is None or not fused(optimizer, self.values, grads, self.slots, lr):
            optimizer.update(self.values, grads, self.slots, lr)


def fused_adam(optimizer, param, grad, slots, lr) -> bool:
    """Adam in one compiled pass, with the bias corrections folded into two scalars:
    lr·m̂/(√v̂ + ε) = m/(√v + ε·c) · lr·c/(1 − β1ᵗ) with c = √(1 − β2ᵗ). Equal to `Adam.update` up to
    rounding (tested). False, having changed nothing, when the kernel is not built or the model is small."""
    beta_1, beta_2, t = optimizer.beta_1, optimizer.beta_2, optimizer.iterations
    c = math.sqrt(1 - beta_2 ** t)
    return kernels.adam(param, grad, slots["m"], slots["v"], beta_1, beta_2, optimizer.epsilon * c,
                        lr * c / (1 - beta_1 ** t))


def fused_adamw(optimizer, param, grad, slots, lr) -> bool:
    """AdamW: the decoupled decay w ← w − lr·λ·w, then fused Adam (or, without the kernel, AdamW.update)."""
    if not kernels.usable(param, grad, slots["m"], slots["v"]):
        return False
    param *= 1 - lr * optimizer.weight_decay
    return fused_adam(optimizer, param, grad, slots, lr)


FUSED = {"adam": fused_adam, "adamw": fused_adamw}


def pack(entries, dtype) -> np.ndarray:
    """One flat vector holding the arrays `table[key]` of `entries` back to back, each replaced by its
    view of it. Arrays that already are such views (packed at build) stay as they are: references
    a user took to them stay live."""
    arrays = [table[key] for table, key in entries]
    total = sum(a.size for a in arrays)
    base = arrays[0].base if arrays else None
    if _packed_in(arrays, base, total, dtype):
        return base
    buffer = np.empty(total, dtype)
    start = 0
    for (table, key), array in zip(entries, arrays):
        table[key] = _view(buffer, start, start + array.size, array.shape, array)
        start += array.size
    return buffer


def _packed_in(arrays, base, total, dtype) -> bool:
    if base is None or base.ndim != 1 or base.dtype != dtype or base.size != total:
        return False
    address, offset = base.__array_interface__["data"][0], 0
    for array in arrays:
        if array.base is not base or not array.flags.c_contiguous \
                or array.__array_interface__["data"][0] != address + offset * base.itemsize:
            return False
        offset += array.size
    return True


WATCHED_ACTIVATIONS = (ReLU, Sigmoid, Tanh)
KEPT = 1024  # diagnostics keep arrays up to this size for later, instead of summarizing them at once


class Diagnostics:
    """One epoch's gradient norms and activation statistics, computed when first read."""

    def __init__(self, grads, kept):
        self.grads, self.kept = grads, kept

    def gradient_norms(self) -> dict[str, float]:
        return {name: value if isinstance(value, float) else norm(value) for name, value in self.grads}

    def activation_stats(self) -> dict[str, dict[str, float]]:
        return {name: value if isinstance(value, dict) else activation_statistic(activation, value)
                for name, activation, value in self.kept}


def norm(array) -> float:
    flat = array.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


def activation_statistic(activation, output) -> dict[str, float]:
    """Dead ReLU units (zero for every sample of the batch) or saturated sigmoid (< 0.01 or > 0.99) /
    tanh (|a| > 0.99) outputs, as a fraction."""
    if isinstance(activation, ReLU):
        alive = np.count_nonzero(output.reshape(-1, output.shape[-1]).any(axis=0))
        return {"dead_relu": 1.0 - alive / output.shape[-1]}
    if isinstance(activation, Sigmoid):
        return {"saturated": np.count_nonzero(np.abs(output - 0.5) > 0.49) / output.size}
    return {"saturated": np.count_nonzero(np.abs(output) > 0.99) / output.size}


def _view(buffer, start, stop, shape, current):
    view = buffer[start:stop].reshape(shape)
    view[...] = current
    return view


class Same:
    """Compares by identity: the optimizer's state dict is a new one after `set_state` (a rollback, a
    loaded file), and comparing two dicts of arrays by value would be ambiguous."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Same) and other.value is self.value

    __hash__ = None


def engine_key(model) -> tuple:
    """What the packing depends on: when any of it changes, the model is packed again. The optimizer
    state counts by identity (set_state puts in a new dict): comparing it by value would compare arrays."""
    return (model.optimizer, model.loss, model.dtype, Same(model.optimizer.state), tuple(model.layers),
            tuple(layer.trainable for layer in model.layers), getattr(model.layers[-1], "activation", None))


def engine_for(model) -> Engine:
    """The model's engine, packed again if the model, its optimizer or its loss changed since."""
    engine = getattr(model, "_engine", None)
    if engine is None or engine.key != engine_key(model):
        engine = model._engine = Engine(model)
    return engine


# -- data ---------------------------------------------------------------------------------------------
def batches(rng, x, y, sample_weight, batch, shuffle):
    """The epoch's mini-batches (x, y, weight). Shuffled batches are gathered row by row into one reused
    buffer: the training set is never copied (x[permutation] would copy all of it every epoch)."""
    n = len(x)
    if not shuffle or batch >= n:  # one full batch: the order changes nothing
        for start in range(0, n, batch):
            yield (x[start:start + batch], y[start:start + batch],
                   None if sample_weight is None else sample_weight[start:start + batch])
        return
    order = rng.permutation(n)
    if not isinstance(x, np.ndarray):  # sparse rows: each batch gathers its own rows
        for start in range(0, n, batch):
            rows = order[start:start + batch]
            yield x[rows], y[rows], None if sample_weight is None else sample_weight[rows]
        return
    buffer = np.empty((batch, *x.shape[1:]), x.dtype)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        yield (np.take(x, rows, axis=0, out=buffer[:len(rows)], mode="clip"), y[rows],
               None if sample_weight is None else sample_weight[rows])
