"""Inference that stores nothing: predict through the compiled stack (`compiled`, the same bits for a row
whatever its batch), else common activations applied in place in chunks that share their buffers; large
inputs checked for NaN/inf through the first Dense layer's smaller z."""
from __future__ import annotations

import copy

import numpy as np

from mlplab.core.activations import Linear, ReLU, Softmax, Tanh
from mlplab.core.checks import SMALL, all_finite
from mlplab.core.layers import Dense
from mlplab.engine import compiled
from mlplab.engine.fused import output_plan


def predict(layers, x, rows, check_input):
    """Outputs for x; check_input(chunk, first_row) raises for NaN/inf. A stack of Dense layers goes
    through one compiled call (or its NumPy twin, `compiled.invariant_forward`), whose numbers for a row
    do not depend on the batch: x is checked for NaN/inf only when the first layer's z is not finite.
    Other stacks, and sparse x (its first product is a sparse one), run `rows` rows at a time, so the
    intermediate arrays stay in the CPU cache."""
    stack = compiled.plan(layers, x.dtype) if isinstance(x, np.ndarray) else None  # sparse rows: the chunks
    if stack is not None:
        return _predict_stack(stack, x, check_input)
    return _predict_chunks(layers, x, rows, check_input)


def _predict_stack(stack, x, check_input):
    if compiled.available():
        out, nonfinite = compiled.forward(stack, x)
        if nonfinite:
            check_input(x, 0)  # raises if x has NaN/inf; else finite inputs overflowed: the result says so
        return out
    if x.size <= SMALL:
        check_input(x, 0)
        return compiled.invariant_forward(stack, x)
    with np.errstate(invalid="ignore", over="ignore"):
        out = compiled.invariant_forward(stack, x)
    if not all_finite(out):
        check_input(x, 0)
    return out


def _predict_chunks(layers, x, rows, check_input):
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
        if buffers is None or not isinstance(x, np.ndarray):  # sparse rows: z = x W as a sparse product
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
