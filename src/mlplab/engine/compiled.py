"""The compiled forward pass of predict (`_infer.c`): a stack of Dense layers in one call, the same
numbers for a row whatever batch it comes in.

NumPy's matmul sends one row to gemv and small batches to OpenBLAS's small-matrix kernels, which sum
in other orders than its large-batch gemm: a row's float32 output moved by ~1e-6 with its batch size.
The kernel sums every z[r, j] over k = 0, 1, ..., K-1 with one fused multiply-add each, for every batch
size, so a row alone equals the same row among 1,000, bit for bit. It differs from the plain forward
(NumPy, another summation order) by rounding only: both are within γ_K·Σ_k|x_k||w_kj| of the exact
sum (γ_K = K·u/(1 − K·u), u the unit roundoff; Higham, Accuracy and Stability, 3.1), so they are
within twice that of each other (`rounding_bound`, tested). When the extension is not built, the CPU
has no AVX2+FMA, or `MLPLAB_INFER=0`, `invariant_forward` (NumPy's einsum, a fixed loop) runs instead.
"""
from __future__ import annotations

import importlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mlplab.core.activations import Linear, ReLU, Sigmoid, Softmax, Tanh
from mlplab.core.checks import check_bool
from mlplab.core.layers import Dense, Dropout, Flatten

ACTIVATION_CODES = {Linear: 0, ReLU: 1, Tanh: 2, Sigmoid: 3, Softmax: 4}
# Applied by the layer's own NumPy forward after the kernel's z: a sigmoid output near 0.5 then rounds as
# the plain forward does (the lessons threshold such outputs); element-wise, so still batch-invariant.
IN_NUMPY = (Tanh, Sigmoid)
THREAD_ROWS = 2048  # from this many rows, the rows are split over the CPU's cores (each row on one core)
CORES = min(os.cpu_count() or 1, 8)  # read once: os.cpu_count() reads a file under /sys
_enabled = os.environ.get("MLPLAB_INFER", "1") != "0"
_module = None
_pool = None


def set_enabled(enabled: bool) -> None:
    """Turn the compiled forward pass on or off for this process (on by default when built)."""
    global _enabled
    _enabled = check_bool("enabled", enabled)


def available() -> bool:
    """True when the compiled forward pass is built, enabled and usable on this CPU."""
    return _enabled and _load() is not False


def isa() -> str:
    """The instruction set the kernel uses here: "avx512", "avx2" or "" (not available)."""
    module = _load()
    return module.isa() if module else ""


def plan(layers, dtype):
    """The stack as segments the kernel computes, or None: [(weights, biases, codes, after)], where the
    kernel runs Dense layers with linear, ReLU or softmax activations and `after` is the activation
    object of the segment's last layer when it is tanh or sigmoid (IN_NUMPY): applied by its own NumPy
    `forward`, element by element. Flatten first and Dropout (the identity in inference) are allowed."""
    segments, weights, biases, codes = [], [], [], []
    for index, layer in enumerate(layers):
        kind = type(layer)
        if kind is Dropout or (kind is Flatten and index == 0):
            continue
        activation = type(layer.activation) if kind is Dense else None
        if activation not in ACTIVATION_CODES or layer.params["weight"].dtype != dtype:
            return None
        weights.append(np.ascontiguousarray(layer.params["weight"]))
        biases.append(np.ascontiguousarray(layer.params["bias"]) if layer.use_bias else None)
        codes.append(0 if activation in IN_NUMPY else ACTIVATION_CODES[activation])
        if activation in IN_NUMPY:
            segments.append((tuple(weights), tuple(biases), tuple(codes), layer.activation))
            weights, biases, codes = [], [], []
    if weights:
        segments.append((tuple(weights), tuple(biases), tuple(codes), None))
    return segments or None


def forward(segments, x):
    """(outputs, nonfinite): the stack on x (2-D after Flatten), split over cores for many rows;
    nonfinite is True when the first layer's x·W had NaN/inf (so x may have; the caller checks it)."""
    nonfinite = False
    for index, (weights, biases, codes, after) in enumerate(segments):
        x, flag = _kernel(weights, biases, codes, x)
        nonfinite = nonfinite or (flag and index == 0)
        if after is not None:
            x = after.forward(x, False)
    return x, nonfinite


def _kernel(weights, biases, codes, x):
    if x.ndim != 2 or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x.reshape(len(x), -1))
    out = np.empty((len(x), weights[-1].shape[1]), x.dtype)
    workers = min(CORES, len(x) // THREAD_ROWS)
    if workers <= 1:
        return out, _load().forward(x, out, weights, biases, codes)
    bounds = np.linspace(0, len(x), workers + 1).astype(int)
    parts = [(x[a:b], out[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    flags = list(_threads().map(lambda p: _load().forward(p[0], p[1], weights, biases, codes), parts))
    return out, any(flags)


def invariant_forward(segments, x):
    """The NumPy path for the same stack: einsum's fixed loop (not BLAS), so it is also the same for a
    row whatever its batch (tested); slower than BLAS for large batches."""
    x = x.reshape(len(x), -1)
    for weights, biases, codes, after in segments:
        for weight, bias, code in zip(weights, biases, codes):
            z = np.einsum("ik,kj->ij", x, weight)
            if bias is not None:
                z += bias
            x = np.maximum(z, 0, out=z) if code == 1 else Softmax().forward(z) if code == 4 else z
        if after is not None:
            x = after.forward(x, False)
    return x


def rounding_bound(x, weight):
    """Twice γ_K·|x|·|W|: the most two summation orders of x·W can differ by (each is within γ_K of it)."""
    u = np.finfo(weight.dtype).eps / 2
    k = weight.shape[0]
    gamma = k * u / (1 - k * u)
    return 2 * gamma * (np.abs(x).astype(np.float64) @ np.abs(weight).astype(np.float64))


def _threads():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(CORES, thread_name_prefix="mlplab-predict")
    return _pool


def _load():
    global _module
    if _module is None:
        try:
            _infer = importlib.import_module("mlplab.engine._infer")
        except ImportError:
            _module = False
        else:
            _module = _infer if _infer.isa() else False
    return _module if _enabled else False
