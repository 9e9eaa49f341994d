"""Optimizers own their state (per-parameter buffers keyed by the parameter) and update in place.

`optimizer.step(model)` applies one update to every parameter of a model (or of a list of layers)
from the gradients its last `backward` filled. Each rule is a few lines with the paper's names.
"""
from __future__ import annotations

import math

import numpy as np

from . import kernels
from ._checks import check_number
from .registry import Registry
from .schedules import LearningRateSchedule

OPTIMIZERS = Registry("optimizer")


class Optimizer:
    """Base: learning rate (a float or a schedule), gradient clipping, the step counter."""

    def __init__(self, learning_rate=0.01, *, clipnorm=None, clipvalue=None, global_clipnorm=None):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            self.learning_rate = learning_rate
        else:
            self.learning_rate = float(check_number("learning_rate", learning_rate, low=0.0))
        self.clipnorm = check_number("clipnorm", clipnorm, low=0, low_open=True, allow_none=True)
        self.clipvalue = check_number("clipvalue", clipvalue, low=0, low_open=True, allow_none=True)
        self.global_clipnorm = check_number("global_clipnorm", global_clipnorm, low=0, low_open=True,
                                            allow_none=True)
        self.iterations = 0
        self.state: dict[int, dict[str, np.ndarray]] = {}

    @property
    def current_learning_rate(self) -> float:
        lr = self.learning_rate
        return float(lr(self.iterations)) if callable(lr) else lr

    def step(self, model) -> None:
        """Update every parameter of `model` (a Sequential, a Layer or a list of layers) from the
        gradients its last `backward` filled. A built Sequential is updated through its two flat
        buffers (`parameter_buffer()`): one call of the rule for the whole model."""
        params, grads, parts = _update_groups(model)
        grads = self._clip(grads, parts)
        lr = self.current_learning_rate
        self.iterations += 1
        for param, grad in zip(params, grads):
            state = self.state.get(id(param))
            if state is None or state["size"] != param.size:  # new, or a stale id from a rebuilt model
                state = self.state[id(param)] = {"size": param.size}
            self.update(param, grad, state, lr)

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        raise NotImplementedError

    def _clip(self, grads, parts):
        """Clipped copies of `grads` (the originals stay as backward left them); `parts` are
        (index, slice) pairs picking each parameter's gradient out of `grads`, for clipnorm."""
        if self.clipvalue is not None:
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:  # each parameter's gradient on its own (Keras's clipnorm)
            grads = grads if self.clipvalue is not None else [g.copy() for g in grads]
            for index, where in parts:
                part = grads[index][where]
                norm = math.sqrt(float(np.vdot(part, part)))
                if norm > self.clipnorm:
                    part *= self.clipnorm / norm
        if self.global_clipnorm is not None:  # all gradients together (torch.nn.utils.clip_grad_norm_)
            total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            grads = [_scale_to_norm(g, self.global_clipnorm, total) for g in grads]
        return grads

    def reset(self) -> None:
        self.iterations = 0
        self.state.clear()

    def get_config(self) -> dict:
        skip = {"state", "iterations"}
        return {k: v for k, v in vars(self).items() if k not in skip and v is not None}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _scale_to_norm(grad, max_norm, norm):
    return grad * (max_norm / norm) if norm > max_norm else grad


def _update_groups(model):
    """(params, grads, parts): a built Sequential's two flat buffers, with one slice per parameter,
    or else each (parameter, gradient) pair of the layers as its own group."""
    buffer = model.parameter_buffer() if hasattr(model, "parameter_buffer") else None
    if buffer is not None:
        return [buffer.values], [buffer.grads], buffer.parts
    if hasattr(model, "parameters"):
        pairs = list(model.parameters())
    else:
        layers = model if isinstance(model, (list, tuple)) else [model]
        pairs = [(layer.params[key], layer.grads[key]) for layer in layers for key in layer.params]
    return [p for p, _ in pairs], [g for _, g in pairs], [(i, ...) for i in range(len(pairs))]


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """w ← w − lr·g, with momentum v ← μ·v + g (PyTorch form), Nesterov g ← g + μ·v, and L2 weight_decay."""

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(check_number("momentum", momentum, low=0.0))
        self.nesterov = bool(nesterov)
        self.weight_decay = float(check_number("weight_decay", weight_decay, low=0.0))
        if self.nesterov and self.momentum == 0:
            raise ValueError("Invalid value for argument `nesterov`: Nesterov momentum needs momentum > 0. "
                             "Received: nesterov=True with momentum=0.")

    def update(self, param, grad, state, lr):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            velocity = state.get("velocity")
            if velocity is None:
                velocity = state["velocity"] = grad.copy()  # PyTorch starts the buffer at g
            else:
                velocity *= self.momentum
                velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        param -= lr * grad


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """v ← ρ·v + (1 − ρ)·g²;  w ← w − lr·g / (√v + ε)."""

    def __init__(self, learning_rate=0.001, rho: float = 0.9, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = float(check_number("rho", rho, low=0.0, high=1.0, high_open=True))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0))

    def update(self, param, grad, state, lr):
        v = state.setdefault("v", np.zeros_like(param))
        v *= self.rho
        v += (1 - self.rho) * grad * grad
        param -= lr * grad / (np.sqrt(v) + self.epsilon)


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """s ← s + g²;  w ← w − lr·g / (√s + ε): each weight's step shrinks with its gradient history."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(check_number("initial_accumulator_value",
                                                            initial_accumulator_value, low=0.0))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0))

    def update(self, param, grad, state, lr):
        s = state.get("s")
        if s is None:
            s = state["s"] = np.full_like(param, self.initial_accumulator_value)
        s += grad * grad
        param -= lr * grad / (np.sqrt(s) + self.epsilon)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  w ← w − lr·m̂ / (√v̂ + ε),
    with bias corrections m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ) (Kingma & Ba 2015, PyTorch's form)."""

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float(check_number("beta_1", beta_1, low=0.0, high=1.0, high_open=True))
        self.beta_2 = float(check_number("beta_2", beta_2, low=0.0, high=1.0, high_open=True))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0))

    def update(self, param, grad, state, lr):
        if "m" not in state:
            state.update(m=np.zeros_like(param), v=np.zeros_like(param), t=0, scratch=np.empty_like(param))
        m, v, scratch = state["m"], state["v"], state["scratch"]
        state["t"] = t = state["t"] + 1
        # lr·m̂ / (√v̂ + ε) = m / (√v + ε·c) · lr·c / (1 − β1ᵗ), with c = √(1 − β2ᵗ): the bias
        # corrections become two scalars instead of two more passes over the parameters.
        c = math.sqrt(1 - self.beta_2 ** t)
        epsilon, step_size = self.epsilon * c, lr * c / (1 - self.beta_1 ** t)
        if kernels.adam(param, grad, m, v, self.beta_1, self.beta_2, epsilon, step_size):
            return  # the same arithmetic, compiled into one pass (mlplab.kernels)
        # In place, through one scratch buffer: twelve passes, no temporaries.
        m *= self.beta_1
        m += np.multiply(grad, 1 - self.beta_1, out=scratch)
        v *= self.beta_2
        v += np.multiply(np.square(grad, out=scratch), 1 - self.beta_2, out=scratch)
        denominator = np.sqrt(v, out=scratch)
        denominator += epsilon
        step = np.divide(m, denominator, out=scratch)
        step *= step_size
        param -= step


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): w ← w − lr·λ·w, then the Adam step."""

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.01, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.weight_decay = float(check_number("weight_decay", weight_decay, low=0.0))

    def update(self, param, grad, state, lr):
        param *= 1 - lr * self.weight_decay
        super().update(param, grad, state, lr)


def get_optimizer(optimizer) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        return OPTIMIZERS.create(optimizer)
    raise TypeError(
        f"Invalid type for argument `optimizer`: expected a name ({', '.join(OPTIMIZERS.names())}) "
        f"or an ml.Optimizer instance. Received: {optimizer!r}."
    )
