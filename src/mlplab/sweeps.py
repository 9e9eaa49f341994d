"""Hyper-parameter sweeps: every setting of a grid (or a random sample of it), cross-validated, in parallel.

Built on scikit-learn's ParameterGrid/ParameterSampler and cross-validation; the trials run through
joblib on this machine, or as Dask futures gathered with `as_completed` (`dask="local"` /
`dask="tcp://HOST:PORT"`), where a trial that kills its worker ends the sweep with an error naming it.
Trial seeds come from `numpy.random.SeedSequence(seed).spawn`, so the table
does not depend on the number of workers or on scheduling; each trial runs BLAS on one thread.
Finished trials go to a CSV file as they complete; a rerun skips them (resume after an interruption).

>>> rows = sweep(x, y, {"hidden_layer_sizes": [(1,), (2,), (4,), (100,)], "activation": ["logistic", "relu"]},
...              cv=5, results="sweep.csv", plot="sweep.png")
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import warnings

import numpy as np

from mlplab.core.checks import check_number, invalid

SCORE_COLUMNS = ["mean_score", "std_score", "fit_time"]


def sweep(x, y, params, *, estimator=None, n_iter=None, cv=5, scoring=None, seed=0, standardize=True,
          n_jobs=None, dask=None, results=None, plot=None, verbose=0) -> list[dict]:
    """Cross-validate `estimator` at every point of the grid `params`; returns one dict per trial.

    params: {name: [values]} (or a list of such dicts) of the estimator's parameters, e.g.
    {"hidden_layer_sizes": [(1,), (4,)], "activation": ["logistic", "relu"]}. With n_iter, that many
    random points instead (values may then also be scipy.stats distributions).
    estimator: default `MLPClassifier()` for class labels, `MLPRegressor()` for continuous targets.
    cv: number of folds (shuffled, stratified for classifiers, the same folds for every trial) or a
    scikit-learn splitter. standardize: scale the features (StandardScaler) inside each fold.
    n_jobs: joblib workers (None: joblib's default); on Dask, the most trials in flight (None: all).
    dask: None, "local" (a LocalCluster on this machine) or a scheduler address "tcp://HOST:PORT".
    results: CSV path, written after every trial; trials already in it are not run again (a damaged
    file is refused, naming its line).
    plot: PNG path for mean score ± std against the first parameter (needs matplotlib).
    Each row: trial, seed, the parameters, mean_score, std_score, fit_time (mean seconds per fold).
    """
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import KFold, ParameterGrid, ParameterSampler, StratifiedKFold, check_cv
    from sklearn.utils.multiclass import type_of_target

    x, y = np.asarray(x), np.asarray(y)
    if estimator is None:
        from mlplab.estimators import MLPClassifier, MLPRegressor

        classify = type_of_target(y) in ("binary", "multiclass")
        estimator = MLPClassifier() if classify else MLPRegressor()
    if not isinstance(params, (dict, list)) or not params:
        raise invalid("params", "a non-empty dict {parameter: [values]} or a list of such dicts", params)
    if n_iter is None:
        points = list(ParameterGrid(params))
    else:
        check_number("n_iter", n_iter, low=1, integer=True)
        points = list(ParameterSampler(params, n_iter, random_state=seed))
    grids = [params] if isinstance(params, dict) else params
    order = list(dict.fromkeys(name for grid in grids for name in grid))  # the caller's order, not sorted
    points = [{name: point[name] for name in order if name in point} for point in points]
    for point in points:  # an unknown parameter name (or, for mlplab's estimators, value) fails before any trial
        trial = clone(estimator).set_params(**point)
        if hasattr(trial, "check_params"):
            trial.check_params()
    root = np.random.SeedSequence(seed)
    fold_sequence, *trial_sequences = root.spawn(1 + len(points))
    fold_seed = int(fold_sequence.generate_state(1)[0])
    if isinstance(cv, int):
        splitter = (StratifiedKFold if is_classifier(estimator) else KFold)(cv, shuffle=True, random_state=fold_seed)
    else:
        splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    folds = list(splitter.split(x, y))
    trials = [{"trial": i, "seed": int(s.generate_state(1)[0]), "params": p}
              for i, (s, p) in enumerate(zip(trial_sequences, points))]

    done = _resume(results, trials)
    todo = [t for t in trials if t["trial"] not in done]
    if verbose:
        print(f"sweep: {len(trials)} trials, {len(done)} already in {results}, {len(todo)} to run")
    with _dask_client(dask) as client:
        run = _run_on_dask if client is not None else _run_all
        for row in run(todo, estimator, x, y, folds, scoring, standardize, n_jobs, client):
            done[row["trial"]] = row
            if verbose:
                print(f"trial {row['trial']}: {_describe(row['params'])} -> {row['mean_score']:.4f}")
            if results:
                write_results(results, [done[i] for i in sorted(done)])
    rows = [_row(done[t["trial"]]) for t in trials]
    if plot:
        plot_sweep(rows, order, plot)
    return rows


def _run_all(todo, estimator, x, y, folds, scoring, standardize, n_jobs, client=None):
    """Rows of the finished trials, in the order they finish (joblib on this machine)."""
    import joblib

    if not todo:
        return
    parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from parallel(joblib.delayed(run_trial)(estimator, t, x, y, folds, scoring, standardize) for t in todo)


def _run_on_dask(todo, estimator, x, y, folds, scoring, standardize, n_jobs, client):
    """Rows of the finished trials as they finish on the Dask cluster (`as_completed`), at most n_jobs
    trials at a time (None: all). A trial that kills its worker (out of memory, a crash) ends in
    KilledWorker once the scheduler gives up on it, and is raised as an error naming the trial; the
    trials still queued are cancelled, the finished ones have been handed out already."""
    from dask.distributed import KilledWorker, as_completed

    if not todo:
        return
    if x.nbytes + y.nbytes > 2**20:  # large data goes to every worker once, not inside every task
        x, y = client.scatter([x, y], broadcast=True)
    queue = list(todo)
    limit = len(queue) if n_jobs is None or n_jobs < 1 else n_jobs
    trials, submitted = {}, []

    def submit():
        trial = queue.pop(0)
        future = client.submit(run_trial, estimator, trial, x, y, folds, scoring, standardize, pure=False,
                               key=f"mlplab-sweep-trial-{trial['trial']}-{os.urandom(4).hex()}")
        trials[future.key] = trial
        submitted.append(future)
        return future

    running = as_completed([submit() for _ in range(min(limit, len(queue)))])
    try:
        for future in running:
            try:
                row = future.result()
            except KilledWorker as err:
                trial = trials[future.key]
                raise RuntimeError(f"Trial {trial['trial']} ({_describe(trial['params'])}) killed the Dask worker "
                                   f"that ran it, and the scheduler gave up on it ({err}): it probably ran out of "
                                   "memory or crashed the process. The trials that finished are kept; fix or drop "
                                   "this setting and run the sweep again to resume.") from None
            if queue:
                running.add(submit())
            yield row
    finally:  # an error, Ctrl-C or a closed generator: nothing keeps running for this sweep
        running.clear()
        client.cancel([future for future in submitted if not future.done()])


def run_trial(estimator, trial, x, y, folds, scoring=None, standardize=True) -> dict:
    """One trial: the estimator with the trial's parameters and seed, cross-validated over `folds`,
    with BLAS on one thread (the workers already run in parallel)."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    model = clone(estimator).set_params(**trial["params"])
    # the trial's seed for every random_state, nested ones of a Pipeline included
    model.set_params(**{name: trial["seed"] for name in model.get_params()
                        if name == "random_state" or name.endswith("__random_state")})
    if standardize:
        model = make_pipeline(StandardScaler(), model)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a sweep tries short runs on purpose
        scores = cross_validate(model, x, y, cv=folds, scoring=scoring, n_jobs=1, error_score=np.nan)
    test = scores["test_score"]
    return {**trial, "mean_score": float(np.mean(test)), "std_score": float(np.std(test)),
            "fit_time": float(np.mean(scores["fit_time"]))}


# -- the results file ------------------------------------------------------------------------------
def _cell(value) -> str:
    """A parameter value as CSV text: strings as they are, other values as JSON (tuples become
    lists), or their repr when JSON cannot hold them."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value.item() if isinstance(value, np.generic) else value)
    except TypeError:
        return repr(value)


def _row(row) -> dict:
    """trial, seed, each parameter's value, the scores: one row of the table sweep returns."""
    return {"trial": row["trial"], "seed": row["seed"], **row["params"], **{k: row[k] for k in SCORE_COLUMNS}}


def _flat(row) -> dict:
    """trial, seed, each parameter, the scores: one CSV row (parameters as JSON text)."""
    return {"trial": row["trial"], "seed": row["seed"], **{k: _cell(v) for k, v in row["params"].items()},
            **{k: row[k] for k in SCORE_COLUMNS}}


def write_results(path, rows) -> None:
    """Write finished trials to `path` atomically: a temporary file, then os.replace."""
    flat = [_flat(r) for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".sweep-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, columns)
            writer.writeheader()
            writer.writerows(flat)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _resume(path, trials) -> dict:
    """The trials already in the results file, by index. A row must match a trial of this sweep (same
    index, seed and parameters), so that a file of another sweep is never mixed in; a file that is not
    UTF-8, not CSV, or has a truncated row is refused with its name and line."""
    if not path or not os.path.exists(path):
        return {}
    text = _read_text(path)
    if text and not text.endswith("\n"):  # write_results ends every row: a copy was cut short
        raise _results_error(path, text.count("\n") + 1, "the last line has no line end: the file is truncated")
    expected = {(str(t["trial"]), str(t["seed"])): t for t in trials}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    done, end = {}, 0
    try:
        columns = reader.fieldnames or []
        missing = [c for c in ["trial", "seed", *SCORE_COLUMNS] if c not in columns]
        if missing:
            raise _results_error(path, 1, f"the header has no {missing[0]!r} column: not a sweep results file")
        end = reader.line_num
        for row in reader:  # a row starts on the line after the previous one ended (a quoted field may span lines)
            line, end = end + 1, reader.line_num
            if None in row or None in row.values():
                count = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                raise _results_error(path, line, f"the row has {count} fields, the header {len(columns)}: "
                                                 "truncated or edited")
            trial = expected.get((row.get("trial"), row.get("seed")))
            if trial is None or any(row.get(k) != _cell(v) for k, v in trial["params"].items()):
                raise ValueError(f"Invalid value for argument `results`: expected a results file of this sweep "
                                 f"(same parameters and seed) to resume. Received: {path}, whose line {line} is "
                                 "another sweep's trial. Use another file name or delete it.")
            done[trial["trial"]] = {**trial, **{k: _score(path, line, k, row[k]) for k in SCORE_COLUMNS}}
    except csv.Error as err:
        raise _results_error(path, end + 1, f"it is not valid CSV ({err})") from None
    return done


def _read_text(path) -> str:
    with open(path, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _results_error(path, data[:err.start].count(b"\n") + 1,
                             f"byte {err.start} is not UTF-8 text ({err.reason})") from None


def _score(path, line: int, column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _results_error(path, line, f"{column} {text!r} is not a number: truncated or edited") from None


def _results_error(path, line: int, problem: str) -> ValueError:
    return ValueError(f"Cannot resume from the results file {os.fspath(path)!r}: line {line}: {problem}. "
                      "Fix or delete that line (its trial then runs again), or use another file name.")


@contextlib.contextmanager
def _dask_client(address):
    """A dask.distributed Client for "local" (a LocalCluster, one thread per worker) or an address."""
    if address is None:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("Sweeps on Dask need dask.distributed: pip install 'mlplab[dask]'.") from None
    if address == "local":
        import dask

        # A trial is deterministic (its own seed): one that killed a worker would kill the next one too.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
                LocalCluster(threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
            with Client(cluster) as client:
                yield client
        return
    if not isinstance(address, str) or "://" not in address:
        raise invalid("dask", "'local' or a scheduler address such as 'tcp://127.0.0.1:8786'", address)
    with Client(address) as client:
        yield client


# -- the plot --------------------------------------------------------------------------------------
def plot_sweep(rows, names, path) -> None:
    """Mean score ± std against the first parameter, one line per setting of the others; saved to `path`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("sweep: matplotlib is not installed, so no plot (pip install 'mlplab[plot]').")
        return
    first = names[0]
    others = [name for name in names[1:] if len({repr(row.get(name)) for row in rows}) > 1]  # swept ones only
    lines: dict[str, list] = {}
    for row in rows:
        label = ", ".join(f"{k}={row[k]}" for k in others) or "score"
        lines.setdefault(label, []).append(row)
    figure, axes = plt.subplots(figsize=(6, 4))
    for label, group in lines.items():
        ticks = [row[first] for row in group]
        axes.errorbar(range(len(group)), [r["mean_score"] for r in group], [r["std_score"] for r in group],
                      marker="o", capsize=3, label=label)
        axes.set_xticks(range(len(group)), ticks)
    axes.set_xlabel(first)
    axes.set_ylabel("cross-validated score (mean ± std)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _describe(params) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())
