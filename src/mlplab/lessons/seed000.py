"""Seed 000 ("ANN Theory, day 5-6"): logic gates with one neuron, XOR with a hidden layer, wide and deep
XOR networks, and the vanishing gradient of deep sigmoid networks.

The lecture's own program is PyTorch (a 2-3-1 sigmoid network trained on XOR with SGD for 200,000 steps);
its "Further ANNs" are TensorFlow pictures without code. Every step below uses mlplab's public API.
"""
from __future__ import annotations

import numpy as np

import mlplab as ml
from mlplab.datasets import logic_gate

from mlplab.lessons.base import lesson

SEED = "000_3254d6e8f615afdb.txt"


def _randn():
    """`torch.randn` draws every weight and bias from N(0, 1): RandomNormal(stddev=1.0) in mlplab."""
    return ml.RandomNormal(mean=0.0, stddev=1.0)


def sigmoid_net(sizes, seed, learning_rate, dtype="float32"):
    """A sigmoid network with layer sizes like (2, 3, 1), torch.randn initialisation, BCE and plain SGD."""
    layers = [ml.Dense(sizes[1], "sigmoid", input_dim=sizes[0], kernel_initializer=_randn(),
                       bias_initializer=_randn())]
    layers += [ml.Dense(units, "sigmoid", kernel_initializer=_randn(), bias_initializer=_randn())
               for units in sizes[2:]]
    model = ml.Sequential(layers, seed=seed, dtype=dtype)
    model.compile(optimizer=ml.SGD(learning_rate=learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _rounded(values, digits: int = 4) -> list[float]:
    """Plain Python floats for printing (float32 values would print as 0.019999999552965164)."""
    return [round(float(v), digits) for v in np.ravel(values)]


def _accuracy(outputs, y) -> float:
    """The lecture's rule: an output counts as 1 only when it is > 0.5."""
    return float(np.mean((np.ravel(outputs) > 0.5).astype(int) == np.ravel(y)))


@lesson("logic-gates-xor", "Logic gates, XOR and the vanishing gradient", SEED,
        "AND and OR need one neuron; XOR needs a hidden layer (hand-set weights, then the lecture's 2-3-1 PyTorch "
        "network trained for 200,000 SGD steps); wide and deep XOR networks; and why deep sigmoid networks "
        "stop learning while ReLU networks do not.")
def logic_gates_xor(ctx):
    boundaries = {}  # title -> (model, x, y) for the decision-boundary figure

    # ---- 1. AND and OR: one neuron is enough ------------------------------------------------------
    ctx.print("# AND / OR with one neuron")
    for gate in ("and", "or"):
        x, y = logic_gate(gate)
        # Rosenblatt's perceptron: a step activation and the perceptron rule (no gradients).
        perceptron = ml.Perceptron(learning_rate=1.0, max_epochs=100).fit(x, y)
        # The same single neuron with a sigmoid, trained by gradient descent on the cross-entropy.
        neuron = ml.Sequential([ml.Dense(1, "sigmoid", input_dim=2)], seed=0)
        neuron.compile(optimizer=ml.SGD(learning_rate=1.0), loss="binary_crossentropy", metrics=["accuracy"])
        neuron.fit(x, y, epochs=1000, batch_size=None, verbose=0)
        outputs = neuron.predict(x).ravel()
        ctx.print(f"{gate.upper()}: perceptron weights [b, w1, w2] = {perceptron.weights_.tolist()} "
                  f"(converged after {perceptron.n_epochs_} epochs), accuracy {perceptron.score(x, y):.0%}; "
                  f"sigmoid neuron outputs {_rounded(outputs, 3)}, accuracy {_accuracy(outputs, y):.0%}")
        ctx.number(f"{gate}_perceptron_accuracy", float(perceptron.score(x, y)))
        ctx.number(f"{gate}_neuron_accuracy", _accuracy(outputs, y))
        boundaries[f"{gate.upper()}: one sigmoid neuron"] = (neuron, x, y)

    # ---- 2. XOR without a hidden layer: stuck at 0.5 ----------------------------------------------
    # The seed's program with the hidden layer removed: Out = sigmoid(x W + b), BCE, SGD.
    # Its loss is convex and, for XOR, minimal at W = 0, b = 0, where every output is exactly 0.5.
    # The seed runs lr 0.01 for 200,000 steps; lr 1.0 for 2,000 steps covers the same lr × steps and
    # lands on the same minimum.
    ctx.print("# XOR without a hidden layer")
    x, y = logic_gate("xor")
    x_train, y_train = x.astype(np.float32), y.reshape(-1, 1).astype(np.float32)
    flat = ml.Sequential([ml.Dense(1, "sigmoid", input_dim=2, kernel_initializer=_randn(),
                                   bias_initializer=_randn())], seed=0)
    flat.compile(optimizer=ml.SGD(learning_rate=1.0), loss="binary_crossentropy", metrics=["accuracy"])
    flat.fit(x_train, y_train, epochs=2000, batch_size=None, verbose=0)
    outputs = flat.predict(x_train).ravel()
    predictions = (outputs > 0.5).astype(int)
    ctx.print("output:", _rounded(outputs), "=> all are not > 0.5 =>", predictions.tolist())
    ctx.print("ACTUAL:", y.tolist(), f"({_accuracy(outputs, y):.0%} accuracy) => HIDDEN LAYER REQUIRED")
    ctx.number("xor_no_hidden_outputs", [float(v) for v in outputs])
    ctx.number("xor_no_hidden_accuracy", _accuracy(outputs, y))
    boundaries["XOR: no hidden layer"] = (flat, x, y)

    # ---- 3. XOR with hand-set weights: y1 = AND-like, y2 = NOR-like, ȳ = NOR(y1, y2) -------------
    ctx.print("# XOR with hand-set weights")
    by_hand = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")])
    by_hand.set_weights([
        np.array([[5.0, -7.0], [5.0, -7.0]]), np.array([-8.0, 3.0]),  # y1 = σ(5x1 + 5x2 − 8),
                                                                      # y2 = σ(−7x1 − 7x2 + 3)
        np.array([[-11.0], [-11.0]]), np.array([6.0]),  # ȳ = σ(−11·y1 − 11·y2 + 6): the red box W
    ])
    hidden, output = by_hand.layer_outputs(x)  # the hidden activations (y1, y2) and ȳ
    y_bar = output.ravel()
    ctx.print("x1 | x2 | y1 | y2 | ȳ | XOR")
    for (x1, x2), (y1, y2), out, target in zip(x.astype(int), hidden, y_bar, y):
        ctx.print(f" {x1} |  {x2} |  {round(y1):d} |  {round(y2):d} | {round(out):d} |  {target}")
    ctx.print("unrounded y1:", _rounded(hidden[:, 0]), " y2:", _rounded(hidden[:, 1]),
              " ȳ:", _rounded(y_bar))
    ctx.number("hand_set_hidden", np.round(hidden).astype(int).tolist())
    ctx.number("hand_set_outputs", [float(v) for v in y_bar])
    ctx.number("hand_set_accuracy", _accuracy(y_bar, y))

    # ---- 4. The seed's PyTorch program: 2-3-1 sigmoid network, BCE, SGD lr 0.01, 200,000 steps ----
    ctx.print("# The lecture's 2-3-1 network (nHL = 3)")
    learning_rate, steps = ctx.scale((0.01, 200_000), (0.1, 20_000))
    model = sigmoid_net((2, 3, 1), seed=0, learning_rate=learning_rate)  # W_h, b_h, W_o, b_o ~ torch.randn
    for step in range(steps):  # the seed's loop: prediction, cost, zero_grad, backward, step
        loss, _ = ml.train_step(model, x_train, y_train)
    model_test = model.predict(x_train)
    ctx.print(f"lr = {learning_rate}, {steps} full-batch steps, final cost {loss:.6f}")
    ctx.print(np.array2string(model_test, precision=6, suppress_small=True))
    ctx.print("=>", (model_test.ravel() > 0.5).astype(int).tolist(), "=> CORRECT" if _accuracy(model_test, y) == 1
              else "=> NOT SOLVED")
    ctx.number("xor_hidden_outputs", [float(v) for v in model_test.ravel()])
    ctx.number("xor_hidden_accuracy", _accuracy(model_test, y))
    ctx.number("xor_hidden_steps", steps)
    boundaries["XOR: 2-3-1 network"] = (model, x, y)

    # ---- 5. Further ANNs: a wide and a deep XOR network (the seed's TensorFlow pictures) -----------
    ctx.print("# Wide and deep XOR networks (sigmoid, torch.randn-style N(0, 1) init, plain SGD, full batch)")
    further_rate, further_steps = ctx.scale((0.1, 10_000), (0.5, 2_000))
    for name, sizes in (("wide", (2, 10, 1)), ("deep", (2, 10, 10, 10, 1))):
        net = sigmoid_net(sizes, seed=0, learning_rate=further_rate)
        for step in range(further_steps):
            loss, _ = ml.train_step(net, x_train, y_train)
        outputs = net.predict(x_train).ravel()
        ctx.print(f"{name} {'-'.join(map(str, sizes))} (lr {further_rate}, {further_steps} steps): cost {loss:.5f}, "
                  f"outputs {_rounded(outputs)}, accuracy {_accuracy(outputs, y):.0%}")
        ctx.number(f"{name}_cost", float(loss))
        ctx.number(f"{name}_accuracy", _accuracy(outputs, y))

    # ---- 6. The vanishing gradient: 8 hidden layers, sigmoid vs ReLU --------------------------------
    ctx.print("# Vanishing gradient: 2-(8 hidden layers of 8)-1 on XOR, sigmoid vs ReLU")
    histories, ratios, epochs = {}, {}, ctx.scale(2000, 500)
    for activation in ("sigmoid", "relu"):
        # Same architecture, same (Keras-default Glorot) initialisation and seed: only the activation differs.
        layers = [ml.Dense(8, activation, input_dim=2)] + [ml.Dense(8, activation) for _ in range(7)]
        deep = ml.Sequential(layers + [ml.Dense(1, "sigmoid")], seed=0)
        deep.compile(optimizer=ml.SGD(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"])
        history = deep.fit(x_train, y_train, epochs=epochs, batch_size=None, shuffle=False, verbose=0)
        histories[activation] = history
        norms = list(history.gradient_norms[0].values())  # epoch 1: the gradient at initialisation
        ratio = norms[0] / norms[-1]
        accuracy = _accuracy(deep.predict(x_train), y)
        ctx.print(f"{activation:7s}: ‖dL/dW‖ first layer {norms[0]:.3e}, last layer {norms[-1]:.3e}, "
                  f"ratio {ratio:.3e}; after {epochs} epochs loss {history.history['loss'][-1]:.4f}, "
                  f"accuracy {accuracy:.0%}")
        ratios[activation] = ctx.number(f"{activation}_gradient_ratio", float(ratio))
        ctx.number(f"{activation}_deep_accuracy", accuracy)

    # ---- Figures ------------------------------------------------------------------------------------
    import matplotlib.pyplot as plt
    from mlplab.plotting import plot_decision_boundary, plot_gradient_norms

    fig, axes = plt.subplots(1, len(boundaries), figsize=(5 * len(boundaries), 4.5))
    for ax, (title, (net, xs, ys)) in zip(axes, boundaries.items()):
        plot_decision_boundary(net, xs, ys, ax=ax, title=title)
    fig.tight_layout()
    ctx.figure(fig, "decision_boundaries",
               "AND and OR: one line suffices. XOR without a hidden layer: every output is 0.5, so every point "
               "is called 0 (the sliver in the corner is float rounding: |W|, |b| ≈ 1e-7). XOR with the 2-3-1 "
               "network: two curves carve out the band of the 1s.")
    fig = plot_gradient_norms(histories, epoch=0)
    ctx.figure(fig, "gradient_norms",
               "‖dL/dW‖ per layer at the first epoch, 8 hidden layers: with sigmoid it shrinks by orders of "
               "magnitude towards the input; with ReLU it does not.")

    ctx.explain(
        "AND and OR are linearly separable, so a single neuron learns them: both the perceptron rule and a "
        "sigmoid neuron trained by gradient descent reach 100%. XOR is not: without a hidden layer the best "
        "a sigmoid neuron can do under the cross-entropy is W = 0, b = 0, which outputs exactly 0.5 for every "
        "input, is read as [0, 0, 0, 0] and scores 50%, as the lecture says. Two hidden units fix it: the "
        "hand-set weights make y1 an AND-like unit and y2 a NOR-like unit, and the output "
        "σ(−11·y1 − 11·y2 + 6) (the lecture's W = (−11, −11) with a bias of 6) is 1 only when both are 0, which "
        "reproduces the lecture's table.")
    ctx.explain(
        "The lecture's PyTorch program (2-3-1 sigmoid network, weights and biases from torch.randn, mean binary "
        "cross-entropy, SGD with lr 0.01 for 200,000 full-batch steps) is reproduced step for step with "
        "kernel_initializer = bias_initializer = RandomNormal(stddev=1.0), loss='binary_crossentropy' and "
        "ml.SGD(0.01), one ml.train_step per step (mlplab fuses the sigmoid with the cross-entropy, so the "
        "gradient is p − y, the same number autograd computes). The outputs differ from the lecture's "
        "[0.001413, 0.9953, 0.993166, 0.0079] only because the random initial weights differ (NumPy's "
        "generator, not PyTorch's); they round to the same [0, 1, 1, 0]. Not every initialisation gets "
        "there: with some draws one hidden unit saturates early and two of the outputs sit at 0.5, a local "
        "minimum. The quick run (test suite) uses lr 0.1 for 20,000 steps, the same lr × steps (likewise "
        "lr 0.5 for 2,000 steps instead of lr 0.1 for 10,000 for the wide and deep networks).")
    ctx.explain(
        "For the lecture's wide and deep TensorFlow networks we use 2-10-1 and 2-10-10-10-1 sigmoid networks "
        "(sizes like those of the well-known TensorFlow XOR lab), SGD lr 0.1: both solve XOR and the deeper "
        "one reaches a lower cost in the same number of steps. But depth alone is not the answer: with 8 "
        f"sigmoid hidden layers the gradient reaching the first layer is {ratios['sigmoid']:.1e} times the one "
        "at the output layer (each sigmoid multiplies it by σ' ≤ 0.25), the network never leaves loss ln 2 and "
        "stays at 50%. The same network with ReLU keeps the gradient at the same order through all layers (ratio "
        f"{ratios['relu']:.2g}) and learns XOR.")
