"""Seed 003 §8: a deep sigmoid network overfits 10 points; how to add BatchNormalization and Dropout."""
from __future__ import annotations

import numpy as np

import mlplab as ml
from mlplab.datasets import overfitting_points

from mlplab.lessons.base import lesson

SEED = "003_b3f3c4f7318a782e.txt"
HIDDEN_UNITS = (30, 100, 100, 30)


def base_model(seed):
    """Dense(30) → Dense(100) → Dense(100) → Dense(30), all sigmoid, then a linear Dense(1)."""
    layers = [ml.Dense(HIDDEN_UNITS[0], activation="sigmoid", input_dim=1)]
    layers += [ml.Dense(units, activation="sigmoid") for units in HIDDEN_UNITS[1:]]
    return ml.Sequential(layers + [ml.Dense(1, activation=None)], seed=seed)


def bn_model(seed):
    """Each hidden layer becomes Dense (no activation) → BatchNormalization → Activation('sigmoid')."""
    layers = []
    for i, units in enumerate(HIDDEN_UNITS):
        layers += [ml.Dense(units, activation=None, input_dim=1 if i == 0 else None),
                   ml.BatchNormalization(),
                   ml.Activation("sigmoid")]
    return ml.Sequential(layers + [ml.Dense(1, activation=None)], seed=seed)


def dropout_model(seed):
    """The base network with Dropout(rate=0.2) after every hidden layer."""
    layers = []
    for i, units in enumerate(HIDDEN_UNITS):
        layers += [ml.Dense(units, activation="sigmoid", input_dim=1 if i == 0 else None),
                   ml.Dropout(rate=0.2)]
    return ml.Sequential(layers + [ml.Dense(1, activation=None)], seed=seed)


def total_variation(curve) -> float:
    """Σ |y[i+1] − y[i]| along a curve: how far it travels up and down (a straight line: |end − start|)."""
    return float(np.abs(np.diff(np.ravel(curve))).sum())


def turning_points(curve, tolerance: float = 1e-3) -> int:
    """How often the curve changes direction (local maxima and minima), ignoring steps below `tolerance`."""
    steps = np.diff(np.ravel(curve))
    signs = np.sign(steps[np.abs(steps) > tolerance])
    return int(np.sum(signs[1:] != signs[:-1]))


@lesson("overfitting-regularization", "Overfitting 10 points; BatchNormalization and Dropout", SEED,
        "A 1-30-100-100-30-1 sigmoid network trained for 5000 epochs threads a wiggly curve through 10 noisy "
        "points; the same network with BatchNormalization shows how to add it, and with Dropout(0.2) "
        "it stays smooth.")
def overfitting_regularization(ctx):
    from mlplab.plotting import plot_regression_fit

    data_x, data_y = overfitting_points()  # x = linspace(-4.5, 4.5, 10), the seed's y values
    xp = np.linspace(-4.5, 4.5, 100).reshape(-1, 1)
    data_tv = ctx.number("data_total_variation", total_variation(data_y))
    ctx.print(f"the 10 points: total variation {data_tv:.3f} (any curve through all of them travels at least this far)")

    # The seed's three networks and epochs; fit's default batch size 32 > 10 points, so one batch per epoch.
    # Quick mode (the test suite) shortens the two long runs: 3000 epochs are enough for the base network
    # to pass through the points.
    runs = (("base", "base model", base_model, ctx.scale(5000, 3000)),
            ("bn", "batch normalization", bn_model, ctx.scale(4000, 1000)),
            ("dropout", "dropout", dropout_model, 200))
    curves, mses, train_mode = {}, {}, {}
    for key, label, build, epochs in runs:
        model = build(ctx.seed)
        model.compile(optimizer=ml.Adam(0.001), loss="mse", metrics=["mse"])
        training = model.fit(data_x, data_y, epochs=epochs, batch_size=32, verbose=0)
        my_pred = model.predict(xp)  # inference mode: BN uses its moving averages, Dropout keeps every unit
        mse = model.evaluate(data_x, data_y)["mse"]
        curves[key], mses[key], train_mode[key] = my_pred, mse, training.history["loss"][-1]
        tv, turns = total_variation(my_pred), turning_points(my_pred)
        ctx.print(f"{label}: {epochs} epochs, last training-mode loss {training.history['loss'][-1]:.4g}, "
                  f"training MSE {mse:.4g}, total variation {tv:.3f}, turning points {turns}")
        ctx.number(f"mse_{key}", mse)
        ctx.number(f"train_mode_loss_{key}", training.history["loss"][-1])
        ctx.number(f"total_variation_{key}", tv)
        ctx.number(f"turning_points_{key}", turns)
        ctx.number(f"epochs_{key}", epochs)
        ctx.figure(plot_regression_fit(model, data_x, data_y, x_grid=xp, label=label,
                                       title=f"{label}: {epochs} epochs, MSE {mse:.3g}"),
                   f"fit_{key}", f"The {label} network's prediction over [−4.5, 4.5] (red) and the 10 points.")

    ctx.explain(
        f"Ten points, about 13,000 weights: trained for {runs[0][3]} epochs the sigmoid network drives its "
        f"training MSE to {mses['base']:.2g} and its curve chases the points, turning "
        f"{turning_points(curves['base'])} times (total variation {total_variation(curves['base']):.1f}; a curve "
        f"through all ten points must travel at least {data_tv:.1f}). That is overfitting: it fits the noise, "
        f"not the downward trend. The BatchNormalization version (Dense → BatchNormalization → "
        f"Activation('sigmoid') in every hidden layer, {runs[1][3]} epochs) is, as the notebook says, about how "
        f"to implement batch normalization, not a claim that it helps here. It shows one thing to know: in "
        f"training each layer is normalised with the batch's own mean and variance (last training loss "
        f"{train_mode['bn']:.2g}), while predict uses the moving averages of those statistics (MSE "
        f"{mses['bn']:.2g} on the same points); with weights still moving, the averages lag behind and the two "
        f"disagree. The Dropout(0.2) version, trained for only {runs[2][3]} epochs with a fifth of the hidden "
        f"units switched off at random in each step, does not memorise the points: its curve is smooth (total "
        f"variation {total_variation(curves['dropout']):.1f}, {turning_points(curves['dropout'])} turning "
        f"points) and its training MSE is higher ({mses['dropout']:.2g}). Dropout is only active in training; "
        f"predict uses every unit (inverted dropout already scaled the kept ones by 1/0.8 during training). "
        f"Keras's default batch size 32 exceeds the 10 points, so every epoch is one step on all of them. "
        + ("The epochs are the lecture's. " if not ctx.quick else "Quick mode shortens the two long runs. ")
        + "The curves differ in detail from the notebook's because of the random initialisation.")
