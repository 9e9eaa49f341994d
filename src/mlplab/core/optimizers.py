"""Optimizers: each update rule is the textbook one, written with the paper's names.

An optimizer owns its state: per-parameter slots (Adam's `m` and `v`, SGD's `velocity`) keyed by the
parameter's place in the model, `(layer name, parameter name)`, never by object identity, so the
state survives copies, pickling and files. `optimizer.step(model)` applies one update to every
trainable parameter from the gradients the last `backward` filled.

This module is the reference. Training through `fit`/`train_step` runs the same rules on flat buffers
(`mlplab.engine`). A rule with a fused form names it (`fused_form`, tinygrad's `fused=`): Adam's is one
compiled pass with the bias corrections folded into two scalars. The optimizer chooses it
(`fused_rule()`), never the engine by the optimizer's type; tests check it against this rule.
"""
from __future__ import annotations

import math

import numpy as np

from mlplab.core.checks import check_bool, check_number, invalid
from mlplab.core.registry import Registry
from mlplab.core.schedules import LearningRateSchedule

OPTIMIZERS = Registry("optimizer")


class Optimizer:
    """Base: learning rate (a float or a schedule), gradient clipping, the step counter and the slots."""

    slots: tuple[str, ...] = ()  # the names of the per-parameter state arrays, e.g. ("m", "v")

    fused_form: str | None = None  # the name of the engine's fused form of `update`, if it has one

    def __init__(self, learning_rate=0.01, *, clipnorm=None, clipvalue=None, global_clipnorm=None, fused=True):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            self.learning_rate = learning_rate
        else:
            self.learning_rate = float(check_number("learning_rate", learning_rate, low=0.0))
        self.clipnorm = check_number("clipnorm", clipnorm, low=0, low_open=True, allow_none=True)
        self.clipvalue = check_number("clipvalue", clipvalue, low=0, low_open=True, allow_none=True)
        self.global_clipnorm = check_number("global_clipnorm", global_clipnorm, low=0, low_open=True,
                                            allow_none=True)
        self.fused = check_bool("fused", fused)
        self.iterations = 0
        self.state: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    @property
    def current_learning_rate(self) -> float:
        """The rate for the next step; a schedule's value is checked (finite, ≥ 0) before any use."""
        lr = self.learning_rate
        if not callable(lr):
            return lr
        value = lr(self.iterations)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value) or value < 0:
            raise invalid("learning_rate", f"a schedule returning finite rates ≥ 0 (at step {self.iterations})",
                          value)
        return float(value)

    # -- the plain step -----------------------------------------------------------------------
    def step(self, model) -> None:
        """Update every trainable parameter of `model` (a Sequential, a Layer or a list of layers)."""
        entries = trainable_parameters(model)
        lr = self.current_learning_rate
        grads = self.clip([grad for _, _, grad in entries], [(i, ...) for i in range(len(entries))])
        self.iterations += 1
        for (place, param, _), grad in zip(entries, grads):
            state = self.state.get(place)
            if state is None or any(state[s].shape != param.shape for s in self.slots):
                state = self.state[place] = self.init_state(param)
            self.update(param, grad, state, lr)

    def init_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        """Fresh slots for one parameter (zeros unless the rule says otherwise)."""
        return {slot: np.zeros_like(param) for slot in self.slots}

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        """The rule: change `param` and its `state` slots in place."""
        raise NotImplementedError

    def fused_rule(self) -> str | None:
        """The fused form the engine may run for this optimizer ("adam"), or None for `update` itself.
        None when `fused=False`, and for a subclass that redefines `update`: its own rule then runs."""
        form = type(self).fused_form
        if not self.fused or form is None:
            return None
        owner = next(cls for cls in type(self).__mro__ if cls.__dict__.get("fused_form") == form)
        return form if type(self).update is owner.update else None

    def clip(self, grads, parts):
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
            if total > self.global_clipnorm:
                grads = [g * (self.global_clipnorm / total) for g in grads]
        return grads

    # -- state as plain arrays ----------------------------------------------------------------
    def reset(self) -> None:
        self.iterations = 0
        self.state = {}

    def get_state(self) -> dict[str, np.ndarray]:
        """The state as plain arrays (copies): "iterations" and "{layer}/{parameter}/{slot}" for each slot."""
        arrays = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for (layer, key), slots in self.state.items():
            for slot, value in slots.items():
                arrays[f"{layer}/{key}/{slot}"] = np.array(value, copy=True)
        return arrays

    def set_state(self, state: dict, model=None) -> None:
        """Restore what `get_state` returned. With `model`, every entry is checked against its
        parameters (names, slots, shapes). On any error nothing changes."""
        if not isinstance(state, dict) or "iterations" not in state:
            raise invalid("state", "a dict from optimizer.get_state() (with 'iterations')", state)
        iterations = np.asarray(state["iterations"])
        if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
            raise invalid("state['iterations']", "a non-negative integer", iterations)
        params = {place: param for place, param, _ in trainable_parameters(model)} if model is not None else None
        slots: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        for name, value in state.items():
            if name == "iterations":
                continue
            parts = name.rsplit("/", 2) if isinstance(name, str) else []
            if len(parts) != 3 or parts[2] not in self.slots:
                raise invalid("state", f"keys 'layer/parameter/slot' with a slot in {list(self.slots)}", name)
            place = (parts[0], parts[1])
            value = np.asarray(value)
            if params is not None:
                if place not in params:
                    raise invalid("state", "entries for trainable parameters of this model", name)
                if value.shape != params[place].shape:
                    raise invalid(f"state[{name!r}]", f"an array of shape {params[place].shape}", value)
                value = value.astype(params[place].dtype, copy=False)
            slots.setdefault(place, {})[parts[2]] = np.array(value, copy=True)
        for place, found in slots.items():
            if set(found) != set(self.slots):
                raise invalid("state", f"all slots {list(self.slots)} for {'/'.join(place)}", sorted(found))
        self.iterations, self.state = int(iterations), slots

    def get_config(self) -> dict:
        skip = {"state", "iterations", "slots"}
        return {k: v for k, v in vars(self).items() if k not in skip and v is not None}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def trainable_parameters(model):
    """[(place, parameter, gradient)] of every trainable layer of a Sequential, a layer or a list of
    layers, in Keras order; place = (layer name, parameter name)."""
    layers = getattr(model, "layers", model)
    layers = layers if isinstance(layers, (list, tuple)) else [layers]
    return [((getattr(layer, "name", None) or f"layer{index}", key), layer.params[key], layer.grads[key])
            for index, layer in enumerate(layers) if getattr(layer, "trainable", True)
            for key in layer.params]


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """w ← w − lr·g, with momentum velocity ← μ·velocity + g (PyTorch form), Nesterov g ← g + μ·velocity,
    and L2 weight_decay g ← g + λ·w."""

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(check_number("momentum", momentum, low=0.0))
        self.nesterov = check_bool("nesterov", nesterov)
        self.weight_decay = float(check_number("weight_decay", weight_decay, low=0.0))
        if self.nesterov and self.momentum == 0:
            raise ValueError("Invalid value for argument `nesterov`: Nesterov momentum needs momentum > 0. "
                             "Received: nesterov=True with momentum=0.")
        self.slots = ("velocity",) if self.momentum else ()

    def update(self, param, grad, state, lr):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            velocity = state["velocity"]  # starts at 0, so the first step's velocity is g, as in PyTorch
            velocity *= self.momentum
            velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        param -= lr * grad


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """v ← ρ·v + (1 − ρ)·g²;  w ← w − lr·g / (√v + ε)."""

    slots = ("v",)

    def __init__(self, learning_rate=0.001, rho: float = 0.9, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = float(check_number("rho", rho, low=0.0, high=1.0, high_open=True))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0, low_open=True))

    def update(self, param, grad, state, lr):
        v = state["v"]
        v[...] = self.rho * v + (1 - self.rho) * grad * grad
        param -= lr * grad / (np.sqrt(v) + self.epsilon)


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """s ← s + g²;  w ← w − lr·g / (√s + ε): each weight's step shrinks with its gradient history."""

    slots = ("s",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(check_number("initial_accumulator_value",
                                                            initial_accumulator_value, low=0.0))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0, low_open=True))

    def init_state(self, param):
        return {"s": np.full_like(param, self.initial_accumulator_value)}

    def update(self, param, grad, state, lr):
        s = state["s"]
        s += grad * grad
        param -= lr * grad / (np.sqrt(s) + self.epsilon)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1ᵗ);  v̂ = v/(1 − β2ᵗ);
    w ← w − lr·m̂ / (√v̂ + ε)   (Kingma & Ba 2015; t counts the optimizer's steps)."""

    slots = ("m", "v")
    fused_form = "adam"

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float(check_number("beta_1", beta_1, low=0.0, high=1.0, high_open=True))
        self.beta_2 = float(check_number("beta_2", beta_2, low=0.0, high=1.0, high_open=True))
        self.epsilon = float(check_number("epsilon", epsilon, low=0.0, low_open=True))

    def update(self, param, grad, state, lr):
        m, v, t = state["m"], state["v"], self.iterations
        m[...] = self.beta_1 * m + (1 - self.beta_1) * grad
        v[...] = self.beta_2 * v + (1 - self.beta_2) * grad * grad
        m_hat = m / (1 - self.beta_1 ** t)
        v_hat = v / (1 - self.beta_2 ** t)
        param -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): w ← w − lr·λ·w, then the Adam step."""

    fused_form = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.01, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.weight_decay = float(check_number("weight_decay", weight_decay, low=0.0))

    def update(self, param, grad, state, lr):
        param *= 1 - lr * self.weight_decay
        super().update(param, grad, state, lr)


@OPTIMIZERS.register("lbfgs")
class LBFGS(Optimizer):
    """Limited-memory BFGS on the full batch, run by scipy's L-BFGS-B (`pip install scipy`): `fit` hands it
    the loss and gradient of all the data over the flat parameter vector, and each epoch is one L-BFGS
    iteration (`epochs` is the iteration limit, `batch_size` is ignored). It stops when the largest
    gradient component is below `tol` (scipy's gtol), after `max_fun` loss evaluations, or when the loss
    changes by less than `ftol` relative. It has no learning rate and cannot `step` on one batch.

    >>> model.compile(optimizer=LBFGS(tol=1e-5), loss="mean_squared_error")
    >>> model.fit(x, y, epochs=200)   # up to 200 L-BFGS iterations on the whole data set
    """

    full_batch = True

    def __init__(self, *, tol: float = 1e-5, max_fun: int = 15000, ftol: float = 2.220446049250313e-09,
                 memory: int = 10):
        super().__init__(0.0)
        self.tol = float(check_number("tol", tol, low=0.0))
        self.max_fun = int(check_number("max_fun", max_fun, low=1, integer=True))
        self.ftol = float(check_number("ftol", ftol, low=0.0))
        self.memory = int(check_number("memory", memory, low=1, integer=True))
        self.result: dict | None = None  # the last run's scipy result: nit, nfev, status, message, fun

    def update(self, param, grad, state, lr):
        raise ValueError("ml.LBFGS works on the whole data set at once: train with model.fit(x, y, epochs=N), "
                         "not with optimizer.step or ml.train_step.")

    def get_config(self) -> dict:
        return {"tol": self.tol, "max_fun": self.max_fun, "ftol": self.ftol, "memory": self.memory}


def get_optimizer(optimizer) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    return OPTIMIZERS.resolve(optimizer, "optimizer", "an ml.Optimizer instance")
