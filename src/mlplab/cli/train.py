"""`mlplab train`: train on the user's table (CSV/TSV/Parquet/Feather/.npz) and save a model file whose
preprocessing (categories, fills, standardization, target scaling) `predict`, `evaluate` and `export`
replay; or, without a file, the built-in offline demo."""
from __future__ import annotations

import argparse
import sys

BUILT_IN = ["moons", "circles", "spirals", "blobs"]
from mlplab.cli.common import LOSSES_BY_TASK  # noqa: F401  (where it used to be)

FILE_DEFAULTS = {"hidden": [64, 32], "epochs": 300, "learning_rate": 1e-3, "early_stopping": 20}
DEMO_DEFAULTS = {"hidden": [32, 32], "epochs": 200, "learning_rate": 0.01, "early_stopping": 0}
HIDDEN_ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "leaky_relu", "softplus", "linear", "step"]
EXAMPLE = """examples:
  mlplab train                                   # offline demo: spirals, decision regions as text
  mlplab train penguins.csv --target species --out penguins.safetensors
  mlplab train penguins.csv --target species --dry-run    # the column types and encoding, nothing trained
  mlplab train houses.parquet --target price --hidden 32 16 --missing median --out houses.safetensors
  mlplab train data.npz --out model.safetensors  # arrays x (n_samples, n_features) and y"""


def add_parser(sub) -> None:
    from mlplab.core.optimizers import OPTIMIZERS

    from mlplab.cli.common import add_table_arguments, hidden_layers, verbosity

    train = sub.add_parser("train", help="train an MLP on a table (CSV, Parquet, .npz) or a built-in dataset",
                           description="Train a multilayer perceptron. DATA is a CSV/TSV file with a header row, "
                                       "a Parquet or Feather file, an .npz with arrays x and y, or a built-in "
                                       "dataset name; without DATA, the offline demo on spirals. Text and "
                                       "True/False columns are one-hot encoded, missing cells filled (--missing), "
                                       "inputs and a regression target standardized; all of it is saved in the "
                                       "model file and replayed by predict, evaluate and export.",
                           epilog=EXAMPLE)
    train.add_argument("data", nargs="?", metavar="DATA", help=f"a table file, or one of {', '.join(BUILT_IN)}")
    train.add_argument("--target", metavar="COLUMN", help="the column to predict; required for CSV/Parquet")
    train.add_argument("--out", metavar="MODEL", help="where to save the model (.safetensors); required for files")
    train.add_argument("--dry-run", action="store_true",
                       help="print the column types and the encoding, then stop (nothing is trained or written)")
    train.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                       help="auto: classification for text or a few integer values, else regression")
    add_table_arguments(train)
    train.add_argument("--hidden", nargs="+", type=hidden_layers, default=None, metavar="UNITS",
                       help="hidden layer sizes, one per layer: --hidden 64 32 (default: 64 32 for a file; "
                            "32 32 for a built-in dataset)")
    train.add_argument("--activation", default="relu", choices=HIDDEN_ACTIVATIONS, metavar="NAME",
                       help=f"hidden-layer activation, one of {', '.join(HIDDEN_ACTIVATIONS)}")
    train.add_argument("--loss", default=None, metavar="NAME",
                       help="default: sparse_categorical_crossentropy (classification) or mean_squared_error "
                            "(regression); also categorical_crossentropy, binary_crossentropy (two classes), "
                            "mean_absolute_error")
    train.add_argument("--optimizer", default="adam", choices=OPTIMIZERS.names(), metavar="NAME",
                       help=f"one of {', '.join(OPTIMIZERS.names())}")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="default: 1e-3 for a file; 0.01 for a built-in dataset")
    train.add_argument("--clipnorm", type=float, default=None, help="clip each gradient to this norm")
    train.add_argument("--epochs", type=int, default=None,
                       help="at most this many epochs (default: 300 for a file, with early stopping; 200 for "
                            "a built-in dataset)")
    train.add_argument("--batch-size", type=int, default=32, help="rows per gradient step")
    train.add_argument("--validation-split", type=float, default=0.2,
                       help="fraction of the rows held out (shuffled) for early stopping and the reported scores")
    train.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without a better val_loss and keep the best weights "
                            "(default: 20 for a file; 0 turns it off)")
    train.add_argument("--no-standardize", dest="standardize", action="store_false",
                       help="feed the inputs as they are (default: standardize numeric inputs to mean 0, std 1)")
    train.add_argument("--no-standardize-target", dest="standardize_target", action="store_false",
                       help="regression: fit the target as it is (default: fit it standardized; predictions are "
                            "in the target's own units either way)")
    train.add_argument("--seed", type=int, default=0, help="seed for the initial weights, shuffling and the split")
    train.add_argument("--history", metavar="FILE.csv", help="write the per-epoch losses and metrics as CSV")
    train.add_argument("--plot", metavar="FILE.png", help="plot the learning curves (needs matplotlib)")
    train.add_argument("--dataset", choices=BUILT_IN, default=None, help=argparse.SUPPRESS)  # the old spelling
    train.add_argument("--samples", type=int, default=600, help="points in a built-in dataset")
    train.add_argument("--verbose", type=verbosity, default=1, metavar="0|1|2",
                       help="0: the summary only; 1: a progress bar per epoch; 2: one line per epoch")
    train.set_defaults(run=run)


def run(args) -> int:
    from mlplab.cli.common import flatten_hidden

    args.hidden = flatten_hidden(args.hidden)
    name = args.data or args.dataset or "spirals"
    if name in BUILT_IN:
        _fill_defaults(args, DEMO_DEFAULTS)
        from mlplab.cli.demo import run_demo

        return run_demo(args, name)
    _fill_defaults(args, FILE_DEFAULTS)
    return train_file(args)


def _fill_defaults(args, defaults):
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)


def train_file(args) -> int:
    from mlplab.cli.common import check_settings, load_training_table

    check_settings(args)
    if not args.out and not args.dry_run:
        raise ValueError("Missing argument --out: where to save the trained model, e.g. --out model.safetensors.")
    data = load_training_table(args)
    if args.dry_run:
        for line in data.report:
            print(line)
        print(f"Would train: {len(data.x)} rows, {data.x.shape[1]} inputs after encoding, target {data.target!r} "
              f"({data.task}). Nothing was written.")
        return 0
    model, fit = _train(args, data)
    _report(args, data, model, fit)
    return 0


def _train(args, data):
    """Build, compile and fit the model on the training rows; returns (model, what happened)."""
    import numpy as np

    import mlplab as ml
    from mlplab.cli.common import check_memory

    layers = [ml.Dense(n, activation=args.activation) for n in args.hidden]
    if data.task == "classification":
        n_out = 1 if data.loss == "binary_crossentropy" else len(data.labels)
        layers.append(ml.Dense(n_out, activation="sigmoid" if n_out == 1 else "softmax"))
        metrics = ["accuracy"]
    else:
        layers.append(ml.Dense(1))
        metrics = ["mae"]
    check_memory(data.x.shape[1], [*args.hidden, layers[-1].units])
    model = ml.Sequential(layers, seed=args.seed)
    options = {"learning_rate": args.learning_rate}
    if args.clipnorm is not None:
        options["clipnorm"] = args.clipnorm
    model.compile(optimizer=ml.OPTIMIZERS.create(args.optimizer, **options), loss=data.loss, metrics=metrics)
    train_rows, val_rows = data.split(args.validation_split, args.seed)
    y = data.y_fit
    validation = (data.x[val_rows], y[val_rows]) if len(val_rows) else None
    callbacks, stopper = [], None
    if args.early_stopping:
        stopper = ml.EarlyStopping(monitor="val_loss" if validation else "loss", patience=args.early_stopping,
                                   restore_best_weights=True)
        callbacks.append(stopper)
    if args.history:
        callbacks.append(ml.CSVLogger(args.history))
    model.build(data.x.shape[1:])
    if args.verbose:
        print(f"Training on {args.data}: {len(train_rows)} rows ({len(val_rows)} more held out for validation), "
              f"{len(data.spec['feature_names'])} columns -> {data.x.shape[1]} inputs, target {data.target!r} "
              f"({data.task}{f', {len(data.labels)} classes' if data.task == 'classification' else ''})")
        model.summary()
    try:
        history = model.fit(data.x[train_rows], y[train_rows], epochs=args.epochs, batch_size=args.batch_size,
                            validation_data=validation, callbacks=callbacks, verbose=args.verbose)
    except FloatingPointError as err:  # the NaN guard: say it with the flags this command has
        first = str(err).split(" Try ")[0]
        raise ArithmeticError(f"{first} Nothing was saved. Try a smaller --learning-rate (now "
                              f"{args.learning_rate:g}), --clipnorm 1.0"
                              + ("" if args.standardize else ", or drop --no-standardize") + ".") from None
    if args.plot:
        from mlplab.cli.common import plot_history_to

        plot_history_to(history, metrics[0], args.plot)
    ran = len(history.history["loss"])
    best = stopper.best_epoch if stopper is not None and stopper.best_epoch is not None else None
    return model, {"history": history, "epochs_run": ran, "best_epoch": best, "train": train_rows,
                   "val": val_rows, "stopped": stopper is not None and ran < args.epochs,
                   "nan": not np.isfinite(history.history["loss"][-1])}


def _report(args, data, model, fit) -> None:
    """Save the model, then print the saved weights' scores against the baseline, honestly."""
    from mlplab.cli.common import scores
    from mlplab.files.model_files import save_model

    if fit["nan"]:
        raise ArithmeticError(f"Training diverged (the loss became NaN or inf) and nothing was saved; try a "
                              f"smaller --learning-rate (now {args.learning_rate}) or --clipnorm 1.0.")
    save_model(model, args.out, preprocessing=data.spec)
    rows = fit["val"] if len(fit["val"]) else fit["train"]
    which = "validation" if len(fit["val"]) else "training"
    got, baseline = scores(model, data, rows, fit["train"])
    main = "accuracy" if data.task == "classification" else "r2"
    epoch = fit["best_epoch"]
    how = (f"epoch {epoch + 1} of {fit['epochs_run']} (early stopping restored the best val_loss)"
           if epoch is not None and fit["stopped"] else
           f"epoch {epoch + 1} of {fit['epochs_run']} (best val_loss, restored)" if epoch is not None else
           f"epoch {fit['epochs_run']}")
    print(f"Final (saved weights, {how}): " + "  ".join(f"{which[:3]}_{k} {v:.4f}" for k, v in got.items())
          + f"  | baseline {which[:3]}_{main} {baseline:.4f}")
    if got[main] <= baseline:
        fix = ("more --epochs, a smaller --learning-rate, or check that the columns can predict the target"
               if data.task == "classification" else
               "more --epochs, a smaller --learning-rate, or leave the target standardized")
        print(f"warning: the {which} {main} {got[main]:.4f} is no better than the baseline "
              f"({'majority class' if data.task == 'classification' else 'predicting the mean'}: {baseline:.4f}); "
              f"try {fix}.", file=sys.stderr)
    print(f"Saved {args.out}. Next: mlplab predict {args.out} NEW.csv --out predictions.csv")
