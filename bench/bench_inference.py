"""Inference at every scale: one-row and 10,000-row predict against onnxruntime and PyTorch, with the
physical bounds beside them; a streamed predict of a 2 GB Parquet file; an out-of-core fit.

    python bench/bench_inference.py latency [--repeats 2000]
    python bench/bench_inference.py stream [--gigabytes 2]
    python bench/bench_inference.py fit

latency: 784-100-10 float32 (ReLU, softmax), the same weights in every library; mlplab's own ONNX
export runs in onnxruntime (1 thread, and its default); PyTorch with 1 thread and its default. The
libraries run interleaved in one process, medians. Bounds: the weights' bytes over the measured
memory bandwidth (a large copy), which applies when the weights are not cached, and over the
L2-resident read rate (an sdot over an array the size of the weights), which applies to repeated calls; FLOPs (2·multiply-adds) over
the measured single-thread sgemm rate (a 2048² float32 matmul through NumPy/OpenBLAS).
stream: writes a Parquet file of the given size under /tmp (float64 features), runs `mlplab predict`
on it in a subprocess (peak RSS from the kernel), then the same rows predicted in memory; deletes it.
fit: out-of-core fit on a Dask array 4x the chunk against in-memory fit, test accuracy and peak RSS
(each in its own subprocess).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)
import mlplab as ml  # noqa: E402


def machine() -> str:
    from mlplab.engine import compiled
    return (f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy "
            f"{np.__version__}, kernel ISA {compiled.isa() or 'none'}, OPENBLAS_CORETYPE="
            f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")


def model_784():
    model = ml.Sequential([ml.Dense(100, "relu", input_dim=784), ml.Dense(10, "softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bounds(n_rows):
    """(memory-bandwidth bound s, L2 bound s, compute bound s) for n_rows through 784-100-10."""
    weights = (784 * 100 + 100 + 100 * 10 + 10) * 4
    big = np.ones(2**26 // 4, np.float32)  # 64 MB
    dram = 2 * big.nbytes / timed(lambda: big.copy(), 5)  # read + write
    small = np.ones(weights // 4, np.float32)
    l2 = small.nbytes / timed(lambda: small @ small, 2000)  # sdot: one SIMD pass over an L2-resident array
    a = np.ones((2048, 2048), np.float32)
    try:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            flops = 2 * 2048**3 / timed(lambda: a @ a, 3)
    except ImportError:
        flops = 2 * 2048**3 / timed(lambda: a @ a, 3)
    work = 2 * (784 * 100 + 100 * 10) * n_rows
    data = n_rows * (784 + 10) * 4
    return {"weights_bytes": weights, "dram_GBps": dram / 1e9, "l2_GBps": l2 / 1e9, "sgemm_1thread_GFLOPs": flops / 1e9,
            "bound_dram_us": 1e6 * (weights + data) / dram, "bound_l2_us": 1e6 * (weights + data) / l2,
            "bound_flops_us": 1e6 * work / flops}


def latency(repeats):
    import onnxruntime as ort
    import torch

    from mlplab.engine import compiled

    model = model_784()
    rng = np.random.default_rng(0)
    rows = {1: rng.random((1, 784), dtype=np.float32), 10000: rng.random((10000, 784), dtype=np.float32)}
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "m.onnx")
    model.export_onnx(path)
    sessions = {}
    for threads in (1, 0):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        sessions[threads] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = sessions[1].get_inputs()[0].name
    w1, b1, w2, b2 = model.get_weights()
    net = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10), torch.nn.Softmax(1))
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(w1.T)); net[0].bias.copy_(torch.from_numpy(b1))
        net[2].weight.copy_(torch.from_numpy(w2.T)); net[2].bias.copy_(torch.from_numpy(b2))
    net.eval()
    default_threads = torch.get_num_threads()

    def run_torch(x, threads):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return net(torch.from_numpy(x)).numpy()

    def plain(x):  # each layer's own forward: NumPy matmul, no compiled stack
        compiled.set_enabled(False)
        try:
            return model.predict(x)
        finally:
            compiled.set_enabled(True)

    contenders = {
        "mlplab predict": lambda x: model.predict(x),
        "mlplab predict, NumPy path (MLPLAB_INFER=0)": plain,
        "onnxruntime, 1 thread": lambda x: sessions[1].run(None, {name: x}),
        "onnxruntime, default threads": lambda x: sessions[0].run(None, {name: x}),
        "PyTorch, 1 thread": lambda x: run_torch(x, 1),
        f"PyTorch, default threads ({default_threads})": lambda x: run_torch(x, default_threads),
    }
    for x in rows.values():  # the same numbers, up to rounding
        for fn in contenders.values():
            out = fn(x)
            out = out[0] if isinstance(out, list) else out
            np.testing.assert_allclose(out, model.forward(x, False), rtol=1e-4, atol=1e-6)
    results = {}
    for n, x in rows.items():
        reps = repeats if n == 1 else max(10, repeats // 100)
        samples = {key: [] for key in contenders}
        for _ in range(5):  # interleaved rounds
            for key, fn in contenders.items():
                samples[key].append(timed(lambda: fn(x), reps // 5))
        results[n] = {key: 1e6 * statistics.median(v) for key, v in samples.items()}
        results[n]["bounds"] = bounds(n)
    return results


def print_latency(results):
    print(f"\n## Predict latency, 784-100-10 float32 ({machine()})\n")
    print("| contender | 1 row, µs | 10,000 rows, ms |\n| --- | ---: | ---: |")
    for key in results[1]:
        if key != "bounds":
            print(f"| {key} | {results[1][key]:.1f} | {results[10000][key] / 1000:.2f} |")
    for n in (1, 10000):
        b = results[n]["bounds"]
        unit, scale = ("µs", 1) if n == 1 else ("ms", 1e-3)
        print(f"\nBounds for {n} row(s): weights {b['weights_bytes']:,} B; memory {b['dram_GBps']:.1f} GB/s → "
              f"{b['bound_dram_us'] * scale:.3g} {unit}; L2-resident read {b['l2_GBps']:.1f} GB/s → "
              f"{b['bound_l2_us'] * scale:.3g} {unit}; sgemm 1 thread {b['sgemm_1thread_GFLOPs']:.0f} GFLOP/s → "
              f"{b['bound_flops_us'] * scale:.3g} {unit}.")


def _peak_rss_run(code, *args):
    """Run python -c code in a subprocess; (seconds, its own peak RSS in MB, stdout). os.wait4 gives the
    child's own rusage (RUSAGE_CHILDREN would be the largest of all children so far)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        if proc.returncode:
            raise RuntimeError(err.read()[-3000:])
        return seconds, usage.ru_maxrss / 1024, out.read()


STREAM_MODEL = textwrap.dedent("""
    import sys, numpy as np, mlplab as ml
    from mlplab.files.model_files import save_model
    n = int(sys.argv[2])
    model = ml.Sequential([ml.Dense(64, "relu", input_dim=n), ml.Dense(10, "softmax")], seed=0)
    names = [f"f{i}" for i in range(n)]
    save_model(model, sys.argv[1], preprocessing={"task": "classification", "target": "y", "feature_names": names,
               "mean": [0.0] * n, "scale": [1.0] * n})
""")
READ_ONLY = textwrap.dedent("""
    import sys, time, pyarrow.parquet as pq
    file = pq.ParquetFile(sys.argv[1], pre_buffer=False)
    rows = sum(len(b) for b in file.iter_batches(batch_size=20971, use_threads=False))
""")
IN_MEMORY = textwrap.dedent("""
    import sys, time, numpy as np, pyarrow.parquet as pq
    from mlplab.files.model_files import load_model
    model = load_model(sys.argv[1])
    table = pq.read_table(sys.argv[2])
    x = np.empty((table.num_rows, table.num_columns), np.float32)  # C order, as predict takes it
    for j, column in enumerate(table.columns):
        x[:, j] = column.to_numpy()
    del table
    start = time.perf_counter(); model.predict(x); print(time.perf_counter() - start, len(x))
""")


def stream(gigabytes):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tempfile.mkdtemp(dir="/tmp")
    data, model_path, out = (os.path.join(folder, n) for n in ("big.parquet", "m.safetensors", "preds.parquet"))
    n_cols, group = 100, 100_000
    groups = int(gigabytes * 2**30 / (8 * n_cols * group))
    names = [f"f{i}" for i in range(n_cols)]
    rng = np.random.default_rng(0)
    try:
        start = time.perf_counter()
        schema = pa.schema([(name, pa.float64()) for name in names])
        with pq.ParquetWriter(data, schema, compression="none") as writer:
            for _ in range(groups):
                values = rng.standard_normal((group, n_cols))
                writer.write_table(pa.Table.from_arrays(list(values.T), schema=schema))
        written = time.perf_counter() - start
        size = os.path.getsize(data)
        subprocess.run([sys.executable, "-c", STREAM_MODEL, model_path, str(n_cols)], env={**os.environ, "PYTHONPATH": SRC},
                       check=True)
        streamed, peak, _ = _peak_rss_run("import sys; from mlplab.cli.main import main; sys.exit(main(sys.argv[1:]))",
                                          "predict", model_path, data, "--out", out)
        reading, read_peak, _ = _peak_rss_run(READ_ONLY, data)
        _, memory_peak, stdout = _peak_rss_run(IN_MEMORY, model_path, data)
        memory_s, rows = stdout.split()
        memory_s, rows = float(memory_s), int(rows)
    finally:
        for path in (data, model_path, out):
            if os.path.exists(path):
                os.remove(path)
        os.rmdir(folder)
    print(f"\n## Streamed predict of a {size / 2**30:.2f} GiB Parquet file ({machine()})\n")
    print(f"{rows:,} rows x {n_cols} float64 columns (uncompressed, written in {written:.0f} s), model {n_cols}-64-10.\n")
    print("| run | seconds | rows/s | peak RSS MB |\n| --- | ---: | ---: | ---: |")
    print(f"| `mlplab predict MODEL big.parquet --out preds.parquet` (read, predict, write) | {streamed:.1f} | "
          f"{rows / streamed:,.0f} | {peak:.0f} |")
    print(f"| reading the file alone, the same chunks (pyarrow `iter_batches`, Python start included) | "
          f"{reading:.1f} | {rows / reading:,.0f} | {read_peak:.0f} |")
    print(f"| in memory: `model.predict(x)` on the same rows, already loaded | {memory_s:.1f} | {rows / memory_s:,.0f} | "
          f"{memory_peak:.0f} (with the table) |")
    print(f"\nRatio streamed / in-memory predict time: {streamed / memory_s:.2f}; streamed / reading alone: "
          f"{streamed / reading:.2f}")


FIT = textwrap.dedent("""
    import sys, json, numpy as np, mlplab as ml
    mode, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    d = 50
    direction = np.random.default_rng(99).standard_normal((d, 3)).astype(np.float32)
    def block(i, rows):
        x = np.random.default_rng(i).standard_normal((rows, d)).astype(np.float32)
        return x, (x @ direction).argmax(axis=1)
    def model():
        m = ml.Sequential([ml.Dense(64, "relu", input_dim=d), ml.Dense(3, "softmax")], seed=0)
        m.compile(optimizer=ml.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m
    test = block(10**6, 20000)
    m = model()
    if mode == "memory":
        parts = [block(i, chunk) for i in range(n // chunk)]
        x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        del parts
        m.fit(x, y, epochs=3, batch_size=64, verbose=0)
    else:
        import dask, dask.array as da
        xs = [da.from_delayed(dask.delayed(lambda i: block(i, chunk)[0])(i), (chunk, d), np.float32) for i in range(n // chunk)]
        ys = [da.from_delayed(dask.delayed(lambda i: block(i, chunk)[1])(i), (chunk,), np.int64) for i in range(n // chunk)]
        m.fit(da.concatenate(xs), da.concatenate(ys), epochs=3, batch_size=64, verbose=0)
    print(json.dumps(m.evaluate(*test)))
""")


def fit():
    n, chunk = 800_000, 200_000  # the table is 4x the chunk; 153 MB of float32 features, 38 MB a chunk
    runs = [("memory", n), ("chunks", n), ("chunks", 2 * n)]
    results = [(mode, rows, *_peak_rss_run(FIT, mode, str(rows), str(chunk))) for mode, rows in runs]
    print(f"\n## Out-of-core fit ({machine()})\n")
    print(f"Rows x 50 float32 features, chunks of {chunk:,} rows ({chunk * 50 * 4 / 2**20:.0f} MB), 50-64-3, Adam, "
          f"3 epochs, batch 64; test accuracy on 20,000 held-out rows. Each fit in its own process.\n")
    print("| fit | rows (MB) | seconds | peak RSS MB | test accuracy |\n| --- | ---: | ---: | ---: | ---: |")
    for mode, rows, seconds, peak, stdout in results:
        label = "in memory, `fit(x, y)`" if mode == "memory" else f"out of core, `fit(dask_x, dask_y)`, {rows // chunk} chunks"
        accuracy = json.loads(stdout)["accuracy"]
        print(f"| {label} | {rows:,} ({rows * 200 / 2**20:.0f}) | {seconds:.1f} | {peak:.0f} | {accuracy:.4f} |")
    same = [json.loads(r[4])["accuracy"] for r in results[:2]]
    print(f"\nAccuracy difference, same table in memory and in 4 chunks: {abs(same[0] - same[1]):.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["latency", "stream", "fit"])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--gigabytes", type=float, default=2.0)
    args = parser.parse_args()
    print(f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `python bench/bench_inference.py {args.part}`")
    if args.part == "latency":
        print_latency(latency(args.repeats))
    elif args.part == "stream":
        stream(args.gigabytes)
    else:
        fit()
