"""Seed 003 §4: regression in the form of a neural network, a curve as a sum of ReLU pieces.

- `relu-approximation`: the shapes a·h(w·x + b) can take, then Dense(k, relu) → Dense(1) fits the cubic
  f(x) = x³ + 0.1x² − x + 0.1 with k = 1, 2, 4 and 100 pieces.
"""
from __future__ import annotations

import time

import numpy as np

import mlplab as ml
from mlplab.datasets import cubic, cubic_function

from mlplab.lessons.base import lesson

SEED = "003_b3f3c4f7318a782e.txt"

# The seed's networks: hidden units and epochs (model, model_2, model_4, model_100).
RELU_RUNS = ((1, 500), (2, 3000), (4, 4000), (100, 1000))
QUICK_EPOCH_DIVISOR = 10  # quick mode (the test suite) trains each network for a tenth of the epochs


def relu(x):
    return np.maximum(0, x)


@lesson("relu-approximation", "A curve as a sum of ReLU pieces", SEED,
        "A hidden layer of k ReLU units followed by a linear output adds k hinge-shaped pieces "
        "w2·h(w1·x + b1); more pieces follow the cubic x³ + 0.1x² − x + 0.1 more closely.")
def relu_approximation(ctx):
    from mlplab.plotting import plot_relu_pieces, plot_relu_shapes

    # h(x) = max(0, x) and what scaling and shifting do to it.
    xs = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    ctx.print("x            ", xs)
    ctx.print("h(x - 0.5)   ", relu(xs - 0.5) + 0.0)  # + 0.0 turns -0.0 into 0.0 for printing
    ctx.print("h(-2x)       ", relu(-2 * xs) + 0.0)
    ctx.print("-h(-2x - 1)  ", -relu(-2 * xs - 1) + 0.0)
    ctx.figure(plot_relu_shapes(), "relu_shapes",
               "h(x), h(x − 0.5), h(−2x) and −h(−2x − 1): a weight tilts or flips the hinge, a bias moves "
               "its corner, the output weight scales or mirrors it.")

    # train_x = np.random.uniform(-1.5, 1.5, 1000); train_y = function(train_x)
    train_x, train_y = cubic(1000, seed=ctx.seed)
    real_x = np.linspace(-1.5, 1.5, 100).reshape(-1, 1)

    results, dead_units = {}, {}
    total_start = time.perf_counter()
    for units, epochs in RELU_RUNS:
        epochs = ctx.scale(epochs, epochs // QUICK_EPOCH_DIVISOR)
        # Dense(units, activation='relu') -> Dense(units=1, use_bias=False); compile(optimizer='adam', loss='mse')
        # 'adam' is Adam with Keras's default learning rate 0.001, and fit's default batch size is 32.
        model = ml.Sequential([ml.Dense(units, activation="relu"), ml.Dense(1, use_bias=False)], seed=ctx.seed)
        model.compile(optimizer=ml.Adam(learning_rate=0.001), loss="mse")
        start = time.perf_counter()
        model.fit(train_x, train_y, epochs=epochs, batch_size=32, verbose=0)
        seconds = time.perf_counter() - start

        weights, biases = model.layers[0].get_weights()
        (weights2,) = model.layers[1].get_weights()
        ctx.print(f"-- {units} neuron{'s' if units > 1 else ''} with ReLU, {epochs} epochs ({seconds:.1f} s)")
        if units <= 2:  # the seed prints the weights of the one- and two-neuron networks
            ctx.print("Coefficients (Weights):", weights)
            ctx.print("Intercepts (Biases):", biases)
            ctx.print("Coefficients (Weights):", weights2)
        mse = model.evaluate(train_x, train_y)["loss"]
        curve_mse = float(np.mean((model.predict(real_x) - cubic_function(real_x)) ** 2))
        # A dead unit outputs 0 for every training x (its corner -b/w lies outside the data, on the wrong
        # side), so it gets no gradient and stays dead.
        dead = int(np.sum(~(relu(train_x @ weights + biases) > 0).any(axis=0)))
        ctx.print(f"training MSE: {mse:.6f}   MSE on the curve: {curve_mse:.6f}   dead units: {dead}/{units}")
        ctx.number(f"mse_k{units}", mse)
        ctx.number(f"dead_units_k{units}", dead)
        ctx.number(f"epochs_k{units}", epochs)
        results[units], dead_units[units] = mse, dead

        ctx.figure(plot_relu_pieces(model, x_range=(-2, 2), target=cubic_function, ylim=(-1.7, 2.2)),
                   f"relu_pieces_{units}",
                   f"{units} ReLU unit{'s' if units > 1 else ''}: each piece w2·h(w1·x + b1) and their sum (cyan) "
                   f"against the cubic (dashed), after {epochs} epochs; training MSE {mse:.2g}.")
    seconds = ctx.number("seconds", time.perf_counter() - total_start)
    # The error of a network whose every unit is dead: it predicts 0 everywhere.
    zero_mse = ctx.number("mse_predicting_zero", float(np.mean(train_y ** 2)))

    dead_text = ", ".join(f"{dead_units[k]} of the {k}-unit network's" for k in results if dead_units[k])
    ctx.explain(
        "A ReLU unit followed by an output weight is a hinge: zero on one side of its corner x = −b1/w1, "
        "a straight line of slope w2·w1 on the other. A Dense(k, 'relu') → Dense(1) network adds k of them, so "
        "its output is piecewise linear with at most k corners: more units, more corners, a closer fit. The "
        f"training MSE falls from {results[1]:.3f} (one unit) to {results[2]:.3f} (two) and {results[4]:.4f} "
        f"(four, enough to follow the cubic's two bends); a hundred units trace the curve ({results[100]:.2g}). "
        "This is the universal-approximation picture in one dimension. With so few units the result depends "
        "on the random start: a unit whose corner drifts outside [−1.5, 1.5], facing away from the data, "
        "outputs 0 for every training point, gets no gradient and stays dead"
        + (f" (here: {dead_text} units"
           + (f"; the one-unit network predicts 0 everywhere, its MSE is the mean of y², {zero_mse:.3f}"
              if dead_units[1] else "") + ")" if dead_text else "")
        + ". Training follows the lecture: Adam with Keras's default learning rate 0.001, MSE, mini-batches of 32 "
        + ("and the lecture's epochs (500, 3000, 4000, 1000)" if not ctx.quick else
           "and a tenth of the lecture's epochs (quick mode)")
        + f"; the four networks took {seconds:.0f} s here. The weights differ from the notebook's, which "
        "came from TensorFlow's random initialisation and other random data.")
