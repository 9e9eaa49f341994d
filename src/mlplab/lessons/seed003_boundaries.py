"""Seed 003 §3: classification in the form of a neural network.

- `logistic-regression`: one sigmoid neuron learns the line 0.8·x1 + x2 − 3 = 0;
- `hidden-space`: two sigmoid hidden units bend a parabola-shaped problem into a linearly separable one.
"""
from __future__ import annotations

import numpy as np

import mlplab as ml
from mlplab.datasets import linear_boundary, quadratic_boundary

from mlplab.lessons.base import lesson

SEED = "003_b3f3c4f7318a782e.txt"


def print_epochs(ctx, history) -> None:
    """Print one line per epoch, like Keras's `fit(..., verbose=1)` does in the lecture notebook."""
    logs = history.history
    epochs = len(logs["loss"])
    for epoch in range(epochs):
        values = " - ".join(f"{key}: {logs[key][epoch]:.4f}" for key in logs)
        ctx.print(f"Epoch {epoch + 1}/{epochs} - {values}")


def scatter_classes(ax, x, y):
    """The lecture's picture of the data: class 1 red circles ('ro'), class 0 blue ('bo')."""
    ax.plot(x[y == 1, 0], x[y == 1, 1], "ro", alpha=0.4, label="C1")
    ax.plot(x[y == 0, 0], x[y == 0, 1], "bo", alpha=0.4, label="C0")
    ax.set_xlabel("$x_1$", fontsize=15)
    ax.set_ylabel("$x_2$", fontsize=15)


@lesson("logistic-regression", "Logistic regression as a one-neuron network", SEED,
        "A single sigmoid neuron y = σ(b + w1·x1 + w2·x2), trained with binary cross-entropy, finds the "
        "line that separates two classes; its weights give the line x2 = −w1/w2·x1 − b/w2.")
def logistic_regression(ctx):
    import matplotlib.pyplot as plt

    # training data generation: x1 ~ U[0, 8), x2 ~ U[-4, 3), class 1 where 0.8*x1 + x2 - 3 >= 0
    train_x, train_y = linear_boundary(1000, seed=ctx.seed)

    # tf.keras.models.Sequential([Dense(input_dim=2, units=1, activation='sigmoid')])
    LogisticRegression = ml.Sequential([ml.Dense(1, activation="sigmoid", input_dim=2)], seed=ctx.seed)
    LogisticRegression.compile(optimizer=ml.Adam(learning_rate=0.1), loss="binary_crossentropy",
                               metrics=["accuracy"])
    # Keras's fit trains in mini-batches of 32 unless told otherwise: batch_size=32 reproduces it.
    loss = LogisticRegression.fit(train_x, train_y, epochs=10, batch_size=32, verbose=0)
    print_epochs(ctx, loss)

    w, b = LogisticRegression.layers[0].get_weights()  # w: (2, 1), b: (1,)
    ctx.print(w)
    ctx.print(b)

    # The neuron says "C1" where w1*x1 + w2*x2 + b > 0: the boundary is x2 = -w1/w2*x1 - b/w2.
    slope = float(-w[0, 0] / w[1, 0])
    intercept = float(-b[0] / w[1, 0])
    accuracy = LogisticRegression.evaluate(train_x, train_y)["accuracy"]
    ctx.print(f"learned line: x2 = {slope:.3f}*x1 + {intercept:.3f}   (true line: x2 = -0.8*x1 + 3)")
    ctx.print(f"training accuracy: {accuracy:.4f}")
    ctx.number("train_accuracy", accuracy)
    ctx.number("slope", slope)
    ctx.number("intercept", intercept)
    ctx.number("true_slope", -0.8)
    ctx.number("true_intercept", 3.0)

    fig, (ax_data, ax_line) = plt.subplots(1, 2, figsize=(12, 4))
    scatter_classes(ax_data, train_x, train_y)
    ax_data.legend(loc=1, fontsize=15)
    ax_data.set_title("training data")
    x1p = np.arange(0, 8, 0.01).reshape(-1, 1)
    x2p = -w[0, 0] / w[1, 0] * x1p - b[0] / w[1, 0]
    scatter_classes(ax_line, train_x, train_y)
    ax_line.plot(x1p, x2p, "g", linewidth=3, label="learned line")
    ax_line.plot(x1p, -0.8 * x1p + 3, "k--", linewidth=1.5, label="true line")
    ax_line.set_xlim([0, 8])
    ax_line.set_ylim([-4, 3])
    ax_line.legend(loc=1, fontsize=12)
    ax_line.set_title("the neuron's decision line")
    ctx.figure(fig, "decision_line", "Left: the two classes. Right: the line w1·x1 + w2·x2 + b = 0 of the trained "
                                     "neuron (green) against the true boundary 0.8·x1 + x2 − 3 = 0 (dashed).")

    ctx.explain(
        f"One sigmoid neuron is logistic regression: it predicts C1 where b + w1·x1 + w2·x2 > 0, so its "
        f"decision boundary is a straight line read off the weights. After 10 epochs of Adam (learning rate "
        f"0.1, mini-batches of 32 as Keras's fit uses by default) it classifies {accuracy:.1%} of the training "
        f"points correctly and its line x2 = {slope:.2f}·x1 + {intercept:.2f} lies close to the true "
        f"x2 = −0.8·x1 + 3. Close, not exact: the line is estimated from 1000 random points in 10 epochs; the "
        f"exact numbers differ from the notebook's because the data and the initial weights come from other "
        f"random generators.")


@lesson("hidden-space", "What a hidden layer does: a 2-2-1 network on a parabola", SEED,
        "Two sigmoid hidden units map the inputs to (z1, z2) where the two classes of a parabola-shaped "
        "problem become linearly separable; the output neuron draws one line in that hidden space.")
def hidden_space(ctx):
    import matplotlib.pyplot as plt

    from mlplab.plotting import plot_hidden_space

    # training data generation: x1 ~ U[-5, 5), x2 ~ U[-4, 4), class 1 where -0.5*(x1-1)**2 + 2*x2 + 5 >= 0
    train_x, train_y = quadratic_boundary(1000, seed=ctx.seed)

    fig, ax = plt.subplots(figsize=(6, 4))
    scatter_classes(ax, train_x, train_y)
    x1 = np.linspace(-5, 5, 200)
    ax.plot(x1, (0.5 * (x1 - 1) ** 2 - 5) / 2, "k--", linewidth=1.5, label="true boundary")
    ax.legend(loc=1, fontsize=12)
    ax.set_xlim([-5, 5])
    ax.set_ylim([-4, 4])
    ctx.figure(fig, "data", "The training data: class C1 above the parabola 2·x2 = 0.5·(x1 − 1)² − 5.")

    # Dense(input_dim=2, units=2, activation='sigmoid') -> Dense(units=1, activation='sigmoid')
    model = ml.Sequential([ml.Dense(2, activation="sigmoid", input_dim=2),
                           ml.Dense(1, activation="sigmoid")], seed=ctx.seed)
    model.compile(optimizer=ml.Adam(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"])
    loss = model.fit(train_x, train_y, epochs=10, batch_size=32, verbose=0)
    print_epochs(ctx, loss)

    w1, b1 = model.layers[0].get_weights()  # (2, 2), (2,)
    w2, b2 = model.layers[1].get_weights()  # (2, 1), (1,)
    ctx.print("hidden layer: w1 =", w1.tolist(), " b1 =", b1.tolist())
    ctx.print("output layer: w2 =", w2.tolist(), " b2 =", b2.tolist())

    # The hidden space, computed from the weights as the seed does: H = sigmoid(X w1 + b1).
    H = 1 / (1 + np.exp(-(train_x @ w1 + b1)))
    # The output neuron is one line in that space: class 1 where w2·z + b2 > 0 (σ > 0.5).
    hidden_line_prediction = (H @ w2[:, 0] + b2[0] > 0).astype(int)
    hidden_line_accuracy = float(np.mean(hidden_line_prediction == train_y))
    accuracy = model.evaluate(train_x, train_y)["accuracy"]

    # For contrast: the best a single neuron (one line in input space) does on the same data and budget.
    single = ml.Sequential([ml.Dense(1, activation="sigmoid", input_dim=2)], seed=ctx.seed)
    single.compile(optimizer=ml.Adam(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"])
    single.fit(train_x, train_y, epochs=10, batch_size=32, verbose=0)
    single_accuracy = single.evaluate(train_x, train_y)["accuracy"]

    ctx.print(f"training accuracy of the 2-2-1 network: {accuracy:.4f}")
    ctx.print(f"accuracy of the output line in hidden space: {hidden_line_accuracy:.4f}")
    ctx.print(f"accuracy of a single neuron (one line in input space): {single_accuracy:.4f}")
    ctx.number("train_accuracy", accuracy)
    ctx.number("hidden_line_accuracy", hidden_line_accuracy)
    ctx.number("single_neuron_accuracy", single_accuracy)

    fig = plot_hidden_space(model, train_x, train_y, layer=0)
    ctx.figure(fig, "hidden_space", "Left: each point at its hidden activations (z1, z2) with the output neuron's "
                                    "line. Right: the lines where each hidden unit's input is zero, in input space.")

    ctx.explain(
        f"No single line separates points above a parabola from those below it: one sigmoid neuron reaches "
        f"only {single_accuracy:.1%} here. Two sigmoid hidden units each draw a line in the input plane (right "
        f"figure) and squash the distance to it into z1, z2 in (0, 1). In that hidden space (left figure) the "
        f"classes sit on either side of one straight line, the output neuron's w2·z + b2 = 0: classifying by "
        f"that line gives {hidden_line_accuracy:.1%}, "
        f"{'exactly' if hidden_line_accuracy == accuracy else 'up to float rounding'} the network's "
        f"{accuracy:.1%}, because the "
        f"output neuron is logistic regression on (z1, z2). The hidden layer learned features that make the "
        f"problem (nearly) linearly separable. Two lines can only approximate the curved boundary, so a few "
        f"points close to it stay misclassified; which two lines are found depends on the random initialisation, "
        f"so the pictures differ in detail from the notebook's.")
