"""Seed 004: the raw-NumPy networks of "Understand how a Neural Network works", rebuilt with mlplab.

The lecture trains with `syn += layer.T.dot(delta)`, delta = (y − a)·a(1 − a): gradient descent with
step 1 on ½·Σ(a − y)². mlplab's MeanSquaredError(reduction="sum") has gradient 2(a − y), so
SGD(learning_rate=0.5) is the same update, number for number.
"""
from __future__ import annotations

import numpy as np

import mlplab as ml
from mlplab import datasets

from mlplab.lessons.base import lesson

SEED = "004_7758039311a0634e.txt"
# What the seed printed.
PRINTED_42 = [0.00966449, 0.00786506, 0.99358898, 0.99211957]
PRINTED_44_ERRORS = [0.49641003190272537, 0.008584525653247153, 0.005789459862507809, 0.004629176776769984,
                     0.003958765280273649, 0.003510122567861676]
PRINTED_44 = [0.00260572, 0.99672209, 0.99701711, 0.00386759]


def _seed_weights(*shapes):
    """The lecture's `np.random.seed(1); syn = 2*np.random.random(shape) - 1`, without touching the global RNG."""
    legacy = np.random.RandomState(1)
    return [2 * legacy.random_sample(shape) - 1 for shape in shapes]


def _numpy_reference(x, y, weights, steps, every=None):
    """The lecture's own loop (listings 4.2/4.4), run here as the reference: returns the last outputs and errors."""
    def nonlin(v, deriv=False):
        return v * (1 - v) if deriv else 1 / (1 + np.exp(-v))

    syns, errors = [w.copy() for w in weights], []
    for j in range(steps):
        layers = [x]
        for syn in syns:
            layers.append(nonlin(np.dot(layers[-1], syn)))
        error = y - layers[-1]
        if every and j % every == 0:
            errors.append(float(np.mean(np.abs(error))))
        for k in range(len(syns) - 1, -1, -1):
            delta = error * nonlin(layers[k + 1], deriv=True)
            error = delta.dot(syns[k].T)
            syns[k] += layers[k].T.dot(delta)
    return layers[-1], errors


def _seed_style_model(sizes, weights):
    """Sigmoid layers without biases (the lecture's bias is the constant third input), float64."""
    layers = [ml.Dense(units, "sigmoid", use_bias=False) for units in sizes[1:]]
    model = ml.Sequential(layers, dtype="float64")
    model.set_weights(weights)
    model.compile(optimizer=ml.SGD(learning_rate=0.5), loss=ml.MeanSquaredError(reduction="sum"))
    return model


def _train(ctx, model, x, y, steps, every=None):
    """The lecture's loop shape: forward, error, backward, update, printing the mean |error| every `every` steps."""
    errors = []
    for j in range(steps):
        _, output = ml.train_step(model, x, y)   # output is this step's forward pass, before the update
        if every and j % every == 0:
            errors.append(float(np.mean(np.abs(y - output))))
            ctx.print("Error:" + repr(errors[-1]))
    return output, errors


def _one_layer(ctx):
    x, y = datasets.tiny_sets("4.2")
    steps = ctx.scale(10_000, 10_000)
    model = _seed_style_model([3, 1], _seed_weights((3, 1)))
    output, _ = _train(ctx, model, x, y, steps)
    ctx.print("Output After Training:")
    ctx.print(np.array2string(output))
    reference, _ = _numpy_reference(x, y, _seed_weights((3, 1)), steps)
    ctx.number("4.2 outputs", [round(float(v), 8) for v in output.ravel()])
    ctx.number("4.2 max |mlplab - printed|", float(np.max(np.abs(output.ravel() - PRINTED_42))))
    ctx.number("4.2 max |mlplab - seed code here|", float(np.max(np.abs(output - reference))))


def _two_layers(ctx):
    x, y = datasets.tiny_sets("4.4")
    steps = 60_000
    model = _seed_style_model([3, 4, 1], _seed_weights((3, 4), (4, 1)))
    output, errors = _train(ctx, model, x, y, steps, every=10_000)
    ctx.print("Output after training")
    ctx.print(np.array2string(output))
    reference, reference_errors = _numpy_reference(x, y, _seed_weights((3, 4), (4, 1)), steps, every=10_000)
    ctx.number("4.4 errors", errors)
    ctx.number("4.4 outputs", [round(float(v), 8) for v in output.ravel()])
    ctx.number("4.4 max relative |error - printed|",
               float(np.max(np.abs(np.subtract(errors, PRINTED_44_ERRORS)) / PRINTED_44_ERRORS)))
    ctx.number("4.4 max |mlplab - seed code here|", float(np.max(np.abs(output - reference))))
    ctx.number("4.4 max |errors - seed code here|", float(np.max(np.abs(np.subtract(errors, reference_errors)))))
    listing_x, listing_y = datasets.tiny_sets("4.4-listing")
    listing_out, _ = _numpy_reference(listing_x, listing_y, _seed_weights((3, 4), (4, 1)), steps)
    ctx.number("4.4 with the listing's own data", [round(float(v), 4) for v in listing_out.ravel()])
    ctx.explain(
        "Listing 4.4 prints inputs [[1,1,1],[3,3,3],[2,2,2],[2,2,2]] with targets [1,1,0,1], but its printed "
        "output (≈ [0, 1, 1, 0]) cannot come from them: rows 3 and 4 are the same input with different "
        f"targets, and the listing's code on that data ends near {np.round(listing_out.ravel(), 2).tolist()}. "
        "The output comes from the XOR targets [0,1,1,0] on the inputs of listing 4.2 "
        "(datasets.tiny_sets('4.4')), so that is what this lesson trains on. With np.random.seed(1)'s weights "
        "and the same update, mlplab prints the lecture's errors and outputs; the last digit or two of the "
        "17-digit errors differ because floating-point sums depend on the machine's BLAS — the lecture's own code "
        "run on this machine shows the same last-digit differences.")
    return errors


def _relu_forward(ctx, a=2, b=3):
    """Listing 4.3: hand-set weights, no training: inputs 2 and 3 give 32."""
    model = ml.Sequential([ml.Dense(2, "relu", use_bias=False, input_dim=2), ml.Dense(1, use_bias=False)])
    # node_0 weights [2, 4] and node_1 weights [4, -5] are the columns of W1; output weights [2, 7].
    model.set_weights([np.array([[2, 4], [4, -5]]), np.array([[2], [7]])])
    hidden_outputs, outputs = model.layer_outputs(np.array([[a, b]]))
    hidden, output = hidden_outputs[0], float(outputs[0, 0])
    ctx.print(f"a = {a}, b = {b}: hidden relu outputs {hidden.tolist()} -> model output {output:g}")
    ctx.number("4.3 relu output", output)


def _digits(ctx):
    """Listing 4.5: 5×4 bitmaps of 0–3, targets y/3, a 20-20-1 sigmoid net, 100 full-batch updates."""
    x, labels = datasets.digit_bitmaps()
    y = labels.reshape(-1, 1) / 3.0                       # scale units, as the seed does
    query = datasets.digit_query_bitmap().reshape(1, -1)
    model = ml.Sequential([ml.Dense(20, "sigmoid", use_bias=False, kernel_initializer=ml.RandomNormal(stddev=1.0)),
                           ml.Dense(1, "sigmoid", use_bias=False, kernel_initializer=ml.RandomNormal(stddev=1.0))],
                          seed=ctx.seed, dtype="float64")   # the seed's np.random.randn weights, seeded here
    model.compile(optimizer=ml.SGD(learning_rate=0.5), loss=ml.MeanSquaredError(reduction="sum"))
    losses = []
    for i in range(100):
        output = model.predict(x)
        losses.append(float(np.mean(np.square(y - output))))
        if i in (0, 99):
            ctx.print(f"#{i}\nPredicted Output: \n{np.array2string(output * 3)}\nLoss: \n{losses[-1]}")
        ml.train_step(model, x, y)
    prediction = float(model.predict(query)[0, 0] * 3)
    ctx.print("Predicted data based on trained weights: ")
    ctx.print(f"Actual Output: \n{prediction}\nRounded Output: \n{round(prediction)}")
    ctx.number("4.5 first loss", losses[0])
    ctx.number("4.5 final loss", losses[-1])
    ctx.number("4.5 query prediction", prediction)
    ctx.number("4.5 query rounded", round(prediction))
    ctx.explain("The 'predict' bitmap of listing 4.5 is pixel for pixel the 'two', so a network that fits its "
                "four training images predicts ≈ 2 for it. The lecture's weights come from an unseeded "
                "np.random.randn; here they come from the model's seeded generator, so the printed losses "
                "differ from run to run in the lecture but not in mlplab.")
    return x, labels, model, losses


def _figures(ctx, errors, digits):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(len(errors)) * 10_000, errors, "o-")
    ax.set_xlabel("update")
    ax.set_ylabel("mean |y − ŷ|")
    ax.set_title("Listing 4.4: 3-4-1 sigmoid network on XOR")
    ax.grid(alpha=0.3)
    ctx.figure(fig, "errors_4_4", "Mean absolute error every 10,000 updates (log scale).")

    x, labels, model, losses = digits
    predictions = model.predict(x).ravel() * 3
    fig, axes = plt.subplots(1, 5, figsize=(10, 3))
    images = list(x) + [datasets.digit_query_bitmap()]
    titles = [f"{l}: ŷ·3 = {p:.2f}" for l, p in zip(labels, predictions)]
    titles.append(f"query: {float(model.predict(images[-1][None])[0, 0] * 3):.2f}")
    for ax, image, title in zip(axes, images, titles):
        ax.imshow(np.asarray(image).reshape(5, 4), cmap="gray_r")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    ctx.figure(fig, "digits", "Listing 4.5: the 5×4 bitmaps, the network's outputs ×3, and the query bitmap.")


@lesson("numpy-networks", "NumPy networks — 3-1, 3-4-1, a ReLU forward pass and 5×4 digits", SEED,
        "The lecture's raw-NumPy programs rebuilt from mlplab layers: same initial weights (np.random.seed(1)), "
        "same update rule, same printed numbers.")
def numpy_networks(ctx):
    ctx.print("-- 4.2: one layer of weights (3 inputs -> 1 sigmoid output), 10,000 updates")
    _one_layer(ctx)
    ctx.print("-- 4.4: two layers of weights (3 -> 4 -> 1), 60,000 updates")
    errors = _two_layers(ctx)
    ctx.print("-- 4.3: a hand-weighted ReLU network")
    _relu_forward(ctx)
    ctx.print("-- 4.5: predicting 0..3 from 5x4 bitmaps")
    digits = _digits(ctx)
    ctx.explain("Every update here is mlplab's: Dense(..., 'sigmoid', use_bias=False) layers, "
                "MeanSquaredError(reduction='sum') and SGD(learning_rate=0.5) — half the gradient of Σ(ŷ − y)² "
                "is exactly the lecture's delta rule, so no special code path reproduces the numbers.")
    _figures(ctx, errors, digits)
