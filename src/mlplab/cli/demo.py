"""`mlplab train` without a file: the offline demo on a built-in 2-D dataset (what `make demo` runs)."""
from __future__ import annotations


def run_demo(args, dataset: str) -> int:
    import mlplab as ml
    from mlplab import datasets
    from mlplab.preprocessing import Standardizer, train_test_split

    makers = {"moons": datasets.moons, "circles": datasets.circles, "spirals": datasets.spirals,
              "blobs": datasets.blobs}
    x, y = makers[dataset](n_samples=args.samples, seed=args.seed)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=args.seed, stratify=y)
    scaler = Standardizer().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    n_classes = int(y.max()) + 1
    layers = [ml.Dense(units, activation=args.activation) for units in args.hidden]
    layers.append(ml.Dense(n_classes, activation="softmax"))
    model = ml.Sequential(layers, seed=args.seed)
    model.compile(optimizer=ml.OPTIMIZERS.create(args.optimizer, learning_rate=args.learning_rate),
                  loss=args.loss or "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build(x_train.shape[1:])
    before = model.evaluate(x_test, y_test)
    model.summary()
    print(f"\nTraining on {dataset}: {len(x_train)} samples, {n_classes} classes, {args.epochs} epochs")
    every = max(1, args.epochs // 10)

    def report(epoch, logs):
        if args.verbose and ((epoch + 1) % every == 0 or epoch == 0):
            print(f"epoch {epoch + 1:4d}/{args.epochs}  " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()))

    callbacks = [ml.LambdaCallback(on_epoch_end=report)]
    if args.history:
        callbacks.append(ml.CSVLogger(args.history))
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.validation_split, verbose=0, callbacks=callbacks)
    after = model.evaluate(x_test, y_test)
    print(f"\nTest accuracy: {before['accuracy']:.1%} before training -> {after['accuracy']:.1%} after "
          f"(chance: {1 / n_classes:.1%}); test loss {before['loss']:.3f} -> {after['loss']:.3f}")
    print(_ascii_map(model, x_train, y_train))
    if args.plot:
        from mlplab.cli.common import plot_history_to

        plot_history_to(history, "accuracy", args.plot)
    if args.out:
        from mlplab.files.model_files import save_model

        save_model(model, args.out, preprocessing={
            "feature_names": ["x0", "x1"], "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "class_labels": list(range(n_classes)), "target": "y", "task": "classification"})
        print(f"Saved {args.out}.")
    return 0 if after["accuracy"] > 1 / n_classes else 1


def _ascii_map(model, x, y, width=60, height=20) -> str:
    """The learned decision regions as characters, with the training points in capitals."""
    import numpy as np

    lo, hi = x.min(axis=0) - 0.2, x.max(axis=0) + 0.2
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], width), np.linspace(hi[1], lo[1], height))
    regions = model.predict(np.c_[gx.ravel(), gy.ravel()]).argmax(axis=1).reshape(height, width)
    letters = "abcdefghij"
    grid = [[letters[c] if c < 10 else "?" for c in row] for row in regions]
    cols = np.clip(((x[:, 0] - lo[0]) / (hi[0] - lo[0]) * (width - 1)).round().astype(int), 0, width - 1)
    rows = np.clip(((hi[1] - x[:, 1]) / (hi[1] - lo[1]) * (height - 1)).round().astype(int), 0, height - 1)
    for r, c, label in zip(rows, cols, y):
        grid[r][c] = letters[label].upper()
    return "Decision regions (lower case) and training points (capitals):\n" + "\n".join("".join(r) for r in grid)
