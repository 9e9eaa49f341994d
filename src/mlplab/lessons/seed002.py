"""Seed 002 ("MLP (Multi-Layer-Perceptrons)"): the NumPy `Perceptron_2layers` (zero initialisation,
per-sample SGD, sigmoid units, lr 1), rebuilt with mlplab and checked weight for weight against the
lecture's own class; what zero initialisation does to the hidden units; and loop vs vectorized timing.
"""
from __future__ import annotations

import contextlib
import timeit

import numpy as np

import mlplab as ml
from mlplab.datasets import classification

from mlplab.lessons.base import lesson

SEED = "002_2c5e88f052dc5e94.txt"


# ---- The seed's code, copied (only the layout is compacted) ------------------------------------------
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(x):  # not shown in the seed; the usual σ'(z) = σ(z)(1 − σ(z))
    return sigmoid(x) * (1 - sigmoid(x))


class Perceptron_2layers():  # noqa: N801 - the seed's name
    def __init__(self, num_features, node):
        self.num_features = num_features
        self.node = node
        self.weights1 = np.zeros((self.num_features, self.node), dtype=float)
        self.weights2 = np.zeros((self.node, 1), dtype=float)
        self.bias1 = np.zeros((1, self.node), dtype=float)
        self.bias2 = np.zeros((1, 1), dtype=float)

    def forward(self, x):
        z1 = np.dot(x, self.weights1) + self.bias1
        a1 = sigmoid(z1)
        z2 = np.dot(a1, self.weights2) + self.bias2
        a2 = sigmoid(z2)
        predictions = np.where(a2 > 0.5, 1, 0)
        return z1, a1, z2, a2, predictions

    def backward(self, x, y):
        z1, a1, z2, a2, predictions = self.forward(x)
        error_output = a2 - y
        delta_output = error_output * sigmoid_derivative(z2)
        error_hidden = np.dot(delta_output, self.weights2.T) * sigmoid_derivative(z1)
        return delta_output, error_hidden, a1

    def train(self, x, y, epochs, lr=1.):
        for e in range(epochs):
            for i in range(y.shape[0]):  # batch_size = 1
                xi = x[i].reshape(1, self.num_features)
                yi = y[i].reshape(1, 1)
                delta_output, error_hidden, a1 = self.backward(xi, yi)
                self.weights2 -= lr * np.dot(a1.T, delta_output)
                self.bias2 -= lr * delta_output
                self.weights1 -= lr * np.dot(xi.T, error_hidden)
                self.bias1 -= lr * error_hidden

    def evaluate(self, x, y):
        _, _, _, _, predictions = self.forward(x)
        predictions = predictions.reshape(-1)
        accuracy = np.sum(predictions == y) / y.shape[0]
        return accuracy
# -------------------------------------------------------------------------------------------------------


def _hidden_spread(model) -> float:
    """How different the hidden units are: the largest (max − min) across units of any incoming weight,
    of the hidden bias, or of the outgoing weight. 0 means every hidden unit is the same unit."""
    w1, b1, w2, _ = model.get_weights()
    return float(max(np.ptp(w1, axis=1).max(), np.ptp(b1), np.ptp(w2[:, 0])))


def two_layer_model(node, kernel_initializer, seed=0):
    """Perceptron_2layers with mlplab: sigmoid hidden and output units, per-sample SGD on Σ(ŷ − y)².

    The lecture's update w -= lr · a.T @ ((a2 − y)·σ'(z2)) with lr 1 is plain gradient descent on ½(ŷ − y)²;
    d/dŷ Σ(ŷ − y)² = 2(ŷ − y), so MeanSquaredError(reduction="sum") with SGD lr 0.5 is the same step.
    """
    model = ml.Sequential([ml.Dense(node, "sigmoid", input_dim=2, kernel_initializer=kernel_initializer),
                           ml.Dense(1, "sigmoid", kernel_initializer=kernel_initializer)],
                          seed=seed, dtype="float64")
    model.compile(optimizer=ml.SGD(learning_rate=0.5), loss=ml.MeanSquaredError(reduction="sum"),
                  metrics=["accuracy"])
    return model


def _fit_tracking_spread(model, X_train, y_train, epochs):
    spreads = [_hidden_spread(model)]
    track = ml.LambdaCallback(on_epoch_end=lambda epoch, logs: spreads.append(_hidden_spread(model)))
    model.fit(X_train, y_train, epochs=epochs, batch_size=1, shuffle=False, verbose=0, callbacks=[track])
    return spreads


def _max_difference(model, reference) -> float:
    ours = model.get_weights()  # [W1 (2, node), b1 (node,), W2 (node, 1), b2 (1,)]
    theirs = [reference.weights1, reference.bias1.ravel(), reference.weights2, reference.bias2.ravel()]
    return float(max(np.max(np.abs(a - b)) for a, b in zip(ours, theirs)))


def _one_blas_thread():
    """np.dot on one BLAS thread, when threadpoolctl (a scikit-learn dependency) is there: one core of
    SIMD against one core of interpreter, and on a busy machine a multi-threaded dot can stall for a
    whole scheduler time slice waiting for its second thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _best_time(function, repeats: int) -> float:
    """Seconds per call, best of `repeats` runs (%timeit-style). A run repeats fast calls until it lasts
    at least 10 ms, so a single slow call (a busy machine, BLAS threads waking up) cannot decide the result."""
    timer = timeit.Timer(function)
    number = 1
    while (first := timer.timeit(number)) < 0.01:
        number *= 10
    return min([first, *timer.repeat(repeat=repeats - 1, number=number)]) / number


def _timing_table(ctx, list_size, repeats=3):
    """The lecture's Vectorization experiment: an inner product of two arrays of `list_size` floats."""
    rng = np.random.default_rng(0)  # the seed uses np.random.rand (global state); a Generator here
    a = rng.random(list_size)
    b = rng.random(list_size)

    def loop() -> float:
        c = 0
        for a_i, b_i in zip(a, b):
            c += a_i * b_i  # the seed writes b_i_, a typo
        return c

    def listcomp() -> float:  # as in the seed: a_i + b_i sums the arrays instead of multiplying
        return sum(a_i + b_i for a_i, b_i in zip(a, b))

    def listcomp_product() -> float:  # what was meant: the inner product
        return sum(a_i * b_i for a_i, b_i in zip(a, b))

    def vectorized() -> float:
        return np.dot(a, b)

    times, values = {}, {}
    with _one_blas_thread():
        for function in (loop, listcomp, listcomp_product, vectorized):
            values[function.__name__] = float(function())
            times[function.__name__] = _best_time(function, repeats) * 1000.0

    names = ["loop()", "listcomp()", "listcomp_product()", "vectorized()"]
    widths = [max(len(n), 9) for n in names]
    ctx.print(f"inner product of two arrays of {list_size:,} floats, time per call, best of {repeats} runs")
    ctx.print(" " * 10 + "  ".join(n.rjust(w) for n, w in zip(names, widths)))
    ctx.print("time(ms)  " + "  ".join(f"{times[n[:-2]]:.3g}".rjust(w) for n, w in zip(names, widths)))
    ctx.print("notes (ms)" + "  ".join(v.rjust(w) for v, w in zip(("515", "549", "-", "1.39"), widths)))
    speedup = times["loop"] / times["vectorized"]
    ctx.print(f"speed-up of np.dot over the loop: {speedup:.0f}x")
    ctx.print(f"values: loop {values['loop']:.6f}, np.dot {values['vectorized']:.6f}, listcomp product "
              f"{values['listcomp_product']:.6f}; the lecture's listcomp {values['listcomp']:.6f} "
              f"= sum(a) + sum(b) = {a.sum() + b.sum():.6f}")
    ctx.number("list_size", list_size)
    for name in ("loop", "listcomp", "listcomp_product", "vectorized"):
        ctx.number(f"{name}_ms", times[name])
        ctx.number(f"{name}_value", values[name])
    ctx.number("sum_a_plus_sum_b", float(a.sum() + b.sum()))
    ctx.number("vectorized_speedup", speedup)


@lesson("two-layer-perceptron", "A two-layer perceptron from zeros, and why vectorize", SEED,
        "The lecture's NumPy Perceptron_2layers (zero initialisation, per-sample SGD, lr 1) rebuilt with mlplab "
        "and matched weight for weight; zero initialisation keeps every hidden unit identical; and a loop, a "
        "list comprehension and np.dot timed on the same inner product.")
def two_layer_perceptron(ctx):
    # ---- Data: make_classification-like, shuffled and split exactly as in the seed ---------------------
    X, y = classification(n_samples=100, n_features=2, n_redundant=0, n_classes=2, seed=0)
    y = y.astype(int)
    shuffle_idx = np.arange(y.shape[0])
    shuffle_rng = np.random.RandomState(123)  # the seed's legacy generator, reproduced as it is
    shuffle_rng.shuffle(shuffle_idx)
    X, y = X[shuffle_idx], y[shuffle_idx]
    # The seed's quirk: X and y are already shuffled, and are indexed with shuffle_idx once more.
    X_train, X_test = X[shuffle_idx[:70]], X[shuffle_idx[70:]]
    y_train, y_test = y[shuffle_idx[:70]], y[shuffle_idx[70:]]
    # Normalising as in the seed: a mean per feature but one standard deviation over all features.
    mu, sigma = X_train.mean(axis=0), X_train.std()
    X_train = (X_train - mu) / sigma
    X_test = (X_test - mu) / sigma
    ctx.print(f"{len(X_train)} training and {len(X_test)} test points; mu = {np.round(mu, 4).tolist()}, "
              f"sigma = {sigma:.4f} (one number for both features)")

    node, epochs = 4, ctx.scale(100, 20)

    # ---- The seed's class, trained as in the seed ----------------------------------------------------
    reference = Perceptron_2layers(num_features=2, node=node)
    reference.train(X_train, y_train, epochs=epochs, lr=1.)

    # ---- The same network with mlplab: zeros, sigmoid, Σ(ŷ − y)², SGD 0.5, batch_size=1, no shuffling --
    zero_model = two_layer_model(node, "zeros")
    zero_spreads = _fit_tracking_spread(zero_model, X_train, y_train, epochs)
    difference = _max_difference(zero_model, reference)
    zero_train = zero_model.evaluate(X_train, y_train)["accuracy"]
    zero_test = zero_model.evaluate(X_test, y_test)["accuracy"]
    ctx.print(f"Perceptron_2layers(node={node}), {epochs} epochs: train accuracy "
              f"{reference.evaluate(X_train, y_train):.3f}, test accuracy {reference.evaluate(X_test, y_test):.3f}")
    ctx.print(f"mlplab, zero init:               train accuracy {zero_train:.3f}, test accuracy {zero_test:.3f}; "
              f"max |weight difference| to the lecture's class = {difference:.2e}")
    ctx.print("hidden weights W1 (one column per hidden unit):")
    ctx.print(np.array2string(zero_model.get_weights()[0], precision=5))
    ctx.print(f"max spread across hidden units during training: {max(zero_spreads):.1e}")

    # ---- The same, from random (Glorot) initial weights ------------------------------------------------
    random_model = two_layer_model(node, "glorot_uniform", seed=0)
    random_model.build((2,))
    start_weights = [w.copy() for w in random_model.get_weights()]
    random_spreads = _fit_tracking_spread(random_model, X_train, y_train, epochs)
    random_train = random_model.evaluate(X_train, y_train)["accuracy"]
    random_test = random_model.evaluate(X_test, y_test)["accuracy"]
    # The seed's class started from the same random weights must end at the same weights too.
    random_reference = Perceptron_2layers(num_features=2, node=node)
    random_reference.weights1, b1, random_reference.weights2, b2 = (w.copy() for w in start_weights)
    random_reference.bias1, random_reference.bias2 = b1.reshape(1, -1), b2.reshape(1, 1)
    random_reference.train(X_train, y_train, epochs=epochs, lr=1.)
    random_difference = _max_difference(random_model, random_reference)
    ctx.print(f"mlplab, random init:             train accuracy {random_train:.3f}, test accuracy "
              f"{random_test:.3f}; max |weight difference| to the lecture's class from the same start = "
              f"{random_difference:.2e}")
    ctx.print(np.array2string(random_model.get_weights()[0], precision=5))
    ctx.print(f"spread across hidden units after training: {random_spreads[-1]:.3f}")

    ctx.number("node", node)
    ctx.number("epochs", epochs)
    ctx.number("max_weight_difference", difference)
    ctx.number("max_weight_difference_random_init", random_difference)
    ctx.number("reference_test_accuracy", float(reference.evaluate(X_test, y_test)))
    ctx.number("zero_init_spread", float(max(zero_spreads)))
    ctx.number("random_init_spread", float(random_spreads[-1]))
    ctx.number("zero_init_train_accuracy", float(zero_train))
    ctx.number("zero_init_test_accuracy", float(zero_test))
    ctx.number("random_init_train_accuracy", float(random_train))
    ctx.number("random_init_test_accuracy", float(random_test))

    # ---- Vectorization ----------------------------------------------------------------------------------
    _timing_table(ctx, ctx.scale(10**6, 10**5))

    # ---- Figures ----------------------------------------------------------------------------------------
    import matplotlib.pyplot as plt
    from mlplab.plotting import plot_decision_boundary

    fig = plt.figure(figsize=(6, 5))
    plt.scatter(X_train[y_train == 0, 0], X_train[y_train == 0, 1], label='class 0', marker='o')
    plt.scatter(X_train[y_train == 1, 0], X_train[y_train == 1, 1], label='class 1', marker='s')
    plt.title('Training set')
    plt.xlabel('feature 1')
    plt.ylabel('feature 2')
    plt.xlim([-3, 3])
    plt.ylim([-3, 3])
    plt.legend()
    ctx.figure(fig, "training_set", "The normalised training set, plotted with the lecture's code.")

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    plot_decision_boundary(zero_model, X_train, y_train, ax=axes[0],
                           title=f"zero init: test accuracy {zero_test:.2f}")
    plot_decision_boundary(random_model, X_train, y_train, ax=axes[1],
                           title=f"random init: test accuracy {random_test:.2f}")
    ctx.figure(fig, "decision_boundaries",
               f"{node} hidden units from zero weights act as one unit (left); from random weights they differ "
               "(right). Training points shown.")

    ctx.explain(
        "The data are mlplab's make_classification-like generator (100 points, 2 informative features, 2 "
        "clusters per class), shuffled with np.random.RandomState(123) exactly as the lecture does. The lecture "
        "has a quirk, reproduced here: after `X, y = X[shuffle_idx], y[shuffle_idx]` it splits with "
        "`X[shuffle_idx[:70]]`, applying the same permutation a second time. The result is still a clean "
        "70/30 split (a permutation of a permutation), so nothing breaks, but it is not what was meant. The "
        "normalisation uses one global sigma = X_train.std() for both features, as in the lecture.")
    ctx.explain(
        "The lecture's update w -= lr · a.T @ ((a2 − y)·σ'(z2)) with lr 1 is gradient descent on ½(ŷ − y)² per "
        "sample. Since d/dŷ Σ(ŷ − y)² = 2(ŷ − y), mlplab's MeanSquaredError(reduction='sum') with SGD lr 0.5, "
        "batch_size=1 and shuffle=False takes exactly the same steps; in float64 the weights match the "
        "lecture's own class (copied into this lesson's module) to rounding error, both from zeros and from the "
        "same random start.")
    ctx.explain(
        "Zero initialisation is a trap: every hidden unit computes the same output and receives the same "
        "gradient (at the first step the hidden gradient is even exactly 0, because it is multiplied by the "
        "zero output weights), so the units stay identical for ever and the network behaves like one with a "
        "single hidden unit. Random initial weights break the symmetry and the units learn different "
        "features. With seed 0 the data generator happens to put each class's two clusters on opposite "
        "corners (an XOR-like layout: see the training set), so the effect is stark: the zero-initialised "
        f"network, one line in effect, scores {zero_train:.0%} on the training set and {zero_test:.0%} on the "
        f"test set, the randomly initialised one {random_train:.0%} and {random_test:.0%}.")
    ctx.explain(
        "Vectorization: the Python loop and the list comprehension spend their time in the interpreter, one "
        "float at a time; np.dot runs one SIMD-friendly compiled loop. The measured times depend on this "
        "machine but the ratio is of the lecture's order (np.dot is timed on one BLAS thread when threadpoolctl "
        "is installed, so it is one core against one core). The lecture's listcomp() sums a_i + b_i (a bug: + "
        "instead of ×), so it returns sum(a) + sum(b); listcomp_product() times the inner product it meant.")
