"""Backpropagation, explained: one training step of a small network, recorded layer by layer.

Backpropagation is the chain rule with memory. The forward pass keeps each layer's input a_{l−1},
its pre-activation z_l and its output a_l; the backward pass walks the layers in reverse and reuses
them: δ_l = dL/dz_l = dL/da_l ⊙ f'(z_l) (f' from the kept output, e.g. a(1 − a) for the sigmoid),
dL/dW_l = a_{l−1}ᵀ·δ_l, dL/db_l = Σ_samples δ_l and dL/da_{l−1} = δ_l·W_lᵀ, which the layer below
starts from instead of redoing the chain from the loss (dynamic programming). Then SGD steps
W ← W − lr·dL/dW.

`explain_step` does not compute any of this itself: it drives each layer's own `forward`,
`backward_from_logits`/`backward` and reads `layer.input`, `layer.logits`, `layer.grads`, then checks
that its gradients equal `model.backward`'s before taking the step with `ml.SGD`.

>>> trace = explain_default()            # seed 000's XOR 2-3-1 sigmoid network, BCE, SGD lr 0.01
>>> print(trace.to_text())               # doctest: +SKIP
>>> trace.layers[0].grads["weight"].shape
(2, 3)
"""
from __future__ import annotations

import argparse
import json
import sys
import types
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_number, invalid
from .activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Softplus, Tanh, activation_name
from .initializers import RandomNormal
from .layers import Activation, Dense
from .losses import LOSSES, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, get_loss
from .model import Sequential
from .optimizers import SGD
from .training import check_targets

XOR_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
XOR_Y = [[0.0], [1.0], [1.0], [0.0]]

# What each activation's derivative reuses from the forward pass ("memory").
# Each formula is a template: {a} and {z} become the layer's a_l and z_l.
_DERIVATIVES = {
    Sigmoid: ("{a} ⊙ (1 − {a})", "the output {a}"),
    Tanh: ("1 − {a}²", "the output {a}"),
    ReLU: ("1 where {a} > 0, else 0", "the output {a}"),
    Linear: ("1", None),
    LeakyReLU: ("1 where {z} > 0, else alpha", "{z}"),
    ELU: ("1 where {z} > 0, else {a} + alpha", "{z} and {a}"),
    Softplus: ("sigmoid({z})", "{z}"),
}


def _derivative(activation_class, index: int) -> tuple[str, str | None]:
    formula, reused = _DERIVATIVES.get(activation_class, ("f'({z})", None))
    names = {"a": f"a{index}", "z": f"z{index}"}
    return formula.format(**names), None if reused is None else reused.format(**names)


# -- the records ---------------------------------------------------------------------------------
@dataclass(repr=False)
class LayerTrace:
    """One layer's part of a training step (arrays are copies, safe to keep).

    Forward: `input` a_{l−1}, `params_before` (W, b), `z` (pre-activation, None for layers without one),
    `output` a_l. Backward: `grad_output` dL/da_l, `activation_derivative` f'(z_l) (element-wise
    activations only), `delta` dL/dz_l, `grads` (dL/dW, dL/db), `grad_input` dL/da_{l−1}.
    Update: `params_after`. `memory` lists what the backward pass reused from the forward pass.
    """
    index: int
    name: str
    kind: str
    description: str
    activation: str | None
    input: np.ndarray
    params_before: dict[str, np.ndarray]
    z: np.ndarray | None
    output: np.ndarray
    grad_output: np.ndarray | None = None
    activation_derivative: np.ndarray | None = None
    delta: np.ndarray | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    grad_input: np.ndarray | None = None
    params_after: dict[str, np.ndarray] | None = None
    derivative_formula: str | None = None
    regularizer: str | None = None
    memory: list[str] = field(default_factory=list)

    @property
    def input_name(self) -> str:
        return "x" if self.index == 1 else f"a{self.index - 1}"

    def __repr__(self):
        return f"LayerTrace(index={self.index}, name={self.name!r}, description={self.description!r})"


@dataclass(repr=False)
class Trace:
    """A recorded training step: `layers` (LayerTrace, input to output), the batch `x`, `y`, the
    `output` ŷ, the `loss` value before (and `loss_after`, on the same batch, after) the update,
    `learning_rate`, whether the output activation was `fused` with the loss (as `fit` does), and
    `max_difference`: max |trace gradient − model.backward gradient| (0: they are the same numbers)."""
    architecture: str
    loss_name: str
    loss: float
    learning_rate: float
    x: np.ndarray
    y: np.ndarray
    output: np.ndarray
    layers: list[LayerTrace]
    fused: bool
    loss_scale: float
    updated: bool
    max_difference: float
    regularization: float = 0.0
    loss_after: float | None = None

    # -- rendering ------------------------------------------------------------------------------
    def to_text(self, precision: int = 4, arrays: bool = True) -> str:
        """A readable report: every layer's forward, backward and update, with shapes (and arrays)."""
        check_number("precision", precision, low=0, high=16, integer=True)
        lines: list[str] = []

        def show(label: str, array: np.ndarray | None = None, shapes: str | None = None) -> None:
            text = label if array is None else f"{label}   {shapes or _shape(array)}"
            lines.append("  " + text)
            if arrays and array is not None:
                body = np.array2string(np.asarray(array), precision=precision, suppress_small=True,
                                       max_line_width=100, floatmode="maxprec")
                lines.extend("      " + row for row in body.splitlines())

        last = self.layers[-1]
        lines.append(f"One training step, explained: {self.architecture} network, loss {self.loss_name}, "
                     f"SGD with learning rate {self.learning_rate:g}, a batch of {len(self.x)} samples")
        lines.append("")
        show("x (inputs)", self.x)
        show("y (targets)", self.y)

        lines += ["", "FORWARD PASS (input → output): each layer keeps what its backward pass will need"]
        for layer in self.layers:
            lines.append(f"layer {layer.index} ({layer.name}): {layer.description}")
            _forward_lines(layer, show)
        penalty = " + regularization" if self.regularization else ""
        lines.append(f"  loss L = {self.loss_name}(y, a{last.index}){penalty} = {self.loss:.{precision}f}")

        lines += ["", "BACKWARD PASS (output → input): the chain rule, reusing what the forward pass kept"]
        for layer in reversed(self.layers):
            lines.append(f"layer {layer.index} ({layer.name})")
            _backward_lines(layer, show, self)

        lines += ["", f"UPDATE (plain SGD): parameter ← parameter − lr·gradient, lr = {self.learning_rate:g}"]
        if not self.updated:
            lines.append("  not applied (update=False): the model's parameters are unchanged")
        for layer in self.layers:
            for key in layer.params_before:
                p = _param_symbol(layer, key)
                if self.updated:
                    show(f"{p} ← {p} − {self.learning_rate:g}·dL/d{p}", layer.params_after[key])
        if self.loss_after is not None:
            lines.append(f"  loss on the same batch: {self.loss:.{precision}f} before the step → "
                         f"{self.loss_after:.{precision}f} after")
        check = f"CHECK: the traced gradients equal model.backward's (max |difference| = {self.max_difference:.3g})"
        lines += ["", check]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-serialisable view: arrays become {"shape": [...], "values": nested lists}."""
        return {
            "architecture": self.architecture,
            "loss_name": self.loss_name,
            "loss": float(self.loss),
            "loss_after": None if self.loss_after is None else float(self.loss_after),
            "learning_rate": float(self.learning_rate),
            "fused": bool(self.fused),
            "updated": bool(self.updated),
            "max_difference": float(self.max_difference),
            "regularization": float(self.regularization),
            "x": _array_dict(self.x),
            "y": _array_dict(self.y),
            "output": _array_dict(self.output),
            "layers": [_layer_dict(layer) for layer in self.layers],
        }

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        return (f"Trace(architecture={self.architecture!r}, loss_name={self.loss_name!r}, loss={self.loss:.6g}, "
                f"learning_rate={self.learning_rate:g}, n_layers={len(self.layers)}, updated={self.updated})")


# -- rendering helpers ---------------------------------------------------------------------------
def _shape(array) -> str:
    return str(tuple(int(d) for d in np.shape(array)))


def _param_symbol(layer: LayerTrace, key: str) -> str:
    symbol = {"weight": "W", "bias": "b"}.get(key, key)
    return f"{symbol}{layer.index}"


def _forward_lines(layer: LayerTrace, show) -> None:
    l, prev = layer.index, layer.input_name
    if layer.kind == "Dense":
        w = layer.params_before["weight"]
        show(f"W{l} (weights, before the step)", w)
        if "bias" in layer.params_before:
            show(f"b{l} (biases, before the step)", layer.params_before["bias"])
            shapes = f"{_shape(layer.input)}·{_shape(w)} + {_shape(layer.params_before['bias'])} → {_shape(layer.z)}"
            show(f"z{l} = {prev}·W{l} + b{l}", layer.z, shapes)
        else:
            show(f"z{l} = {prev}·W{l}", layer.z, f"{_shape(layer.input)}·{_shape(w)} → {_shape(layer.z)}")
        show(f"a{l} = {layer.activation}(z{l})", layer.output)
    elif layer.z is not None:  # a stand-alone Activation layer: its input is its z
        show(f"a{l} = {layer.activation}(z{l}) with z{l} = {prev}", layer.output,
             f"{_shape(layer.input)} → {_shape(layer.output)}")
    else:
        for key, value in layer.params_before.items():
            show(f"{_param_symbol(layer, key)} ({key}, before the step)", value)
        show(f"a{l} = {layer.name}({prev})", layer.output, f"{_shape(layer.input)} → {_shape(layer.output)}")


def _backward_lines(layer: LayerTrace, show, trace: Trace) -> None:
    l, prev = layer.index, layer.input_name
    is_last = l == trace.layers[-1].index
    source = f"from the loss: dL/dŷ of {trace.loss_name}" if is_last else f"passed back by layer {l + 1}"
    show(f"dL/da{l}  ({source})", layer.grad_output)
    if layer.delta is not None:
        if layer.activation_derivative is not None:
            show(f"f'(z{l}) = {layer.derivative_formula}", layer.activation_derivative)
        if is_last and trace.fused:
            show(f"δ{l} = dL/dz{l} = (a{l} − y)/N, N = {1 / trace.loss_scale:g}", layer.delta)
            show(f"note: {layer.activation} and {trace.loss_name} are fused, as fit does: δ{l} comes straight "
                 f"from the logits, equal to dL/da{l} ⊙ f'(z{l}) up to rounding and finite even when a{l} "
                 f"saturates")
        elif layer.activation_derivative is not None:
            show(f"δ{l} = dL/dz{l} = dL/da{l} ⊙ f'(z{l})", layer.delta,
                 f"{_shape(layer.grad_output)} ⊙ {_shape(layer.activation_derivative)} → {_shape(layer.delta)}")
        else:
            show(f"δ{l} = dL/dz{l} = {layer.activation}.backward(dL/da{l})", layer.delta)
    if layer.kind == "Dense":
        w = layer.params_before["weight"]
        extra = f" + the {layer.regularizer} regularizer's gradient" if layer.regularizer else ""
        show(f"dL/dW{l} = {prev}ᵀ·δ{l}{extra}", layer.grads["weight"],
             f"{_shape(layer.input.T)}·{_shape(layer.delta)} → {_shape(layer.grads['weight'])}")
        if "bias" in layer.grads:
            show(f"dL/db{l} = Σ over samples of δ{l}", layer.grads["bias"],
                 f"{_shape(layer.delta)} → {_shape(layer.grads['bias'])}")
        target = "w.r.t. the data: not used for an update" if l == 1 else f"passed back to layer {l - 1}"
        show(f"dL/d{prev} = δ{l}·W{l}ᵀ   ({target})", layer.grad_input,
             f"{_shape(layer.delta)}·{_shape(w.T)} → {_shape(layer.grad_input)}")
    elif layer.z is not None:
        show(f"dL/d{prev} = δ{l}   (z{l} = {prev}; passed back to layer {l - 1})" if l > 1 else
             f"dL/dx = δ{l}   (z{l} = x)", layer.grad_input)
    else:
        for key, grad in layer.grads.items():
            p = _param_symbol(layer, key)
            show(f"dL/d{p}", grad)
        show(f"dL/d{prev} = {layer.name}.backward(dL/da{l})", layer.grad_input)
    for note in layer.memory:
        show(f"memory: {note}")


def _array_dict(array) -> dict:
    array = np.asarray(array)
    return {"shape": list(array.shape), "values": array.tolist()}


def _layer_dict(layer: LayerTrace) -> dict:
    def arrays(mapping):
        return None if mapping is None else {key: _array_dict(value) for key, value in mapping.items()}

    def maybe(array):
        return None if array is None else _array_dict(array)

    return {
        "index": layer.index, "name": layer.name, "type": layer.kind, "description": layer.description,
        "activation": layer.activation,
        "forward": {"input": _array_dict(layer.input), "params": arrays(layer.params_before),
                    "z": maybe(layer.z), "output": _array_dict(layer.output)},
        "backward": {"grad_output": maybe(layer.grad_output),
                     "activation_derivative": maybe(layer.activation_derivative),
                     "delta": maybe(layer.delta), "grads": arrays(layer.grads),
                     "grad_input": maybe(layer.grad_input)},
        "params_after": arrays(layer.params_after),
        "derivative_formula": layer.derivative_formula, "regularizer": layer.regularizer,
        "memory": list(layer.memory),
    }


# -- building a small network --------------------------------------------------------------------
def parse_layers(spec) -> list[int]:
    """"2-3-1" (or [2, 3, 1]) → [2, 3, 1]: input size, hidden sizes, output size."""
    if isinstance(spec, str):
        try:
            sizes = [int(part) for part in spec.replace(",", "-").split("-")]
        except ValueError:
            raise invalid("layers", "sizes joined by '-', such as '2-3-1'", spec) from None
    elif isinstance(spec, (list, tuple)) and all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
        sizes = list(spec)
    else:
        raise TypeError(f"Invalid type for argument `layers`: expected a string such as '2-3-1' or a list of "
                        f"integers. Received: layers={spec!r}.")
    if len(sizes) < 2 or min(sizes) < 1:
        raise invalid("layers", "at least two positive sizes (input and output), such as '2-3-1'", spec)
    return sizes


def _default_output_activation(loss) -> str:
    if isinstance(loss, BinaryCrossentropy):
        return "linear" if loss.from_logits else "sigmoid"
    if isinstance(loss, (CategoricalCrossentropy, SparseCategoricalCrossentropy)):
        return "linear" if loss.from_logits else "softmax"
    return "linear"


def build_network(layers="2-3-1", activation: str = "sigmoid", loss="binary_crossentropy",
                  learning_rate: float = 0.01, seed=0, *, output_activation: str | None = None,
                  dtype="float32") -> Sequential:
    """A compiled Sequential from a spec like "2-3-1", initialised like seed 000 (weights and biases
    ~ N(0, 1), as torch.randn) and compiled with SGD(learning_rate).

    The hidden layers use `activation`; the output uses `output_activation`, by default the one that
    matches the loss (sigmoid for binary_crossentropy, softmax for the categorical ones, else linear).
    """
    sizes = parse_layers(layers)
    loss = get_loss(loss)
    output_activation = output_activation or _default_output_activation(loss)
    normal = RandomNormal(mean=0.0, stddev=1.0)
    dense = [Dense(units, activation=activation if i < len(sizes) - 2 else output_activation,
                   kernel_initializer=normal, bias_initializer=normal, input_dim=sizes[0] if i == 0 else None)
             for i, units in enumerate(sizes[1:])]
    model = Sequential(dense, seed=seed, dtype=dtype)
    model.compile(optimizer=SGD(learning_rate), loss=loss)
    return model


def _default_batch(model: Sequential, loss, seed) -> tuple[np.ndarray, np.ndarray]:
    """XOR's 4 points for a 2-input, 1-output network; otherwise 4 random samples of the right kind."""
    n_in, n_out = model.input_shape[0], model.output_shape[0]
    if (n_in, n_out) == (2, 1):
        return np.array(XOR_X), np.array(XOR_Y)
    # A stream of its own: with the model's seed the data would repeat the initial weights' numbers.
    rng = np.random.default_rng([int(seed), 1]) if isinstance(seed, (int, np.integer)) else np.random.default_rng(seed)
    x = rng.normal(size=(4, n_in))
    if isinstance(loss, SparseCategoricalCrossentropy):
        return x, rng.integers(0, n_out, size=4)
    if isinstance(loss, CategoricalCrossentropy):
        return x, np.eye(n_out)[rng.integers(0, n_out, size=4)]
    if isinstance(loss, BinaryCrossentropy):
        return x, rng.integers(0, 2, size=(4, n_out)).astype(float)
    return x, rng.normal(size=(4, n_out))


def demo_network(seed=0, dtype="float32") -> tuple[Sequential, np.ndarray, np.ndarray]:
    """Seed 000's XOR network: 2-3-1, sigmoid everywhere, binary cross-entropy, SGD lr 0.01, with
    N(0, 1) initial weights and biases from `seed`; returns (model, x, y) with XOR's 4 points."""
    model = build_network("2-3-1", "sigmoid", "binary_crossentropy", 0.01, seed, dtype=dtype)
    return model, np.array(XOR_X), np.array(XOR_Y)


def explain_default(seed=0) -> Trace:
    """The trace `mlplab explain` shows with no arguments: one step of `demo_network(seed)` on XOR."""
    model, x, y = demo_network(seed)
    return explain_step(model, x, y)


# -- the step ------------------------------------------------------------------------------------
def _loss_name(loss) -> str:
    names = [name for name in LOSSES.names() if LOSSES.get(name) is type(loss)]
    return max(names, key=len) if names else type(loss).__name__


def _describe(layer) -> str:
    if isinstance(layer, Dense):
        return (f"Dense({layer.input_shape[0]} -> {layer.units}, activation={activation_name(layer.activation)!r}"
                f"{'' if layer.use_bias else ', use_bias=False'})")
    return repr(layer)


def _architecture(model: Sequential) -> str:
    if all(isinstance(layer, Dense) for layer in model.layers):
        return "-".join(str(n) for n in [model.input_shape[0]] + [layer.units for layer in model.layers])
    return " → ".join(type(layer).__name__ for layer in model.layers)


def _memory_notes(layer, index: int, prev: str) -> list[str]:
    notes = []
    if hasattr(layer, "activation") and hasattr(layer, "backward_from_logits"):
        formula, reused = _derivative(type(layer.activation), index)
        if isinstance(layer.activation, Softmax):
            notes.append(f"δ{index} = a ⊙ (g − Σ_j g_j·a_j) reuses the softmax output a{index} kept by the "
                         f"forward pass")
        elif reused is not None:
            notes.append(f"f'(z{index}) = {formula} reuses {reused} kept by the forward pass "
                         f"(layer.activation)")
    if isinstance(layer, Dense):
        notes.append(f"dL/dW{index} = {prev}ᵀ·δ{index} reuses {prev}, the input kept by the forward pass "
                     f"(layer.input)")
        uses = f"dL/dW{index}, dL/db{index}" if layer.use_bias else f"dL/dW{index}"
        reuse = f"δ{index} is computed once and reused for {uses} and dL/d{prev}"
        if index > 1:
            reuse += f"; layer {index - 1} starts from dL/d{prev} instead of redoing the chain from the loss"
        notes.append(reuse)
        notes.append(f"dL/d{prev} = δ{index}·W{index}ᵀ uses W{index} from before the update")
    return notes


def explain_step(model="2-3-1", x=None, y=None, loss=None, learning_rate=None, *, activation: str = "sigmoid",
                 seed=0, update: bool = True, dtype="float32") -> Trace:
    """Run ONE training step (forward, loss, backward, SGD update) and return its `Trace`.

    model: a Sequential (compiled, or pass `loss`), or a spec like "2-3-1" built with `build_network`
        (hidden `activation`, N(0, 1) initial weights from `seed`; then x, y default to XOR's 4 points for
        2 inputs and 1 output, else 4 random samples).
    loss: overrides the compiled loss.  learning_rate: the SGD step size (default: the compiled optimizer's
        current learning rate, else 0.01). The step is always plain SGD, W ← W − lr·dL/dW, applied with
        ml.SGD: the compiled optimizer (e.g. Adam and its moments) is not used or changed.
    update: False records the step without applying it (the parameters stay; a training-mode forward
        still runs, so Dropout draws a mask and BatchNormalization updates its moving statistics).

    When the output is sigmoid/softmax with its cross-entropy, the last δ is the fused p − y, exactly as
    `fit` computes it; so after the step the weights are those `ml.train_step` with SGD(lr) would give.
    """
    if isinstance(model, (str, list, tuple)):
        model = build_network(model, activation, loss if loss is not None else "binary_crossentropy",
                              0.01 if learning_rate is None else learning_rate, seed, dtype=dtype)
        if x is None and y is None:
            x, y = _default_batch(model, model.loss, seed)
    elif not isinstance(model, Sequential):
        raise TypeError(f"Invalid type for argument `model`: expected an ml.Sequential or a spec such as "
                        f"'2-3-1'. Received: model={model!r}.")
    if x is None or y is None:
        raise invalid("x" if x is None else "y", "a batch of data (x and y) for this model", None)
    if loss is not None:
        loss_fn = get_loss(loss)
    elif model.compiled:
        loss_fn = model.loss
    else:
        raise invalid("loss", "a loss name or ml.Loss, since the model is not compiled", None)
    if learning_rate is None:
        learning_rate = model.optimizer.current_learning_rate if model.compiled else 0.01
    learning_rate = float(check_number("learning_rate", learning_rate, low=0.0))
    if not isinstance(update, bool):
        raise TypeError(f"Invalid type for argument `update`: expected True or False. Received: update={update!r}.")
    x = model._check_x(x)
    if not model.built:
        model.build(x.shape[1:])
    # check_targets only needs the loss, the dtype and the output shapes: the same checks as fit.
    y = check_targets(types.SimpleNamespace(loss=loss_fn, dtype=model.dtype, output_shapes=model.output_shapes), x, y)
    fused_loss = model._fused_loss(loss_fn)  # the model's own rule for fusing sigmoid/softmax with cross-entropy

    # Forward: drive each layer's forward and copy what it kept.
    records, a = [], x
    for index, layer in enumerate(model.layers, start=1):
        before = {key: value.copy() for key, value in layer.params.items()}
        a_prev = a
        a = layer.forward(a_prev, training=True)
        has_z = hasattr(layer, "activation") and hasattr(layer, "backward_from_logits")
        record = LayerTrace(
            index=index, name=layer.name, kind=type(layer).__name__, description=_describe(layer),
            activation=activation_name(layer.activation) if has_z else None,
            input=(layer.input if isinstance(layer, Dense) else a_prev).copy(), params_before=before,
            z=layer.logits.copy() if has_z else None, output=np.array(a, copy=True),
            memory=_memory_notes(layer, index, "x" if index == 1 else f"a{index - 1}"))
        if has_z and not isinstance(layer.activation, Softmax):
            record.derivative_formula = _derivative(type(layer.activation), index)[0]
        if getattr(layer, "kernel_regularizer", None) is not None:
            record.regularizer = type(layer.kernel_regularizer).__name__
        records.append(record)
    output = a
    last = model.layers[-1]

    # The loss and its gradient: dL/dŷ from the loss; with fusion, δ_L = (p − y)/N straight from the logits.
    shown_loss = loss_fn.forward(y, output)
    grad = loss_fn.backward()
    if fused_loss is not None:
        loss_value = fused_loss.forward(y, last.logits)
        top_grad = fused_loss.backward()
        loss_scale = fused_loss.scale
    else:
        loss_value, top_grad, loss_scale = shown_loss, grad, getattr(loss_fn, "scale", 1.0)
    regularization = model.regularization_loss()
    loss_value += regularization

    # Backward: each layer's own backward, in reverse, recording dL/da, δ, dW, db and dL/dx.
    for record, layer in zip(reversed(records), reversed(model.layers)):
        record.grad_output = np.array(grad, copy=True)
        if record.z is not None:
            if layer is last and fused_loss is not None:
                delta = top_grad
            else:
                delta = layer.activation.backward(grad)
            if not isinstance(layer.activation, Softmax):  # element-wise: f'(z) = activation.backward(1)
                record.activation_derivative = layer.activation.backward(np.ones_like(record.z))
            record.delta = np.array(delta, copy=True)
            grad = layer.backward_from_logits(delta)
        else:
            grad = layer.backward(grad)
        record.grads = {key: value.copy() for key, value in layer.grads.items()}
        record.grad_input = np.array(grad, copy=True)

    # Check: the model's own backward gives the same gradients (it overwrites layer.grads).
    reference_input_grad = model.backward(top_grad, from_logits=fused_loss is not None)
    pairs = [(records[0].grad_input, reference_input_grad)]
    pairs += [(record.grads[key], layer.grads[key]) for record, layer in zip(records, model.layers)
              for key in layer.grads]
    max_difference = max(float(np.max(np.abs(mine - theirs), initial=0.0)) for mine, theirs in pairs)
    if not all(np.allclose(mine, theirs, rtol=1e-6, atol=0.0) for mine, theirs in pairs):
        raise RuntimeError(f"explain_step: the traced gradients differ from model.backward's by {max_difference:g}; "
                           f"this is a bug in mlplab, please report it.")

    # Update: plain SGD on the model's own gradients.
    loss_after = None
    if update:
        SGD(learning_rate).step(model)
        for record, layer in zip(records, model.layers):
            record.params_after = {key: value.copy() for key, value in layer.params.items()}
        if all(isinstance(layer, (Dense, Activation)) for layer in model.layers):  # deterministic layers only
            after = model.forward(x, training=False)
            loss_after = (fused_loss.forward(y, last.logits) if fused_loss is not None
                          else loss_fn.forward(y, after)) + model.regularization_loss()

    return Trace(architecture=_architecture(model), loss_name=_loss_name(loss_fn), loss=float(loss_value),
                 learning_rate=learning_rate, x=x.copy(), y=np.array(y, copy=True), output=np.array(output, copy=True),
                 layers=records, fused=fused_loss is not None, loss_scale=float(loss_scale), updated=update,
                 max_difference=max_difference, regularization=float(regularization),
                 loss_after=None if loss_after is None else float(loss_after))


# -- command line --------------------------------------------------------------------------------
def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layers", default="2-3-1", help="layer sizes, input to output (default 2-3-1)")
    parser.add_argument("--activation", default="sigmoid", help="hidden-layer activation (default sigmoid)")
    parser.add_argument("--output-activation", default=None,
                        help="output activation (default: sigmoid for binary_crossentropy, softmax for the "
                             "categorical losses, else linear)")
    parser.add_argument("--loss", default="binary_crossentropy", help="loss name (default binary_crossentropy)")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default 0)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--precision", type=int, default=4, help="decimals shown (default 4)")
    parser.add_argument("--json", action="store_true", help="print the trace as JSON instead of text")


def _run(args) -> int:
    model = build_network(args.layers, args.activation, args.loss, args.lr, args.seed,
                          output_activation=args.output_activation, dtype=args.dtype)
    x, y = _default_batch(model, model.loss, args.seed)
    trace = explain_step(model, x, y)
    print(json.dumps(trace.to_dict(), indent=2) if args.json else trace.to_text(precision=args.precision))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `mlplab explain` on the CLI's subparsers; the parsed args run with `args.run(args)`."""
    parser = subparsers.add_parser(
        "explain", help="show one backpropagation step layer by layer (forward, backward, update)",
        description="Run one SGD step of a small MLP (default: the XOR 2-3-1 sigmoid network of seed 000) "
                    "and print every layer's forward values, gradients and update, with shapes.")
    _add_arguments(parser)
    parser.set_defaults(run=_run)
    return parser


def cli_main(argv=None) -> int:
    """`mlplab explain [--layers 2-3-1] [--activation sigmoid] [--loss ...] [--lr 0.01] [--seed 0] [--json]`."""
    parser = argparse.ArgumentParser(prog="mlplab explain", description="Show one backpropagation step.")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, TypeError) as err:
        print(f"mlplab explain: error: {err}", file=sys.stderr)
        return 2


__all__ = ["LayerTrace", "Trace", "add_parser", "build_network", "cli_main", "demo_network", "explain_default",
           "explain_step", "parse_layers"]
