"""`mlplab train`: train on the user's CSV/.npz and save a model file, or run the built-in offline demo."""
from __future__ import annotations

import argparse

BUILT_IN = ["moons", "circles", "spirals", "blobs"]
LOSSES_BY_TASK = {"classification": ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                     "binary_crossentropy"],
                  "regression": ["mean_squared_error", "mean_absolute_error"]}
FILE_DEFAULTS = {"hidden": [64, 32], "epochs": 20, "learning_rate": 1e-3}
DEMO_DEFAULTS = {"hidden": [32, 32], "epochs": 200, "learning_rate": 0.01}
EXAMPLE = """examples:
  mlplab train                                   # offline demo: spirals, decision regions as text
  mlplab train houses.csv --target price --out houses.safetensors
  mlplab train iris.csv --target species --hidden 16 --epochs 100 --early-stopping 10 \\
      --history curves.csv --plot curves.png --out iris.safetensors
  mlplab train data.npz --out model.safetensors  # arrays x (n_samples, n_features) and y"""


def add_parser(sub) -> None:
    from mlplab.core.activations import ACTIVATIONS
    from mlplab.core.optimizers import OPTIMIZERS

    from mlplab.cli.common import units

    train = sub.add_parser("train", help="train an MLP on a CSV/.npz file (or a built-in dataset) and save it",
                           description="Train a multilayer perceptron. DATA is a CSV file with a header row, an "
                                       ".npz with arrays x and y, or a built-in dataset name; without DATA, the "
                                       "offline demo on spirals. Inputs are standardized (statistics saved in "
                                       "the model file); classification or regression is inferred from the target.",
                           epilog=EXAMPLE)
    train.add_argument("data", nargs="?", metavar="DATA", help=f"CSV or .npz file, or one of {', '.join(BUILT_IN)}")
    train.add_argument("--target", metavar="COLUMN", help="the column to predict (CSV files); required for CSV")
    train.add_argument("--out", metavar="MODEL", help="where to save the model (.safetensors); required for files")
    train.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                       help="auto: classification for strings or a few integer values, else regression")
    train.add_argument("--hidden", type=units, default=None,
                       help="hidden units, comma-separated (default: 64,32 for a file; 32,32 for a built-in dataset)")
    train.add_argument("--activation", default="relu", choices=ACTIVATIONS.names(), metavar="NAME",
                       help=f"hidden-layer activation, one of {', '.join(ACTIVATIONS.names())}")
    train.add_argument("--loss", default=None, metavar="NAME",
                       help="default: sparse_categorical_crossentropy (classification) or mean_squared_error "
                            "(regression); also categorical_crossentropy, binary_crossentropy (two classes), "
                            "mean_absolute_error")
    train.add_argument("--optimizer", default="adam", choices=OPTIMIZERS.names(), metavar="NAME",
                       help=f"one of {', '.join(OPTIMIZERS.names())}")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="default: 1e-3 for a file; 0.01 for a built-in dataset")
    train.add_argument("--epochs", type=int, default=None, help="default: 20 for a file; 200 for a built-in dataset")
    train.add_argument("--batch-size", type=int, default=32, help="rows per gradient step")
    train.add_argument("--validation-split", type=float, default=0.1,
                       help="fraction of the rows held out (shuffled) to report val_loss")
    train.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without a better val_loss; keep the best weights")
    train.add_argument("--no-standardize", dest="standardize", action="store_false",
                       help="feed the columns as they are (default: standardize each to mean 0, std 1 and save "
                            "the statistics in the model file)")
    train.add_argument("--seed", type=int, default=0, help="seed for the initial weights, shuffling and the split")
    train.add_argument("--history", metavar="FILE.csv", help="write the per-epoch losses and metrics as CSV")
    train.add_argument("--plot", metavar="FILE.png", help="plot the learning curves (needs matplotlib)")
    train.add_argument("--dataset", choices=BUILT_IN, default=None, help=argparse.SUPPRESS)  # the old spelling
    train.add_argument("--samples", type=int, default=600, help="points in a built-in dataset")
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1],
                       help="1: progress (a line per epoch; a line every tenth of the demo's epochs)")
    train.set_defaults(run=run)


def run(args) -> int:
    name = args.data or args.dataset or "spirals"
    if name in BUILT_IN:
        _fill_defaults(args, DEMO_DEFAULTS)
        from mlplab.cli.demo import run_demo

        return run_demo(args, name)
    _fill_defaults(args, FILE_DEFAULTS)
    return train_file(args)


def _fill_defaults(args, defaults):
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def train_file(args) -> int:
    import numpy as np

    import mlplab as ml
    from mlplab.files.model_files import save_model
    from mlplab.preprocessing import Standardizer

    from mlplab.datasets import tables as tabular

    if not args.out:
        raise ValueError("Missing argument --out: where to save the trained model, e.g. --out model.safetensors.")
    table = tabular.read_table(args.data)
    target = args.target or table.target_hint
    if target is None:
        raise ValueError(f"Missing argument --target: which column of {args.data} to predict. "
                         f"Columns: {', '.join(table.names)}.")
    values = tabular.target_values(table, target)
    feature_names = [n for n in table.names if n != target]
    if not feature_names:
        raise ValueError(f"{args.data}: no feature columns besides the target {target!r}.")
    x = tabular.features(table, feature_names)
    task = tabular.infer_task(values) if args.task == "auto" else args.task
    if task == "regression" and any(isinstance(v, str) for v in values):
        raise ValueError(f"{args.data}: --task regression needs a numeric target; column {target!r} has text.")
    loss = args.loss or LOSSES_BY_TASK[task][0]
    if loss not in LOSSES_BY_TASK[task]:
        raise ValueError(f"Invalid value for --loss: expected one of {', '.join(LOSSES_BY_TASK[task])} for "
                         f"{task}. Received: {loss!r}.")
    preprocessing = {"feature_names": feature_names, "target": target, "task": task}
    if args.standardize and table.sparse is not None:
        raise ValueError(f"{args.data}: a sparse x is not standardized (that would make it dense): pass "
                         f"--no-standardize.")
    if args.standardize:
        scaler = Standardizer().fit(x)
        x = scaler.transform(x)
        preprocessing.update(mean=scaler.mean_.tolist(), scale=scaler.scale_.tolist())
    layers = [ml.Dense(n, activation=args.activation) for n in args.hidden]
    if task == "classification":
        labels = tabular.sorted_labels(values)
        if len(labels) < 2:
            raise ValueError(f"{args.data}: target column {target!r} has a single class ({labels[0]!r}); "
                             f"classification needs at least two.")
        preprocessing["class_labels"] = labels
        y = tabular.class_indices(table, target, values, labels)
        if loss == "binary_crossentropy":
            if len(labels) != 2:
                raise ValueError(f"Invalid value for --loss: binary_crossentropy needs two classes; column "
                                 f"{target!r} has {len(labels)}.")
            layers.append(ml.Dense(1, activation="sigmoid"))
            y = y.astype(np.float64)
        else:
            layers.append(ml.Dense(len(labels), activation="softmax"))
            if loss == "categorical_crossentropy":
                y = ml.preprocessing.one_hot(y, len(labels))
        metrics = ["accuracy"]
    else:
        y = np.asarray(values, dtype=np.float64)
        layers.append(ml.Dense(1))
        metrics = ["mae", "r2"]
    model = ml.Sequential(layers, seed=args.seed)
    optimizer = ml.OPTIMIZERS.create(args.optimizer, learning_rate=args.learning_rate)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    callbacks = []
    monitor = "val_loss" if args.validation_split else "loss"
    if args.early_stopping is not None:
        callbacks.append(ml.EarlyStopping(monitor=monitor, patience=args.early_stopping, restore_best_weights=True))
    if args.history:
        callbacks.append(ml.CSVLogger(args.history))
    model.build(x.shape[1:])
    if args.verbose:
        print(f"Training on {args.data}: {x.shape[0]} rows, {len(feature_names)} features, target {target!r} "
              f"({task}{f', {len(labels)} classes' if task == 'classification' else ''})")
        model.summary()
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.validation_split, callbacks=callbacks, verbose=args.verbose)
    if args.plot:
        from mlplab.cli.common import plot_history_to

        plot_history_to(history, metrics[0], args.plot)
    save_model(model, args.out, preprocessing=preprocessing)
    final = {k: v[-1] for k, v in history.history.items()}
    print("Final: " + "  ".join(f"{k} {v:.4f}" for k, v in final.items()))
    print(f"Saved {args.out}. Next: mlplab predict {args.out} NEW.csv --out predictions.csv")
    return 0
