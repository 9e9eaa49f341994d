"""Training speed: mlplab (NumPy) vs PyTorch (CPU) on the networks of the lecture notes.

Each case trains the same architecture with the same optimizer on the same data for a fixed number of
steps and reports microseconds per step (median of `--repeats` runs). Run:

    python bench/bench_training.py                  # both libraries, this machine's BLAS settings
    OPENBLAS_CORETYPE= python bench/bench_training.py   # without the Haswell override (see RESULTS.md)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

CASES = {
    # name: (layer sizes, hidden activation, batch size, n_samples, steps, optimizer)
    "xor 2-3-1 sigmoid, full batch, SGD": ([2, 3, 1], "sigmoid", 4, 4, 20_000, "sgd"),
    "tabular 20-64-64-1 relu, batch 256, Adam": ([20, 64, 64, 1], "relu", 256, 4096, 1_000, "adam"),
    "mnist 784-100-10 relu, batch 32, Adam": ([784, 100, 10], "relu", 32, 4096, 2_000, "adam"),
    "mnist 784-100-10 relu, batch 512, Adam": ([784, 100, 10], "relu", 512, 8192, 300, "adam"),
}


def _data(sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, sizes[0])).astype(np.float32)
    if sizes[-1] == 1:
        y = (x[:, :1] > 0).astype(np.float32)
    else:
        y = rng.integers(0, sizes[-1], size=n)
    return x, y


def bench_mlplab(sizes, activation, batch, n, steps, optimizer):
    import mlplab as ml

    x, y = _data(sizes, n)
    out = "sigmoid" if sizes[-1] == 1 else "softmax"
    layers = [ml.Dense(u, activation) for u in sizes[1:-1]] + [ml.Dense(sizes[-1], out)]
    model = ml.Sequential(layers, seed=0)
    loss = "binary_crossentropy" if sizes[-1] == 1 else "sparse_categorical_crossentropy"
    opt = ml.SGD(0.01) if optimizer == "sgd" else ml.Adam(1e-3)
    model.compile(optimizer=opt, loss=loss)
    model.build((sizes[0],))
    batches = [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]
    start = time.perf_counter()
    for step in range(steps):
        xb, yb = batches[step % len(batches)]
        ml.train_step(model, xb, yb if yb.ndim > 1 else yb)
    return (time.perf_counter() - start) / steps * 1e6


def bench_torch(sizes, activation, batch, n, steps, optimizer):
    import torch

    x, y = _data(sizes, n)
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[activation]
    modules = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        modules += [torch.nn.Linear(a, b), act()]
    modules.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*modules)
    loss_fn = torch.nn.BCEWithLogitsLoss() if sizes[-1] == 1 else torch.nn.CrossEntropyLoss()
    opt = (torch.optim.SGD(model.parameters(), lr=0.01) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y) if sizes[-1] == 1 else torch.from_numpy(y).long()
    batches = [(xt[i:i + batch], yt[i:i + batch]) for i in range(0, n, batch)]
    start = time.perf_counter()
    for step in range(steps):
        xb, yb = batches[step % len(batches)]
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    return (time.perf_counter() - start) / steps * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    threads = None
    if not args.no_torch:
        import torch
        threads = torch.get_num_threads()
    print(f"python {platform.python_version()}, numpy {np.__version__}, cores {os.cpu_count()}, "
          f"torch threads {threads}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')!r}")
    rows = []
    for name, case in CASES.items():
        ours = statistics.median(bench_mlplab(*case) for _ in range(args.repeats))
        theirs = None if args.no_torch else statistics.median(bench_torch(*case) for _ in range(args.repeats))
        rows.append({"case": name, "mlplab_us_per_step": round(ours, 1),
                     "torch_us_per_step": None if theirs is None else round(theirs, 1)})
        ratio = "" if theirs is None else f"  torch {theirs:9.1f} us  -> mlplab is {theirs / ours:.2f}x as fast"
        print(f"{name:45s} mlplab {ours:9.1f} us{ratio}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
