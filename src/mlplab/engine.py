"""The training engine: every speed trick of mlplab lives here, and nowhere else.

Layers, losses and optimizers are written the textbook way. `fit`, `evaluate` and `train_step` run
them through this module, which adds, each with a test that it gives the plain computation's numbers:

- flat buffers (Lua Torch's `getParameters()`): when training starts, every trainable parameter, its
  gradient and its optimizer slots are packed into one vector each, and the layers' arrays become
  views of them, so an update is a handful of array operations for the whole model. An array a layer
  replaced (`self.grads["w"] = new`) is copied back into its place, so its optimizer state carries on;
- the fused output: a softmax/sigmoid output with its cross-entropy trains and evaluates from the
  logits (log-sum-exp, gradient p − y) through a copy of the last layer without its activation;
  the model's own layers are never written by it;
- no gradient for the data: the backward pass stops at the lowest trainable layer;
- shuffled batches gathered into one reused buffer (no copy of the training set per epoch);
- Adam with its bias corrections folded into two scalars, and the optional compiled kernel;
- a one-pass finite check (`all_finite`);
- inference that stores nothing: common activations applied in place, predict in chunks sharing their
  buffers, and large inputs checked for NaN/inf through the first Dense layer's smaller z;
- per-epoch diagnostics (gradient norms, activation statistics) kept compact and computed when read.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from . import kernels
from ._checks import invalid
from .activations import Linear, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .layers import Activation, Dense
from .losses import BinaryCrossentropy, CategoricalCrossentropy, Loss, SparseCategoricalCrossentropy
from .optimizers import Adam, AdamW


# -- the output: fused activation + cross-entropy ---------------------------------------------------
def output_plan(layers, loss: Loss):
    """(layers to run, fused loss or None). With a softmax/sigmoid output and its cross-entropy, the
    last layer runs as a copy without its activation and the loss takes the logits (from_logits=True)."""
    check_output_matches_loss(layers, loss)
    last = layers[-1]
    activation = getattr(last, "activation", None)
    fusable = (isinstance(activation, Softmax) and isinstance(loss, (CategoricalCrossentropy,
                                                                     SparseCategoricalCrossentropy))
               or isinstance(activation, Sigmoid) and isinstance(loss, BinaryCrossentropy))
    if loss.from_logits or not fusable or type(last) not in (Dense, Activation):
        return list(layers), None
    if isinstance(last, Activation):
        return list(layers[:-1]), loss.with_logits()
    return [*layers[:-1], linear_part(last)], loss.with_logits()


def linear_part(layer: Dense) -> Dense:
    """The layer without its activation (z = x W + b): a copy sharing `params` and `grads` with the
    layer, with a training cache of its own."""
    head = copy.copy(layer)
    head.activation = Linear()
    return head


def check_output_matches_loss(layers, loss: Loss) -> None:
    """A loss that takes logits after a layer that already applies sigmoid/softmax would apply it twice."""
    activation = getattr(layers[-1], "activation", None) if layers else None
    if loss.from_logits and isinstance(activation, (Sigmoid, Softmax)):
        kind = type(activation).__name__.lower()
        raise invalid("loss", f"a loss on probabilities, since the last layer {layers[-1].name!r} already applies "
                              f"{kind}: drop from_logits=True (training fuses {kind} with its cross-entropy by "
                              f"itself), or make the last layer linear", loss)


def fused_loss_name(model) -> str | None:
    """'softmax' or 'sigmoid' when training fuses that output with the loss, else None."""
    if not getattr(model, "compiled", False) or not model.layers:
        return None
    _, fused = output_plan(model.layers, model.loss)
    return None if fused is None else type(model.layers[-1].activation).__name__.lower()


# -- packing ----------------------------------------------------------------------------------------
class Engine:
    """What `fit` and `train_step` run: the model's layers over flat parameter, gradient and slot buffers."""

    def __init__(self, model):
        self.model, self.optimizer, self.key = model, model.optimizer, engine_key(model)
        self.layers, self.fused_loss = output_plan(model.layers, model.loss)
        self._pack()
        lowest = next((i for i, layer in enumerate(self.layers) if layer.trainable and layer.params), None)
        self.lowest = None if lowest is None else self.layers[lowest]
        self.backward_layers = [] if lowest is None else self.layers[lowest:][::-1]
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
        self.scratch = np.empty(total, model.dtype)
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
        self._restore_views("params")
        out = x
        for layer in self.layers:
            out = layer.forward(out, True)
        loss_fn = self.fused_loss or self.model.loss
        loss = loss_fn.forward(y, out, sample_weight)
        grad = loss_fn.backward()
        if self.lowest is not None:
            self.lowest.needs_input_grad = False  # nothing below needs dL/dx: one matrix product fewer
            try:
                for layer in self.backward_layers:
                    grad = layer.backward(grad)
            finally:
                self.lowest.needs_input_grad = True
            self._restore_views("grads")
        for layer in self.regularized:
            loss += layer.regularization_loss()
        self.update()
        return loss, (out if self.fused_loss is None else self.fused_loss.p)

    def diagnostics(self):
        """This step's gradient norms and activation statistics, cheaply: small gradients copied and small
        activations kept by reference (they are new arrays every step), large ones summarized now.
        History turns them into per-layer dicts when it is read."""
        grads = [(name, grad.copy() if grad.size <= KEPT else norm(grad)) for name, grad in self.weight_grads]
        kept = [(name, activation, output if output.size <= KEPT else activation_statistic(activation, output))
                for name, activation in self.watched if (output := getattr(activation, "output", None)) is not None]
        return Diagnostics(grads, kept)

    def update(self):
        """The optimizer's rule once, on the flat buffers (Adam and AdamW in their folded form)."""
        optimizer = self.optimizer
        lr = optimizer.current_learning_rate
        grads = optimizer.clip([self.grads], self.parts)[0] if self.clipping else self.grads
        optimizer.iterations += 1
        if type(optimizer) in (Adam, AdamW):
            if type(optimizer) is AdamW:
                self.values *= 1 - lr * optimizer.weight_decay
            self.adam(optimizer, grads, lr)
        else:
            optimizer.update(self.values, grads, self.slots, lr)

    def adam(self, optimizer, grad, lr):
        """Adam's rule with the bias corrections folded into two scalars:
        lr·m̂/(√v̂ + ε) = m/(√v + ε·c) · lr·c/(1 − β1ᵗ) with c = √(1 − β2ᵗ). Equal to the textbook
        rule up to rounding; in place through one scratch buffer (or one compiled pass)."""
        param, m, v, scratch = self.values, self.slots["m"], self.slots["v"], self.scratch
        beta_1, beta_2, t = optimizer.beta_1, optimizer.beta_2, optimizer.iterations
        c = math.sqrt(1 - beta_2 ** t)
        epsilon, step_size = optimizer.epsilon * c, lr * c / (1 - beta_1 ** t)
        if kernels.adam(param, grad, m, v, beta_1, beta_2, epsilon, step_size):
            return
        m *= beta_1
        m += np.multiply(grad, 1 - beta_1, out=scratch)
        v *= beta_2
        v += np.multiply(np.square(grad, out=scratch), 1 - beta_2, out=scratch)
        denominator = np.sqrt(v, out=scratch)
        denominator += epsilon
        step = np.divide(m, denominator, out=scratch)
        step *= step_size
        param -= step


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
SMALL = 65536  # arrays up to this size are checked for NaN/inf directly


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


def engine_key(model) -> tuple:
    """What the packing depends on: when any of it changes, the model is packed again."""
    return (model.optimizer, model.loss, model.dtype, model.optimizer.state, tuple(model.layers),
            tuple(layer.trainable for layer in model.layers), getattr(model.layers[-1], "activation", None))


def engine_for(model) -> Engine:
    """The model's engine, packed again if the model, its optimizer or its loss changed since."""
    engine = getattr(model, "_engine", None)
    if engine is None or engine.key != engine_key(model):
        engine = model._engine = Engine(model)
    return engine


# -- inference ----------------------------------------------------------------------------------------
def predict(layers, x, rows, check_input):
    """Inference `rows` rows at a time (so the intermediate arrays stay in the CPU cache), into one output
    array; the chunks share their intermediate buffers. check_input(chunk, first_row) raises for NaN/inf."""
    if len(x) <= rows:
        return forward_inference(layers, x, lambda chunk: check_input(chunk, 0))
    buffers, output = {}, None
    for start in range(0, len(x), rows):
        chunk = x[start:start + rows]
        result = forward_inference(layers, chunk, lambda chunk, start=start: check_input(chunk, start), buffers)
        if output is None:
            output = np.empty((len(x), *result.shape[1:]), result.dtype)
        output[start:start + len(result)] = result
    return output


def forward_inference(layers, x, check_input=None, buffers=None):
    """Outputs in inference mode: no layer stores anything, so any number of threads may call this.
    A Dense layer with a common activation computes z = xW + b and applies the activation in place
    on z, its own fresh array (the same operations as its forward, without their temporaries).

    check_input(x) raises for NaN/inf in x. For a large x going into a Dense first layer it runs only
    when that layer's z is not all finite: exact, since a NaN or ±inf input makes every product with it
    NaN or ±inf, whatever the weight, and z is several times smaller than x to scan."""
    if check_input is not None and (x.size <= SMALL or not starts_dense(layers)):
        check_input(x)
        check_input = None
    if check_input is not None:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf inputs are reported by check_input
            return _forward(layers, x, check_input, buffers)
    return _forward(layers, x, None, buffers)


def _forward(layers, x, check_input, buffers):
    """buffers: {layer index: array} kept between the chunks of one predict for the layers' z."""
    for index, layer in enumerate(layers):
        activation = IN_PLACE.get(type(layer.activation)) if type(layer) is Dense else None
        if activation is None:
            x = layer.forward(x, False)
            continue
        weight = layer.params["weight"]
        if buffers is None:
            z = x @ weight
        else:
            buffer = buffers.get(index)
            if buffer is None or len(buffer) < len(x):
                buffer = buffers[index] = np.empty((len(x), weight.shape[1]), np.result_type(x, weight))
            z = np.matmul(x, weight, out=buffer[:len(x)])
        if layer.use_bias:
            z += layer.params["bias"]
        if index == 0 and check_input is not None and not all_finite(z):
            check_input(x)  # raises if x has NaN/inf; else finite inputs overflowed: the result says so
        x = activation(z)
    return x


def starts_dense(layers) -> bool:
    return bool(layers) and type(layers[0]) is Dense and type(layers[0].activation) in IN_PLACE


def _softmax_in_place(z):
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


IN_PLACE = {Linear: lambda z: z, ReLU: lambda z: np.maximum(z, 0, out=z), Tanh: lambda z: np.tanh(z, out=z),
            Softmax: _softmax_in_place}


def evaluate_arrays(model, x, y, sample_weight, batch_size):
    """Loss (with regularization) and metrics in inference mode, with private loss and metric objects
    (a concurrent fit keeps its own)."""
    layers, fused = output_plan(model.layers, model.loss)
    loss_fn = fused or copy.copy(model.loss)
    metrics = copy.deepcopy(model.metrics)
    for metric in metrics:
        metric.reset()
    batch = len(x) if batch_size is None else batch_size
    total = 0.0
    for start in range(0, len(x), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        wb = None if sample_weight is None else sample_weight[start:start + batch]
        output = forward_inference(layers, xb)
        value = loss_fn.forward(yb, output, wb)
        total += value * len(xb) if loss_fn.reduction == "mean" else value
        probabilities = output if fused is None else fused.p
        for metric in metrics:
            metric.update(yb, probabilities, wb)
    mean_loss = total / len(x) if loss_fn.reduction == "mean" else total
    logs = {"loss": mean_loss + model.regularization_loss()}
    logs.update({metric.name: metric.result() for metric in metrics})
    return logs


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
    buffer = np.empty((batch, *x.shape[1:]), x.dtype)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        yield (np.take(x, rows, axis=0, out=buffer[:len(rows)], mode="clip"), y[rows],
               None if sample_weight is None else sample_weight[rows])


def all_finite(arr: np.ndarray) -> bool:
    """np.isfinite(arr).all() in one pass and without its temporary array of booleans: a NaN or ±inf
    makes its row's sum non-finite. The row sums are a matrix-vector product with ones, which BLAS does
    on every core. Only a non-finite sum (or finite values overflowing it) calls for a closer look.
    Small arrays take the direct test: for them the call overhead is all there is."""
    if arr.size <= SMALL:
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):
        rows = arr.reshape(len(arr), -1) if arr.ndim > 1 and arr.size else arr.reshape(1, -1)
        if np.isfinite(rows @ np.ones(rows.shape[1], rows.dtype)).all():
            return True
    return bool(np.isfinite(np.min(arr)) and np.isfinite(np.max(arr)))
