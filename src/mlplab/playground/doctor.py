"""The training doctor and "explain one step" for the playground.

`diagnose(session, metrics)` reads the per-layer gradient norms and the activation statistics on the
training data and names what is wrong (divergence, a NaN loss, dead or saturated units, vanishing or
exploding gradients), why, and the fix to try. `explain_text` explains one step with the page's own
optimizer: Adam's m̂, v̂ and step size, or SGD's gradient step, checked against the step it really takes.
"""
from __future__ import annotations

import copy

import numpy as np

import mlplab as ml

VANISHING_RATIO = 1e-2  # first layer's gradient norm ÷ the output layer's, below which we call it vanishing
EXPLODING_NORM = 1e3
DEAD_FRACTION = 0.5  # of a ReLU layer's units that output 0 for every training point
SATURATED_FRACTION = 0.6  # of a sigmoid/tanh layer's outputs pinned near its limits


def _finding(problem: str, why: str, fix: str) -> dict:
    return {"problem": problem, "why": why, "fix": fix}


def diagnose(session, metrics: dict) -> list:
    """What the doctor sees now, most serious first: a list of {problem, why, fix}."""
    findings = []
    rate = metrics.get("learning_rate")
    if session.diverged:
        findings.append(_finding(
            "Divergence",
            f"the loss blew up during the last step ({session.diverged}); a learning rate of {rate:g} makes each "
            "update overshoot the minimum by more than it gains.",
            "lower the learning rate (÷10), or use Adam; the network was put back as it was before the step."))
    if metrics.get("train_loss") is None and session.epoch:
        findings.append(_finding("NaN loss", "the training loss is no longer a finite number.",
                                 "lower the learning rate and press Reset."))
    if not session.epoch:
        return findings
    findings += _gradient_findings(metrics.get("gradient_norms") or [], metrics.get("gradient_ratio"))
    findings += _activation_findings(session, metrics)
    return findings


def _gradient_findings(norms: list, ratio) -> list:
    findings = []
    finite = [n for n in norms if n is not None]
    if len(norms) >= 3 and ratio is not None and ratio < VANISHING_RATIO:
        findings.append(_finding(
            "Vanishing gradient",
            f"the first layer's gradient norm is {ratio:.1e} times the output layer's: each sigmoid/tanh layer "
            "multiplies the gradient by its slope (at most 1/4 for sigmoid), so through "
            f"{len(norms) - 1} hidden layers almost nothing reaches the first ones, and they barely learn.",
            "use ReLU in the hidden layers, add batch normalization, or use fewer layers."))
    if finite and max(finite) > EXPLODING_NORM:
        findings.append(_finding(
            "Exploding gradient", f"a layer's gradient norm reached {max(finite):.3g}.",
            "lower the learning rate, or add batch normalization."))
    return findings


def _activation_findings(session, metrics: dict) -> list:
    """Dead ReLU units and saturated sigmoid/tanh layers, from a forward pass over the training points.
    Saturation counts only while the network still errs: a network that fits its data may well be confident."""
    accuracy = metrics.get("train_accuracy")
    still_learning = accuracy is None or accuracy < 0.95
    findings = []
    x = session.x_train.astype(session.model.dtype)
    hidden = 0
    with np.errstate(all="ignore"):
        for layer in session.model.layers[:-1]:
            x = layer.forward(x, training=False)
            activation = getattr(layer, "activation", None)
            name = type(activation).__name__ if activation is not None else ""
            if not isinstance(layer, (ml.Dense, ml.Activation)) or name == "Linear":
                continue
            if isinstance(layer, ml.Dense) and session.config["batch_norm"]:
                continue  # the activation comes after batch normalization
            hidden += 1
            if name == "ReLU":
                dead = int(np.all(x <= 0, axis=0).sum())
                if x.shape[1] and dead / x.shape[1] >= DEAD_FRACTION:
                    findings.append(_finding(
                        "Dead units",
                        f"{dead} of {x.shape[1]} ReLU units of hidden layer {hidden} output 0 for every training "
                        "point, so no gradient flows through them and they never recover.",
                        "lower the learning rate, use leaky ReLU or ELU, or press Reset for new initial weights."))
            elif name in ("Sigmoid", "Tanh"):
                low, high = (0.01, 0.99) if name == "Sigmoid" else (-0.99, 0.99)
                saturated = float(np.mean((x < low) | (x > high)))
                if saturated >= SATURATED_FRACTION and still_learning:
                    findings.append(_finding(
                        "Saturated units",
                        f"{saturated:.0%} of hidden layer {hidden}'s {name.lower()} outputs sit at their limits, "
                        "where the slope is nearly 0, so the gradient through them vanishes.",
                        "lower the learning rate, scale the inputs, or add batch normalization."))
    return findings


# -- explain one step ----------------------------------------------------------------------------
def _describe(optimizer) -> str:
    rate = optimizer.current_learning_rate
    if isinstance(optimizer, ml.Adam):
        return (f"Adam (learning rate {rate:g}, β1 = {optimizer.beta_1:g}, β2 = {optimizer.beta_2:g}, "
                f"ε = {optimizer.epsilon:g}), step t = {optimizer.iterations + 1}")
    momentum = getattr(optimizer, "momentum", 0.0)
    return f"SGD (learning rate {rate:g}{f', momentum {momentum:g}' if momentum else ''})"


def _entries(values, count=4, precision=4) -> str:
    flat = np.asarray(values, np.float64).ravel()[:count]
    return "[" + ", ".join(f"{v:.{precision}g}" for v in flat) + (", …]" if np.size(values) > count else "]")


def explain_text(model, x, y) -> str:
    """The forward/backward trace of one step (ml.explain_step, nothing applied) and the update the page's own
    optimizer makes, per parameter, on a copy of the model."""
    trace = ml.explain_step(copy.deepcopy(model), x, y, update=False)
    work = copy.deepcopy(model)
    optimizer = work.optimizer
    before = {(layer.name, key): value.copy() for layer in work.layers for key, value in layer.params.items()}
    work.fit(x, y, epochs=1, batch_size=len(x), verbose=0)  # exactly one step of the page's optimizer
    state = optimizer.get_state()
    lines = [f"Optimizer on this page: {_describe(model.optimizer)}", ""]
    if isinstance(optimizer, ml.Adam):
        t = optimizer.iterations
        lines += ["  m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  m̂ = m/(1 − β1ᵗ),  v̂ = v/(1 − β2ᵗ),",
                  "  Δw = −lr·m̂/(√v̂ + ε)   (first entries of each parameter)", ""]
    else:
        lines += ["  Δw = −lr·dL/dw (with momentum: velocity ← μ·velocity − lr·g, Δw = velocity)", ""]
    largest = 0.0
    for layer in work.layers:
        for key, after in layer.params.items():
            delta = after - before[(layer.name, key)]
            where = f"{layer.name}/{key}"
            if isinstance(optimizer, ml.Adam):
                m, v = state[f"{where}/m"], state[f"{where}/v"]
                m_hat, v_hat = m / (1 - optimizer.beta_1 ** t), v / (1 - optimizer.beta_2 ** t)
                expected = -optimizer.current_learning_rate * m_hat / (np.sqrt(v_hat) + optimizer.epsilon)
                largest = max(largest, float(np.max(np.abs(expected - delta))))
                lines.append(f"  {where}: m̂ = {_entries(m_hat)}  v̂ = {_entries(v_hat)}")
                lines.append(f"  {' ' * len(where)}  step size lr/(√v̂ + ε) = "
                             f"{_entries(optimizer.current_learning_rate / (np.sqrt(v_hat) + optimizer.epsilon))}"
                             f"  Δw = {_entries(delta)}")
            else:
                lines.append(f"  {where}: Δw = {_entries(delta)}")
    if isinstance(optimizer, ml.Adam):
        lines += ["", f"  Check: the formula's Δw and the step Adam took differ by at most {largest:.1e}."]
    lines += ["", "Forward values, deltas and gradients of the same step (the update above is the page's "
                  "optimizer's; nothing is applied to the page's network):", "", trace.to_text(precision=3)]
    return "\n".join(lines)
