"""The CLI's default test score on real tables against scikit-learn's MLP in a standardizing pipeline.

    PYTHONPATH=src python bench/bench_tables.py [--seeds 3] [--out bench/RESULTS_tables.md]

For penguins (raw palmerpenguins CSV: text columns, missing cells), wine and diabetes (scikit-learn's,
diabetes unscaled): a seeded 75/25 split written as CSV; `mlplab train` with its defaults on the
training file, `mlplab evaluate` on the test file; scikit-learn's MLPClassifier/MLPRegressor (defaults)
behind SimpleImputer + StandardScaler (+ OneHotEncoder for text) on the same rows. Accuracy or R².
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np


def datasets():
    import pandas as pd
    from sklearn.datasets import load_diabetes, load_wine

    here = os.path.dirname(os.path.abspath(__file__))
    penguins = pd.read_csv(os.path.join(here, "..", "tests", "data", "penguins.csv"))
    wine = load_wine(as_frame=True).frame
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    return {"penguins": (penguins, "species", "classification"), "wine": (wine, "target", "classification"),
            "diabetes": (diabetes, "target", "regression")}


def cli_score(train, test, target, task, folder, seed):
    from mlplab.cli.main import main

    train_path, test_path = os.path.join(folder, "train.csv"), os.path.join(folder, "test.csv")
    model = os.path.join(folder, "model.safetensors")
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", train_path, "--target", target, "--out", model, "--verbose", "0",
                     "--seed", str(seed)]) == 0
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["evaluate", model, test_path, "--json"]) == 0
    result = json.loads(buffer.getvalue())
    return result["accuracy"] if task == "classification" else result["r2"]


def sklearn_score(train, test, target, task, seed, scaled_target=False):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = train.drop(columns=[target]), train[target]
    text = [c for c in x.columns if x[c].dtype.kind not in "biuf"]
    numbers = [c for c in x.columns if c not in text]
    front = ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
                               ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                                     OneHotEncoder(handle_unknown="ignore")), text)])
    estimator = (MLPClassifier if task == "classification" else MLPRegressor)(random_state=seed)
    if scaled_target:
        from sklearn.compose import TransformedTargetRegressor

        estimator = TransformedTargetRegressor(regressor=estimator, transformer=StandardScaler())
    pipe = make_pipeline(front, estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(x, y)
    return pipe.score(test.drop(columns=[target]), test[target])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows, extra = [], []
    started = time.perf_counter()
    for name, (frame, target, task) in datasets().items():
        frame = frame.dropna(subset=[target])
        ours, theirs, scaled = [], [], []
        for seed in range(args.seeds):
            order = np.random.default_rng(seed).permutation(len(frame))
            cut = int(len(frame) * 0.75)
            train, test = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
            with tempfile.TemporaryDirectory() as folder:
                ours.append(cli_score(train, test, target, task, folder, seed))
            theirs.append(sklearn_score(train, test, target, task, seed))
            if task == "regression":
                scaled.append(sklearn_score(train, test, target, task, seed, scaled_target=True))
        if scaled:
            extra.append(f"{name}: scikit-learn with a standardized target (TransformedTargetRegressor around "
                         f"the same pipeline's MLPRegressor): R² {np.mean(scaled):.4f}.")
        rows.append((name, "accuracy" if task == "classification" else "R²", np.mean(ours), np.mean(theirs)))
        print(f"{name:9s} mlplab CLI {np.mean(ours):.4f}  scikit-learn {np.mean(theirs):.4f}", flush=True)
    lines = [f"# CLI defaults on real tables ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
             f"Command: `PYTHONPATH=src python bench/bench_tables.py --seeds {args.seeds}` "
             f"({time.perf_counter() - started:.0f} s).", "",
             "Test score, mean over seeded 75/25 splits: `mlplab train DATA --target T` with every default, then "
             "`mlplab evaluate`; against scikit-learn's MLP (defaults) behind SimpleImputer + StandardScaler "
             "(+ OneHotEncoder for text columns).", "",
             "| dataset | score | mlplab CLI | scikit-learn | difference |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {m} | {a:.4f} | {b:.4f} | {a - b:+.4f} |" for n, m, a, b in rows]
    lines += [""] + extra
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as file:
            file.write(text)


if __name__ == "__main__":
    sys.exit(main())
