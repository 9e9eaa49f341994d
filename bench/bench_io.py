"""Save/load time and file size of mlplab model files against torch.save/torch.load and np.savez/np.load.

    python bench/bench_io.py [--repeats 30]

Models: 784-100-10 and 784-512-512-512-10 (float32, ReLU, softmax), weights only (what the others store).
"Read bytes" is the floor for loading: reading the file into memory. Medians over --repeats runs,
files in a temporary folder (page cache warm after the first run). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import mlplab as ml  # noqa: E402


def build(sizes):
    layers = [ml.Dense(sizes[1], "relu", input_dim=sizes[0])]
    layers += [ml.Dense(n, "relu") for n in sizes[2:-1]] + [ml.Dense(sizes[-1], "softmax")]
    model = ml.Sequential(layers, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def median_ms(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def bench(sizes, folder, repeats):
    model = build(sizes)
    rows = []
    path = folder / "model.safetensors"
    rows.append(("mlplab model.save / ml.load_model", median_ms(lambda: model.save(path), repeats),
                 median_ms(lambda: ml.load_model(path), repeats), path.stat().st_size,
                 median_ms(lambda: read_bytes(path), repeats)))
    path = folder / "weights.safetensors"
    rows.append(("mlplab save_weights / load_weights", median_ms(lambda: model.save_weights(path), repeats),
                 median_ms(lambda: model.load_weights(path), repeats), path.stat().st_size,
                 median_ms(lambda: read_bytes(path), repeats)))
    weights = model.get_weights()
    path = folder / "weights.npz"
    rows.append(("np.savez / np.load", median_ms(lambda: np.savez(path, *weights), repeats),
                 median_ms(lambda: [a for a in np.load(path).values()], repeats), path.stat().st_size,
                 median_ms(lambda: read_bytes(path), repeats)))
    try:
        import torch
    except ImportError:
        return rows
    module = ml.to_torch(model)
    path = folder / "weights.pt"
    rows.append(("torch.save / torch.load(weights_only=True)",
                 median_ms(lambda: torch.save(module.state_dict(), path), repeats),
                 median_ms(lambda: torch.load(path, weights_only=True), repeats), path.stat().st_size,
                 median_ms(lambda: read_bytes(path), repeats)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}; "
          f"median of {args.repeats}\n")
    with tempfile.TemporaryDirectory() as folder:
        for sizes in ([784, 100, 10], [784, 512, 512, 512, 10]):
            print(f"### {'-'.join(map(str, sizes))} ({build(sizes).count_params()} parameters, float32)\n")
            print("| format | save ms | load ms | file bytes | read bytes ms |")
            print("|---|---:|---:|---:|---:|")
            for name, save, load, size, read in bench(sizes, Path(folder), args.repeats):
                print(f"| {name} | {save:.2f} | {load:.2f} | {size:,} | {read:.2f} |")
            print()


if __name__ == "__main__":
    main()
