"""`explain_step`: run one training step of a small network through its layers and record it."""
from __future__ import annotations

import numpy as np

from mlplab.core.checks import check_bool, check_number, invalid
from mlplab.core.activations import Softmax, activation_name
from mlplab.core.initializers import RandomNormal
from mlplab.core.layers import Activation, Dense
from mlplab.core.losses import LOSSES, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, get_loss
from mlplab.model import Sequential
from mlplab.core.optimizers import SGD
from mlplab.explain.trace import LayerTrace, Trace, _derivative

XOR_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
XOR_Y = [[0.0], [1.0], [1.0], [0.0]]


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


def default_batch(model: Sequential, loss, seed) -> tuple[np.ndarray, np.ndarray]:
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
    if isinstance(layer, (Dense, Activation)):
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
            x, y = default_batch(model, model.loss, seed)
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
    check_bool("update", update)
    x = model.check_input(x)
    if not model.built:
        model.build(x.shape[1:])
    y = loss_fn.check_targets(y, model.output_shape, model.dtype)  # the same checks as fit
    # The layers training runs: with a fused output the last one is its linear part (mlplab.engine).
    plan, fused_loss = model.output_plan(loss_fn)

    # Forward: each layer's own forward; for a layer with an activation, its linear part gives z.
    records, a, linear = [], x, {}
    for index, layer in enumerate(model.layers, start=1):
        before = {key: value.copy() for key, value in layer.params.items()}
        a_prev = a
        has_z = isinstance(layer, (Dense, Activation))
        if has_z:
            linear[index] = layer.linear_part() if isinstance(layer, Dense) else None
            z = linear[index].forward(a_prev, True) if isinstance(layer, Dense) else a_prev
        if index <= len(plan):
            a = plan[index - 1].forward(a_prev, True)  # what training runs (keeps what backward needs)
        if has_z:
            a = layer.activation.forward(z, True)  # the activation on its own: a = f(z)
        record = LayerTrace(
            index=index, name=layer.name, kind=type(layer).__name__, description=_describe(layer),
            activation=activation_name(layer.activation) if has_z else None,
            input=np.array(a_prev, copy=True), params_before=before,
            z=np.array(z, copy=True) if has_z else None, output=np.array(a, copy=True),
            memory=_memory_notes(layer, index, "x" if index == 1 else f"a{index - 1}"))
        if has_z and not isinstance(layer.activation, Softmax):
            record.derivative_formula = _derivative(type(layer.activation), index)[0]
        if getattr(layer, "kernel_regularizer", None) is not None:
            record.regularizer = type(layer.kernel_regularizer).__name__
        records.append(record)
    output = a

    # The loss and its gradient: dL/dŷ from the loss; with fusion, δ_L = (p − y)/N straight from the logits.
    shown_loss = loss_fn.forward(y, output)
    grad = loss_fn.backward()
    if fused_loss is not None:
        loss_value = fused_loss.forward(y, records[-1].z)
        top_grad = fused_loss.backward()
        loss_scale = fused_loss.scale
    else:
        loss_value, top_grad, loss_scale = shown_loss, grad, getattr(loss_fn, "scale", 1.0)
    regularization = model.regularization_loss()
    loss_value += regularization

    # Backward: each layer's own backward, in reverse, recording dL/da, δ, dW, db and dL/dx.
    last = len(records)
    for record, layer in zip(reversed(records), reversed(model.layers)):
        record.grad_output = np.array(grad, copy=True)
        if record.z is not None:
            if record.index == last and fused_loss is not None:
                delta = top_grad
            else:
                delta = layer.activation.backward(grad)
            if not isinstance(layer.activation, Softmax):  # element-wise: f'(z) = activation.backward(1)
                record.activation_derivative = layer.activation.backward(np.ones_like(record.z))
            record.delta = np.array(delta, copy=True)
            part = linear[record.index]
            grad = part.backward(delta) if part is not None else delta
        else:
            grad = layer.backward(grad)
        record.grads = {key: value.copy() for key, value in layer.grads.items()}
        record.grad_input = np.array(grad, copy=True)

    # Check: the backward pass training runs (each layer's backward, reversed) gives the same gradients.
    reference_input_grad = top_grad
    for layer in reversed(plan):
        reference_input_grad = layer.backward(reference_input_grad)
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
            after = x
            for layer in plan:
                after = layer.forward(after, False)
            loss_after = (fused_loss or loss_fn).forward(y, after) + model.regularization_loss()

    return Trace(architecture=_architecture(model), loss_name=_loss_name(loss_fn), loss=float(loss_value),
                 learning_rate=learning_rate, x=x.copy(), y=np.array(y, copy=True), output=np.array(output, copy=True),
                 layers=records, fused=fused_loss is not None, loss_scale=float(loss_scale), updated=update,
                 max_difference=max_difference, regularization=float(regularization),
                 loss_after=None if loss_after is None else float(loss_after))
