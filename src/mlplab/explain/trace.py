"""The record of one training step (`Trace`, one `LayerTrace` per layer) and its text/JSON forms."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlplab.core.checks import check_number
from mlplab.core.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh

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
