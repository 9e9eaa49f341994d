"""mlplab's scikit-learn estimators against scikit-learn's MLP: cross-validated score and fit time.

Both run with the same settings inside Pipeline(StandardScaler(), MLP...) on scikit-learn's bundled
datasets, over the same shuffled 5 folds, for each solver (adam, lbfgs) and each data dtype (float64,
float32: both libraries compute in the input's dtype). Fit time is the sum over the folds, median over
rounds whose library order alternates; epochs (n_iter_) are reported too, since a fit that stops earlier
is faster for a reason that is not speed. Goal (issues 9 and 16): score within 0.02 and at least 2x faster.

    python bench/bench_estimators.py                  # print the table
    python bench/bench_estimators.py --write          # and write bench/RESULTS_estimators.md
    python bench/bench_estimators.py --datasets iris --solvers lbfgs --dtypes float32 --rounds 1
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# dataset: (loader, task, settings shared by both libraries)
DATASETS = {
    "iris": ("load_iris", "classification", {}),
    "breast_cancer": ("load_breast_cancer", "classification", {}),
    "wine": ("load_wine", "classification", {}),
    "digits": ("load_digits", "classification", {}),
    "diabetes": ("load_diabetes", "regression", {"learning_rate_init": 0.01, "max_iter": 500}),
}
COMMON = {"hidden_layer_sizes": (100,), "random_state": 0}
SOLVERS = ("adam", "lbfgs")
DTYPES = ("float64", "float32")


def run_once(library, dataset, folds, solver="adam", dtype="float64"):
    import sklearn.datasets
    import sklearn.neural_network
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import mlplab.estimators

    loader, task, settings = DATASETS[dataset]
    x, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    x = x.astype(dtype)  # both libraries compute in the input's dtype
    module = mlplab.estimators if library == "mlplab" else sklearn.neural_network
    estimator = getattr(module, "MLPClassifier" if task == "classification" else "MLPRegressor")
    settings = {k: v for k, v in settings.items() if solver != "lbfgs" or k != "learning_rate_init"}
    pipe = make_pipeline(StandardScaler(), estimator(**COMMON, solver=solver, **settings))
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        result = cross_validate(pipe, x, y, cv=folds(task, x, y), return_estimator=True)
    epochs = [est[-1].n_iter_ for est in result["estimator"]]
    return float(np.mean(result["test_score"])), float(np.sum(result["fit_time"])), float(np.mean(epochs))


def folds_for(seed):
    from sklearn.model_selection import KFold, StratifiedKFold

    def folds(task, x, y):
        splitter = (StratifiedKFold if task == "classification" else KFold)(5, shuffle=True, random_state=seed)
        return list(splitter.split(x, y))

    return folds


def machine() -> dict:
    import sklearn
    from threadpoolctl import threadpool_info

    import mlplab
    import mlplab.engine.kernels

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    blas = next((f"{i['internal_api']} {i['version']}, limited to 1 thread during the fits"
                 for i in threadpool_info() if i["user_api"] == "blas"), "unknown")
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "CPU": cpu,
            "cores": os.cpu_count(), "Python": platform.python_version(),
            "libraries": f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, mlplab {mlplab.__version__} "
                         f"(compiled kernels: {'yes' if mlplab.engine.kernels.available() else 'no'})", "BLAS": blas,
            "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per library and dataset (default 3)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS_estimators.md")
    args = parser.parse_args(argv)
    info = machine()
    started = time.perf_counter()
    rows = []
    configs = [(d, s, t) for d in args.datasets for s in args.solvers for t in args.dtypes]
    for dataset, solver, dtype in configs:
        times = {"mlplab": [], "sklearn": []}
        row = {"dataset": dataset, "solver": solver, "dtype": dtype}
        rows.append(row)
        for round_ in range(args.rounds + 1):  # round 0 warms up (imports, caches) and is not counted
            order = ["mlplab", "sklearn"] if round_ % 2 else ["sklearn", "mlplab"]
            for library in order:
                score, seconds, epochs = run_once(library, dataset, folds_for(0), solver, dtype)
                if round_:
                    times[library].append(seconds)
                    row[library] = (score, epochs)
        row["times"] = {k: statistics.median(v) for k, v in times.items()}
        print(f"{dataset:14s} {solver:5s} {dtype} score mlplab {row['mlplab'][0]:.4f} sklearn {row['sklearn'][0]:.4f}   "
              f"fit mlplab {row['times']['mlplab']:.2f} s sklearn {row['times']['sklearn']:.2f} s   "
              f"speed-up {row['times']['sklearn'] / row['times']['mlplab']:.2f}x", flush=True)
    info["load average (1 min) at end"] = f"{os.getloadavg()[0]:.2f}"
    info["wall time"] = f"{time.perf_counter() - started:.0f} s"
    table = render(rows, info, args)
    print(table)
    if args.write:
        (ROOT / "bench" / "RESULTS_estimators.md").write_text(table, encoding="utf-8")
    return 0


def render(rows, info, args) -> str:
    command = "python bench/bench_estimators.py --write" + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
    for name, default in (("datasets", list(DATASETS)), ("solvers", list(SOLVERS)), ("dtypes", list(DTYPES))):
        if getattr(args, name) != default:
            command += f" --{name} " + " ".join(getattr(args, name))
    lines = ["# mlplab estimators against scikit-learn's MLP", "",
             "*Generated by `bench/bench_estimators.py`; running it again replaces this file.*", "",
             "```bash", command, "```", "",
             "Method: Pipeline(StandardScaler(), MLP) with the same settings for both libraries "
             f"({', '.join(f'{k}={v!r}' for k, v in COMMON.items())}, solver as in the row; diabetes also "
             "max_iter=500 and, for adam, learning_rate_init=0.01), the same shuffled 5 folds (stratified for "
             "classifiers), the data cast to the row's dtype (both libraries then compute in that dtype, "
             "scikit-learn's rule and mlplab's default), BLAS on one thread for both (threadpoolctl: on 2 shared cores two BLAS threads "
             "made both libraries' times swing by 3x). Score: mean test score over the folds (accuracy, R² for "
             f"diabetes). Fit time: sum over the 5 folds, median of {args.rounds} rounds after a warm-up round, "
             "library order alternating. Epochs: mean n_iter_ over the folds (adam: both stop by scikit-learn's "
             "rule, tol=1e-4, n_iter_no_change=10; lbfgs: L-BFGS iterations, both on scipy's L-BFGS-B with "
             "gtol=tol, max_iter=200 or 500).", "",
             "The machine is shared with other jobs, so times are noisy: compare within a row.", "",
             "## Machine", "", "|  |  |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += ["", "## Results", "",
              "| dataset | solver | dtype | score mlplab | score sklearn | difference | epochs mlplab | epochs sklearn "
              "| fit s mlplab | fit s sklearn | speed-up | per-epoch speed-up | goal met? |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        (ours, our_epochs), (theirs, their_epochs) = row["mlplab"], row["sklearn"]
        t_ours, t_theirs = row["times"]["mlplab"], row["times"]["sklearn"]
        speedup = t_theirs / t_ours
        per_epoch = (t_theirs / their_epochs) / (t_ours / our_epochs)
        met = "yes" if ours >= theirs - 0.02 and speedup >= 2 else "no"
        lines.append(f"| {row['dataset']} | {row['solver']} | {row['dtype']} | {ours:.4f} | {theirs:.4f} | {ours - theirs:+.4f} | {our_epochs:.0f} | "
                     f"{their_epochs:.0f} | {t_ours:.2f} | {t_theirs:.2f} | {speedup:.2f}x | {per_epoch:.2f}x "
                     f"| {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
