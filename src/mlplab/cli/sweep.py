"""`mlplab sweep DATA --target COLUMN ...`: cross-validate MLPs over a grid, locally or on Dask."""
from __future__ import annotations

import argparse
import time

import numpy as np


def add_sweep_parser(subparsers) -> None:
    """Register `mlplab sweep` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "sweep", help="cross-validate MLPs over a grid of hidden sizes and activations (locally or on Dask)",
        epilog="examples:\n  mlplab sweep data.csv --target label --hidden 1 2 4 100 --activation sigmoid relu\n"
               "  mlplab sweep data.csv --target label --hidden 4 4,4 --cv 10 --dask local")
    parser.add_argument("data", metavar="DATA", help="CSV file with a header row (or .npz with x and y)")
    parser.add_argument("--target", required=True, help="name of the column to predict")
    parser.add_argument("--hidden", nargs="+", default=None, type=_sizes, metavar="UNITS",
                        help="hidden layer sizes to try; 4,4 is two layers of 4 (default: 100)")
    parser.add_argument("--activation", nargs="+", default=["relu"], help="activations to try")
    parser.add_argument("--learning-rate", nargs="+", type=float, default=[0.001], help="learning_rate_init values")
    parser.add_argument("--solver", default="adam", help="sgd, adam, rmsprop, adagrad or adamw")
    parser.add_argument("--max-iter", type=int, default=200, help="epochs per fit at most")
    parser.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    parser.add_argument("--cv", type=int, default=5, help="number of cross-validation folds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and of every trial")
    parser.add_argument("--jobs", type=int, default=None, help="parallel workers (default: joblib's, or all of Dask's)")
    parser.add_argument("--dask", default=None, metavar="local|tcp://HOST:PORT", help="run the trials on Dask")
    parser.add_argument("--out", default="sweep.csv", help="results CSV, resumed if it exists")
    parser.add_argument("--plot", default="sweep.png", help="plot file; '' for none")
    parser.set_defaults(run=run_sweep_command)


def _sizes(text: str) -> tuple:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 4 or 4,4; received {text!r}")
    return sizes


def run_sweep_command(args) -> int:
    from mlplab.datasets import tables as tabular
    from mlplab.estimators import MLPClassifier, MLPRegressor
    from mlplab.sweeps import sweep

    table = tabular.read_table(args.data)  # the reader of `mlplab train`: CSV with a header, or .npz
    values = tabular.target_values(table, args.target)
    x = tabular.features(table, [name for name in table.names if name != args.target])
    y = np.array(values)
    task = tabular.infer_task(values) if args.task == "auto" else args.task
    model = (MLPClassifier if task == "classification" else MLPRegressor)(solver=args.solver, max_iter=args.max_iter)
    grid = {"hidden_layer_sizes": args.hidden or [(100,)], "activation": args.activation, "learning_rate_init": args.learning_rate}
    started = time.perf_counter()
    rows = sweep(x, y, grid, estimator=model, cv=args.cv, seed=args.seed, n_jobs=args.jobs, dask=args.dask,
                 results=args.out, plot=args.plot or None, verbose=1)
    best = max(rows, key=lambda r: -np.inf if np.isnan(r["mean_score"]) else r["mean_score"])
    print(f"\n{len(rows)} trials ({task}, {args.cv}-fold) in {time.perf_counter() - started:.1f} s; "
          f"results: {args.out}" + (f", plot: {args.plot}" if args.plot else ""))
    print(f"best: {', '.join(f'{k}={best[k]}' for k in grid)}: {best['mean_score']:.4f} ± {best['std_score']:.4f}")
    return 0
