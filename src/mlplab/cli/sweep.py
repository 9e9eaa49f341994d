"""`mlplab sweep DATA --target COLUMN ...`: cross-validate MLPs over a grid, locally or on Dask."""
from __future__ import annotations

import os
import time

import numpy as np

HIDDEN_ACTIVATIONS = ["relu", "tanh", "logistic", "sigmoid", "identity", "linear", "elu", "leaky_relu", "softplus"]


def add_sweep_parser(subparsers) -> None:
    """Register `mlplab sweep` on the CLI's subparsers."""
    from mlplab.cli.common import add_table_arguments, units, verbosity

    parser = subparsers.add_parser(
        "sweep", help="cross-validate MLPs over a grid of hidden sizes and activations (locally or on Dask)",
        description="Cross-validate one MLP per combination of the values given. Columns are read and encoded "
                    "as `mlplab train` does (text one-hot, missing cells filled; inputs standardized inside each "
                    "fold; a regression target standardized). A baseline row (majority class, or predicting the "
                    "mean) is scored on the same folds.",
        epilog="examples:\n  mlplab sweep data.csv --target label --hidden 1 2 4 100 --activation logistic relu\n"
               "  mlplab sweep data.csv --target label --hidden 4 4,4 --cv 10 --dask local   # 4,4: two layers")
    parser.add_argument("data", metavar="DATA", help="a CSV/TSV, Parquet, Feather or .npz file")
    parser.add_argument("--target", required=True, help="name of the column to predict")
    parser.add_argument("--hidden", nargs="+", default=None, type=units, metavar="UNITS",
                        help="alternatives to try, separated by spaces; commas make layers: 16,8 is two layers "
                             "(default: 100)")
    parser.add_argument("--activation", nargs="+", default=["relu"], choices=HIDDEN_ACTIVATIONS, metavar="NAME",
                        help=f"hidden-layer activations to try, of {', '.join(HIDDEN_ACTIVATIONS)}")
    parser.add_argument("--learning-rate", nargs="+", type=float, default=[0.001], help="learning rates to try")
    parser.add_argument("--solver", default="adam", choices=["sgd", "adam", "rmsprop", "adagrad", "adamw"])
    parser.add_argument("--max-iter", type=int, default=200, help="epochs per fit at most")
    parser.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    add_table_arguments(parser)
    parser.add_argument("--cv", type=int, default=5, help="number of cross-validation folds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and of every trial")
    parser.add_argument("--jobs", type=int, default=None, help="parallel workers (default: joblib's, or all of Dask's)")
    parser.add_argument("--dask", default=None, metavar="local|tcp://HOST:PORT", help="run the trials on Dask")
    parser.add_argument("--out", default="sweep.csv", help="results CSV, resumed if it holds this sweep's trials")
    parser.add_argument("--plot", default="sweep.png", help="plot file; '' for none")
    parser.add_argument("--verbose", type=verbosity, default=1, metavar="0|1|2", help="0: the summary only")
    parser.set_defaults(run=run_sweep_command)


def run_sweep_command(args) -> int:
    from mlplab.datasets import tables as tabular
    from mlplab.files.preprocessing import fit_table
    from mlplab.sweeps import sweep

    table = tabular.read_table(args.data, index_col=args.index_col, drop=args.drop)
    target = tabular.check_target(table, args.target)
    no_target = tabular.missing_targets(table, target)
    if no_target:
        table = table.select(np.setdiff1d(np.arange(len(table)), no_target))
    types = tabular.infer_types(table, target, categorical=args.categorical)
    values = tabular.target_values(table, target)
    _, x, errors = fit_table(table, target, types, missing=args.missing, indicator=args.missing_indicator,
                             unknown=args.unknown, standardize=False)  # the sweep standardizes inside each fold
    keep = np.setdiff1d(np.arange(len(x)), np.fromiter(errors, dtype=np.int64, count=len(errors)))
    x, y = x[keep], np.array([values[i] for i in keep])
    task = tabular.infer_task(values) if args.task == "auto" else args.task
    from mlplab.cli.common import check_memory

    outputs = len(set(map(str, values))) if task == "classification" else 1
    for sizes in args.hidden or [[100]]:
        check_memory(x.shape[1], [*sizes, outputs])  # before any trial is built
    model, baseline, prefix = _estimators(task, args)
    grid = {prefix + "hidden_layer_sizes": [tuple(h) for h in args.hidden] if args.hidden else [(100,)],
            prefix + "activation": args.activation, prefix + "learning_rate_init": args.learning_rate}
    started = time.perf_counter()
    try:
        rows = sweep(x, y, grid, estimator=model, cv=args.cv, seed=args.seed, n_jobs=args.jobs, dask=args.dask,
                     results=args.out, plot=args.plot or None, verbose=int(args.verbose > 0))
    except ValueError as err:
        raise ValueError(str(err).replace("argument `results`", "--out")) from None
    _readable(args.out)
    base = sweep(x, y, {"strategy": [baseline.strategy]}, estimator=baseline, cv=args.cv, seed=args.seed)[0]
    best = max(rows, key=lambda r: -np.inf if np.isnan(r["mean_score"]) else r["mean_score"])
    metric = "accuracy" if task == "classification" else "R²"
    print(f"\n{len(rows)} trials ({task}, {args.cv}-fold, {metric}) in {time.perf_counter() - started:.1f} s; "
          f"results: {args.out}" + (f", plot: {args.plot}" if args.plot else ""))
    shown = {k[len(prefix):]: best[k] for k in grid}
    print(f"best: {', '.join(f'{k}={v}' for k, v in shown.items())}: {best['mean_score']:.4f} ± "
          f"{best['std_score']:.4f}")
    print(f"baseline ({'majority class' if task == 'classification' else 'predicting the mean'}, same folds): "
          f"{base['mean_score']:.4f} ± {base['std_score']:.4f}")
    if not best["mean_score"] > base["mean_score"]:
        print("warning: no trial beats the baseline; try more --max-iter, another --learning-rate, or check "
              "that the columns can predict the target.")
    return 0


def _estimators(task, args):
    """(the MLP to sweep, the baseline estimator, the prefix of the MLP's parameters)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.preprocessing import StandardScaler

    from mlplab.estimators import MLPClassifier, MLPRegressor

    if task == "classification":
        return (MLPClassifier(solver=args.solver, max_iter=args.max_iter),
                DummyClassifier(strategy="most_frequent"), "")
    regressor = MLPRegressor(solver=args.solver, max_iter=args.max_iter)  # on a standardized target
    return (TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler()),
            DummyRegressor(strategy="mean"), "regressor__")


def _readable(path) -> None:
    """Results files are 0644 (less the umask), as any file the user writes."""
    if path and os.path.exists(path):
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)
