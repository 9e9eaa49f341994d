"""What several commands share: the table options and reading, layer sizes, checks made before any
training starts (memory, scaling), the scores against a baseline, and the training-curve figure."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np

LOSSES_BY_TASK = {"classification": ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                     "binary_crossentropy"],
                  "regression": ["mean_squared_error", "mean_absolute_error"]}
MANY_CATEGORIES = 50  # a categorical column with more distinct values than this and than half the rows
MAX_PARAMETER_BYTES = None  # None: half the machine's memory
FLOAT32_MAX = 3.4e38


# -- argument types ---------------------------------------------------------------------------------
def units(text: str) -> list[int]:
    """'32,32' -> [32, 32] (one alternative of `sweep --hidden`, or the old spelling of train's)."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected positive integers like 32 or 32,16; received {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 32 or 32,16; received {text!r}")
    return sizes


hidden_layers = units


def flatten_hidden(value):
    """`--hidden 16 8` (and the older `--hidden 16,8`) as one list of layer sizes."""
    if value is None:
        return None
    return [n for part in value for n in (part if isinstance(part, list) else [part])]


def verbosity(text: str) -> int:
    if text not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"expected 0, 1 or 2 (as Keras: silent, progress bar, one line per "
                                         f"epoch); received {text!r}")
    return int(text)


def add_table_arguments(parser) -> None:
    """The options that say how a table's columns are read and encoded."""
    parser.add_argument("--categorical", nargs="+", default=[], metavar="COLUMN",
                        help="one-hot encode these columns even though they hold numbers")
    parser.add_argument("--drop", nargs="+", default=[], metavar="COLUMN", help="leave these columns out")
    parser.add_argument("--index-col", default=None, metavar="COLUMN",
                        help="a row-index column to leave out ('' for an unnamed first column; pandas' "
                             "unnamed 0, 1, 2, ... index is recognised without it)")
    parser.add_argument("--missing", choices=["drop", "mean", "median", "most-frequent"], default="mean",
                        help="missing cells: drop the row, or fill numbers with the mean, median or most "
                             "frequent value (text columns always with the most frequent category)")
    parser.add_argument("--missing-indicator", action="store_true",
                        help="add a 0/1 input per column that had missing cells")
    parser.add_argument("--unknown", choices=["ignore", "error"], default="ignore",
                        help="a category not seen in training: all its one-hot inputs 0 (ignore), or the row "
                             "is reported and not scored (error)")


def check_settings(args) -> None:
    """Flag values argparse cannot check alone; each error names the flag."""
    checks = [("--epochs", args.epochs, args.epochs >= 1), ("--batch-size", args.batch_size, args.batch_size >= 1),
              ("--validation-split", args.validation_split, 0 <= args.validation_split < 1),
              ("--early-stopping", args.early_stopping, args.early_stopping >= 0),
              ("--learning-rate", args.learning_rate, np.isfinite(args.learning_rate) and args.learning_rate > 0)]
    if args.clipnorm is not None:
        checks.append(("--clipnorm", args.clipnorm, np.isfinite(args.clipnorm) and args.clipnorm > 0))
    for flag, value, ok in checks:
        if not ok:
            raise ValueError(f"Invalid value for {flag}: {value}.")


def check_memory(n_inputs: int, sizes: list[int]) -> None:
    """Refuse a network whose parameters (with gradients and Adam's two moments) would not fit."""
    params, width = 0, n_inputs
    for n in sizes:
        params, width = params + width * n + n, n
    needed = params * 4 * 4  # float32: weights, gradients, two optimizer moments
    limit = MAX_PARAMETER_BYTES or _memory() // 2
    if needed > limit:
        raise ValueError(f"Invalid value for --hidden: {params:,} parameters need about {needed / 2**30:.1f} GiB "
                          f"(weights, gradients, optimizer state); the limit here is {limit / 2**30:.1f} GiB.")


def _memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


# -- the training table -----------------------------------------------------------------------------
@dataclass
class TrainingData:
    """What `train` feeds the model, and what it saves: inputs, targets, the preprocessing spec."""
    x: np.ndarray
    y_fit: np.ndarray  # the target as the network fits it (class indices, or standardized values)
    y: np.ndarray  # the target in its own units (class indices for classification)
    spec: dict
    task: str
    loss: str
    labels: list | None
    target: str
    report: list

    def split(self, fraction: float, seed: int):
        order = np.random.default_rng(seed).permutation(len(self.x))
        n_val = int(round(len(self.x) * fraction)) if fraction else 0
        if fraction and len(self.x) - n_val < 1:
            raise ValueError(f"Invalid value for --validation-split: {fraction} leaves no rows to train on.")
        return np.sort(order[n_val:]), np.sort(order[:n_val])


def load_training_table(args) -> TrainingData:
    """Read DATA, infer the column types, fit and apply the preprocessing; every problem a ValueError."""
    from mlplab.datasets import tables as tabular
    from mlplab.files.preprocessing import fit_table

    table = tabular.read_table(args.data, index_col=args.index_col, drop=args.drop)
    if table.sparse is not None:
        raise ValueError(f"{args.data}: a sparse .npz is read kept sparse, but `mlplab train` encodes and scales "
                         f"dense columns; train on it from Python (model.fit or mlplab.estimators take CSR "
                         f"matrices as they are).")
    target = tabular.check_target(table, args.target or table.target_hint)
    no_target = tabular.missing_targets(table, target)
    report = []
    if no_target:
        report.append(f"note: {len(no_target)} row(s) without a {target!r} value left out (first at "
                      f"{_where(table, no_target[0])})")
        table = table.select(np.setdiff1d(np.arange(len(table)), no_target))
        if not len(table):
            raise ValueError(f"{args.data}: no row has a value in the target column {target!r}.")
    types = tabular.infer_types(table, target, categorical=args.categorical)
    if not types:
        raise ValueError(f"{args.data}: no feature columns besides the target {target!r}.")
    report = tabular.describe(table, target, types) + report
    for name, kind in types.items():
        distinct = len({str(v) for v in table.columns[name]})
        if kind == "categorical" and distinct > MANY_CATEGORIES and distinct > len(table) // 2:
            warning = (f"warning: column {name!r} has {distinct} distinct values in {len(table)} rows, so its "
                       f"one-hot encoding is {distinct} inputs that cannot generalise (an id or free text?); "
                       f"--drop {name} if so")
            report.append(warning)
            if not args.dry_run:
                print(f"mlplab: {warning}", file=sys.stderr)
    values = tabular.target_values(table, target)
    task = tabular.infer_task(values) if args.task == "auto" else args.task
    if task == "regression" and any(isinstance(v, str) for v in values):
        raise ValueError(f"{args.data}: --task regression needs a numeric target; column {target!r} has text.")
    loss = args.loss or LOSSES_BY_TASK[task][0]
    if loss not in LOSSES_BY_TASK[task]:
        raise ValueError(f"Invalid value for --loss: expected one of {', '.join(LOSSES_BY_TASK[task])} for "
                         f"{task}. Received: {loss!r}.")
    spec, x, errors = fit_table(table, target, types, missing=args.missing, indicator=args.missing_indicator,
                                unknown=args.unknown, standardize=args.standardize)
    spec["task"] = task
    keep = np.setdiff1d(np.arange(len(x)), np.fromiter(errors, dtype=np.int64, count=len(errors)))
    if errors:
        first = min(errors)
        report.append(f"note: {len(errors)} row(s) with a missing cell left out (--missing drop; first at "
                      f"{_where(table, first)}: {errors[first]})")
        if not len(keep):
            raise ValueError(f"{args.data}: every row has a missing cell; use --missing mean (or median, "
                             f"most-frequent) instead of --missing drop.")
    x = x[keep]
    values = [values[i] for i in keep]
    check_scaling(args.data, spec, x)
    labels = None
    if task == "classification":
        labels = tabular.sorted_labels(values)
        if len(labels) < 2:
            raise ValueError(f"{args.data}: target column {target!r} has a single class ({labels[0]!r}); "
                             f"classification needs at least two.")
        if loss == "binary_crossentropy" and len(labels) != 2:
            raise ValueError(f"Invalid value for --loss: binary_crossentropy needs two classes; column "
                             f"{target!r} has {len(labels)}.")
        spec["class_labels"] = labels
        y = tabular.class_indices(table, target, values, labels)
        y_fit = y.astype(np.float64)[:, None] if loss == "binary_crossentropy" else y
        if loss == "categorical_crossentropy":
            y_fit = np.eye(len(labels))[y]
    else:
        y = np.asarray(values, dtype=np.float64)
        if not np.isfinite(y).all() or np.abs(y).max() > FLOAT32_MAX:
            raise ValueError(f"{args.data}: target column {target!r} has values beyond float32's range.")
        y_fit = y
        if args.standardize_target:
            spread = float(y.std()) or 1.0
            spec["target_mean"], spec["target_scale"] = float(y.mean()), spread
            y_fit = (y - spec["target_mean"]) / spread
        y_fit = y_fit[:, None]
    return TrainingData(x, y_fit, y, spec, task, loss, labels, target, report)


def _where(table, row) -> str:
    return f"line {table.line(row)}" if table.lines is not None else f"row {row + 1}"


def check_scaling(path, spec: dict, x: np.ndarray) -> None:
    """Every input must be finite and fit float32 after standardization; names the column if not."""
    from mlplab.files.preprocessing import input_names

    bad = ~np.isfinite(x).all(axis=0) | (np.abs(x).max(axis=0, initial=0.0) > FLOAT32_MAX)
    if spec.get("scale") is not None:
        bad |= ~np.isfinite(np.asarray(spec["scale"])) | ~np.isfinite(np.asarray(spec["mean"]))
    if bad.any():
        name = input_names(spec)[int(np.flatnonzero(bad)[0])]
        raise ValueError(f"{path}: column {name!r} cannot be scaled: its values are too large to standardize "
                         f"in float64 or to feed as float32 (beyond about 1e38); rescale it (e.g. log or divide) "
                         f"or --drop it.")


# -- scores ---------------------------------------------------------------------------------------
def scores(model, data: TrainingData, rows, train_rows) -> tuple[dict, float]:
    """The model's scores on `rows` in the target's units, and the baseline's main score there
    (the majority class of the training rows, or predicting their mean)."""
    from mlplab.files.preprocessing import untransform_target

    outputs = model.predict(data.x[rows]).astype(np.float64)
    truth = data.y[rows]
    if data.task == "classification":
        predicted = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(axis=1)
        majority = np.bincount(data.y[train_rows]).argmax()
        return {"accuracy": float((predicted == truth).mean())}, float((truth == majority).mean())
    predicted = untransform_target(data.spec, outputs[:, 0])
    mean = data.y[train_rows].mean()
    return regression_scores(truth, predicted), float(r2(truth, np.full(len(truth), mean)))


def regression_scores(truth, predicted) -> dict:
    return {"mse": float(np.mean((predicted - truth) ** 2)), "mae": float(np.mean(np.abs(predicted - truth))),
            "r2": float(r2(truth, predicted))}


def r2(truth, predicted) -> float:
    total = np.sum((truth - truth.mean()) ** 2)
    residual = np.sum((truth - predicted) ** 2)
    return 1.0 - residual / total if total > 0 else (1.0 if residual == 0 else 0.0)


def plot_history_to(history, metric: str, path) -> None:
    """Save the loss and `metric` curves of `history` to `path` (PNG or SVG)."""
    from mlplab.plotting import plot_history, save_figure

    save_figure(plot_history(history, metrics=("loss", metric)), path)


def class_labels(model, n_outputs: int) -> list:
    """The saved class labels of a classifier, or 0, 1, ... (one sigmoid unit: 0 and 1)."""
    labels = (model.preprocessing or {}).get("class_labels")
    if labels is None:
        labels = [0, 1] if n_outputs == 1 else list(range(n_outputs))
    return labels


def is_classifier(model) -> bool:
    """The saved task says so, or the output layer is softmax/sigmoid."""
    from mlplab.core.activations import Sigmoid, Softmax

    prep = model.preprocessing or {}
    if prep.get("task"):
        return prep["task"] == "classification"
    return isinstance(getattr(model.layers[-1], "activation", None), (Softmax, Sigmoid))
