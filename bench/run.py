"""mlplab against PyTorch, scikit-learn and Keras 3 (JAX) on the CPU: one interleaved benchmark run.

What it measures (sizes and constants: bench/workloads.py; per-library code: bench/peers/):
  W1  XOR 2-3-1 sigmoid, full batch of 4, SGD: steps per second
  W2  MNIST 784-100-10, Adam, batch 32 and 128: seconds per epoch, test accuracy, peak memory
  W3  784-512-512-512-10, Adam, batch 128, on 12,800 images: seconds per epoch
  W4  inference of a 784-100-10 net on the 10,000 test images: milliseconds per call
  W5  scaling against samples, width and depth (mlplab and torch): seconds per epoch, bench/scaling.png

How: each (library, workload) runs in its own worker process (bench/workers.py) that this driver
steers with line-delimited JSON; one worker computes at a time. Round r asks every library for
its unit r, in an order rotated each round; round 0 is the warm-up and is excluded; each result
is the median with min-max of the remaining rounds. Every workload runs once with the environment
with OPENBLAS_CORETYPE=Haswell and once with it removed (--blas). During each unit the driver also reads
/proc/stat to measure CPU time used by processes other than the worker ("other load"), so numbers
taken on a busy machine are visible as such. A library that is not installed is reported as skipped.

Run (from the repository root):
    python bench/run.py                      # everything; rewrites the generated part of bench/RESULTS.md
    python bench/run.py --quick              # tiny sizes, under a minute; writes only what --out/--json name
    python bench/run.py --only W1,W2 --peers mlplab,torch --blas unset --rounds 3 --json /tmp/r.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import workloads as W

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")
BEGIN, END = "<!-- bench:run.py begin -->", "<!-- bench:run.py end -->"
BUSY = 0.25             # mean cores used by other processes during a row's units above which it is flagged
MIN_LOAD_WALL_S = 0.3   # rows whose timed units add up to less are too short to measure that load


class Entry(NamedTuple):
    """One worker process: a library (and a variant of how it is called) on one workload."""
    label: str
    lib: str
    variant: str | None = None


FOUR = [Entry("mlplab", "mlplab"), Entry("torch", "torch"), Entry("keras", "keras"), Entry("sklearn", "sklearn")]
ENTRIES = {
    "W1": [Entry("mlplab (train_step loop)", "mlplab", "loop"), Entry("mlplab (fit)", "mlplab", "fit"),
           *FOUR[1:]],
    "W2": FOUR,
    "W3": FOUR,
    "W4": [FOUR[0], FOUR[1], Entry("keras (predict)", "keras", "predict"), Entry("keras (model(x))", "keras", "call"),
           FOUR[3], Entry("onnxruntime", "onnxruntime")],
    "W5": [e for e in FOUR if e.lib in W.W5_PEERS],
    "W6": [FOUR[0], FOUR[1], Entry("onnxruntime (1 thread)", "onnxruntime", "1thread")],
}
REFERENCE = {"W1": "mlplab (train_step loop)"}      # the mlplab row the ratios use (default: "mlplab")
UNITS = {"W1": "steps/s", "W2": "s/epoch", "W3": "s/epoch", "W4": "ms/call", "W5": "s/epoch", "W6": "µs/call"}
TITLES = {
    "W1": "XOR 2-3-1, sigmoid hidden and output, BCE, full batch of 4, SGD lr 0.5",
    "W2": "MNIST 784-100-10 ReLU/softmax, sparse categorical cross-entropy, Adam lr 1e-3, shuffled epochs",
    "W3": "784-512-512-512-10 ReLU, Adam lr 1e-3, batch 128, first {n} training images",
    "W4": "inference, 784-100-10 on {n} test images",
    "W5": "scaling, 784-...-10 ReLU, Adam lr 1e-3, batch 128",
    "W6": "inference on one row, 784-100-10",
}


# -- sizes -------------------------------------------------------------------------------------------------
def cases(workload: str, quick: bool) -> list[str]:
    """The case names the driver sends with each unit (a fresh model per case)."""
    if workload == "W2":
        return [f"b{b}" for b in W.W2_BATCHES]
    if workload == "W5":
        return [c["name"] for c in W.scaling_cases(quick)]
    return [{"W1": "xor", "W3": "784-512x3-10", "W4": "784-100-10", "W6": "one row"}[workload]]


def rounds_for(workload: str, args) -> int:
    if args.rounds:
        return args.rounds
    return W.QUICK["rounds"] if args.quick else W.ROUNDS[workload]


def value(workload: str, seconds: float, work: int) -> float:
    """A unit's number in the workload's unit: steps/s, ms/call or s/epoch."""
    if workload == "W1":
        return work / seconds
    if workload == "W4":
        return 1000 * seconds / work
    if workload == "W6":
        return 1e6 * seconds / work
    return seconds / work


# -- the machine -------------------------------------------------------------------------------------------
def cpu_busy_seconds() -> float | None:
    """Busy CPU time of the whole machine so far (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")     # utime stime cutime cstime


def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_gib": None, "python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        info["cpu"] = names[0] if names else info["cpu"]
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal"))
        info["memory_gib"] = round(kib / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return info


def blas_env(setting: str) -> dict:
    """The workers' environment: OPENBLAS_CORETYPE=Haswell forced ("haswell", what this project's
    machines set), or removed so OpenBLAS picks the kernel for this CPU ("unset")."""
    env = dict(os.environ)
    if setting == "unset":
        env.pop(W.BLAS_VARIABLE, None)
    else:
        env[W.BLAS_VARIABLE] = "Haswell"
    return env


def describe_setting(setting: str) -> str:
    if setting == "unset":
        return f"{W.BLAS_VARIABLE} removed from the workers' environment (OpenBLAS detects the CPU)"
    return f"{W.BLAS_VARIABLE}=Haswell in the workers' environment"


# -- workers -----------------------------------------------------------------------------------------------
class WorkerError(RuntimeError):
    pass


class Worker:
    """A worker subprocess and its line-delimited JSON conversation."""

    def __init__(self, entry: Entry, workload: str, quick: bool, env: dict):
        self.entry = entry
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "workers.py"), entry.lib, workload, entry.variant or "-",
             json.dumps({"quick": quick})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env, text=True, bufsize=1)
        try:
            self.hello = self.read()
        except WorkerError:
            self.close()
            raise

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"{self.entry.label}: the worker exited (code {self.proc.wait()}): {self.tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"{self.entry.label}: {reply['error'].strip().splitlines()[-1]}\n{reply['error']}")
        return reply

    def ask(self, message: dict) -> dict:
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass                                  # read() reports the exit with the worker's stderr
        return self.read()

    def tail(self, lines: int = 15) -> str:
        self.stderr.seek(0)
        return "\n".join(self.stderr.read().decode(errors="replace").splitlines()[-lines:])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def timed_unit(worker: Worker, case: str) -> tuple[dict, tuple[float, float] | None]:
    """One unit, and (CPU seconds used meanwhile by other processes, wall seconds) when /proc tells."""
    busy0, own0, start = cpu_busy_seconds(), process_cpu_seconds(worker.proc.pid), time.perf_counter()
    reply = worker.ask({"cmd": "unit", "case": case})
    busy1, own1, wall = cpu_busy_seconds(), process_cpu_seconds(worker.proc.pid), time.perf_counter() - start
    if None in (busy0, busy1, own0, own1):
        return reply, None
    return reply, (max(0.0, (busy1 - busy0) - (own1 - own0)), wall)


def other_load(loads: list) -> float | None:
    """Mean number of cores that other processes used during a row's timed units; None when the units
    are too short in total for /proc's 10 ms ticks to say."""
    loads = [x for x in loads if x is not None]
    wall = sum(w for _, w in loads)
    return sum(c for c, _ in loads) / wall if wall >= MIN_LOAD_WALL_S else None


def run_workload(workload: str, setting: str, args, log) -> dict:
    """All rounds of one workload under one BLAS setting: rows, workers' facts, skips and errors."""
    out = {"rows": [], "facts": {}, "skipped": {}, "errors": {}}
    env = blas_env(setting)
    workers = []
    for entry in [e for e in ENTRIES[workload] if e.lib in args.peers]:
        try:
            worker = Worker(entry, workload, args.quick, env)
        except WorkerError as error:
            out["errors"][entry.label] = str(error)
            log(f"  ERROR {error}")
            continue
        if "skipped" in worker.hello:
            out["skipped"][entry.label] = worker.hello["skipped"]
            log(f"  {entry.label}: skipped ({worker.hello['skipped']})")
            worker.close()
            continue
        out["facts"][entry.label] = {"versions": worker.hello["versions"], "python": worker.hello["python"]}
        workers.append(worker)

    n_rounds = W.WARMUP_UNITS + rounds_for(workload, args)
    for case in cases(workload, args.quick):
        samples = {w.entry.label: [] for w in workers}
        other = {w.entry.label: [] for w in workers}
        for r in range(n_rounds):
            alive = [w for w in workers if w.entry.label not in out["errors"]]
            shift = r % len(alive) if alive else 0
            for worker in alive[shift:] + alive[:shift]:
                time.sleep(W.QUICK["pause_s"] if args.quick else W.PAUSE_BETWEEN_UNITS_S)
                try:
                    reply, load = timed_unit(worker, case)
                except WorkerError as error:
                    out["errors"][worker.entry.label] = str(error)
                    log(f"  ERROR {error}")
                    continue
                if r >= W.WARMUP_UNITS:
                    samples[worker.entry.label].append(value(workload, reply["seconds"], reply["work"]))
                    other[worker.entry.label].append(load)
        rows = [summarize(workload, setting, case, label, samples[label], other[label])
                for label in samples if samples[label]]
        add_ratios(workload, rows)
        out["rows"] += rows
        log(f"  [{setting}] {workload} {case}: " + " | ".join(
            f"{row['library']} {fmt(row['median'])} ({fmt(row['min'])}-{fmt(row['max'])})" for row in rows)
            + f" {UNITS[workload]}")

    for worker in workers:
        if worker.entry.label not in out["errors"]:
            try:
                out["facts"][worker.entry.label].update(worker.ask({"cmd": "finish"}))
            except WorkerError as error:
                out["errors"][worker.entry.label] = str(error)
        worker.close()
    return out


def summarize(workload, setting, case, label, samples, other) -> dict:
    return {"blas": setting, "workload": workload, "case": case, "library": label, "unit": UNITS[workload],
            "median": statistics.median(samples), "min": min(samples), "max": max(samples), "samples": samples,
            "higher_is_better": workload == "W1", "other_load": other_load(other)}


def add_ratios(workload: str, rows: list[dict]) -> None:
    """speedup: how many times faster mlplab's reference row is than this row (>1: mlplab faster)."""
    ref = next((r for r in rows if r["library"] == REFERENCE.get(workload, "mlplab")), None)
    for row in rows:
        if ref is None:
            row["speedup"] = None
        elif row["higher_is_better"]:
            row["speedup"] = ref["median"] / row["median"]
        else:
            row["speedup"] = row["median"] / ref["median"]


# -- targets -----------------------------------------------------------------------------------------------
def targets(results: dict, setting: str) -> list[dict]:
    """The issue's targets, from the medians of this run under one BLAS setting."""
    rows = {(r["workload"], r["case"], r["library"]): r for r in results["rows"] if r["blas"] == setting}
    facts = results["facts"].get(setting, {})
    w2 = facts.get("W2", {}).get("mlplab", {})
    quick = results["meta"]["quick"]
    out = []

    def add(name, measured, required, met, note=""):
        if quick and ("accuracy" in name or "RSS" in name):
            met, note = None, "quick mode: " + ("fewer epochs on 2,000 images" if "accuracy" in name else
                                                "the loader still reads all of MNIST")
        out.append({"blas": setting, "target": name, "measured": measured, "required": required, "met": met,
                    "note": note})

    def ratio(name, workload, case, peer, required, strict=False, aim=None, key=None):
        key = key or REFERENCE.get(workload, "mlplab")
        ours, theirs = rows.get((workload, case, key)), rows.get((workload, case, peer))
        if ours is None or theirs is None:
            return add(name, None, required, None, "not measured")
        r = (ours["median"] / theirs["median"] if ours["higher_is_better"] else theirs["median"] / ours["median"])
        notes = [f"aim {aim}: {'met' if r >= aim else 'not met'}"] if aim else []
        load = max((x["other_load"] or 0) for x in (ours, theirs))
        if load > BUSY:
            notes.append(f"busy machine: other processes used {load:.2f} cores")
        add(name, r, required, r > required if strict else r >= required, "; ".join(notes))

    ratio("W1 mlplab train_step loop steps/s ÷ torch", "W1", "xor", "torch", 5)
    ratio("W1 mlplab fit(epochs=N, batch_size=None) steps/s ÷ torch", "W1", "xor", "torch", 5, aim=10,
          key="mlplab (fit)")
    ratio("W2 b32 torch time ÷ mlplab time", "W2", "b32", "torch", 1.5, aim=2)
    ratio("W2 b32 keras time ÷ mlplab time", "W2", "b32", "keras", 1.5, aim=2)
    ratio("W2 b32 sklearn time ÷ mlplab time", "W2", "b32", "sklearn", 2)
    acc = w2.get("accuracy", {}).get("b32")
    epochs = w2.get("epochs", {}).get("b32")
    add(f"W2 b32 mlplab test accuracy after {epochs or W.W2_EPOCHS} epochs", acc, W.W2_TARGET_ACCURACY,
        None if acc is None else acc >= W.W2_TARGET_ACCURACY,
        "" if epochs in (None, W.W2_EPOCHS) else f"trained {epochs} epochs, not {W.W2_EPOCHS}")
    ratio("W2 b128 torch time ÷ mlplab time", "W2", "b128", "torch", 1.5)
    ours, gflops = rows.get(("W2", "b128", "mlplab")), w2.get("gemm_gflops")
    if ours and gflops:
        bound = W.w2_epoch_flops(w2["n_train"]) / (gflops * 1e9)
        note = f"bound {bound:.3f} s = {W.w2_epoch_flops(w2['n_train']) / 1e9:.2f} GFLOP at {gflops:.1f} GFLOP/s"
        if (ours["other_load"] or 0) > BUSY:
            note += f"; busy machine: other processes used {ours['other_load']:.2f} cores"
        add("W2 b128 mlplab epoch time ÷ arithmetic lower bound", ours["median"] / bound, 2.5,
            ours["median"] / bound <= 2.5, note)
    else:
        add("W2 b128 mlplab epoch time ÷ arithmetic lower bound", None, 2.5, None, "not measured")
    if "maxrss_bytes" in w2:
        extra = (w2["maxrss_bytes"] - w2["dataset_bytes"]) / 1e6
        add("W2 mlplab peak RSS − float32 dataset (MB)", extra, W.W2_MEMORY_SLACK_BYTES / 1e6,
            extra * 1e6 <= W.W2_MEMORY_SLACK_BYTES,
            f"peak {w2['maxrss_bytes'] / 1e6:.0f} MB, dataset {w2['dataset_bytes'] / 1e6:.0f} MB")
    else:
        add("W2 mlplab peak RSS − float32 dataset (MB)", None, W.W2_MEMORY_SLACK_BYTES / 1e6, None, "not measured")
    ratio("W3 torch time ÷ mlplab time", "W3", "784-512x3-10", "torch", 1)
    ratio("W4 torch time ÷ mlplab time", "W4", "784-100-10", "torch", 1)
    ratio("W4 onnxruntime time ÷ mlplab time", "W4", "784-100-10", "onnxruntime", 1)
    ratio("W6 one row: onnxruntime (1 thread) time ÷ mlplab time", "W6", "one row", "onnxruntime (1 thread)", 1)
    ratio("W6 one row: torch time ÷ mlplab time", "W6", "one row", "torch", 1)
    return out


# -- output ------------------------------------------------------------------------------------------------
def fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits + 1}g}" if abs(x) < 100 else f"{x:.1f}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def met_text(met) -> str:
    return "n/a" if met is None else "**yes**" if met else "**no**"


def target_value(target: dict, x) -> str:
    if x is None:
        return "–"
    if "accuracy" in target["target"]:
        return f"{100 * x:.2f} %"
    return f"{x:.0f}" if "MB" in target["target"] else f"{x:.2f}×"


def targets_table(all_targets: list[dict]) -> str:
    def required(t):
        sign = "> " if "(mlplab faster)" in t["target"] else "≤ " if t["target"].startswith(
            ("W2 b128 mlplab epoch", "W2 mlplab peak")) else "≥ "
        return sign + target_value(t, t["required"])

    return table(["target", "BLAS", "measured", "required", "met?", "note"],
                 [[t["target"], t["blas"], target_value(t, t["measured"]), required(t), met_text(t["met"]),
                   t["note"]] for t in all_targets])


def first_fact(results, workload, label, setting=None):
    for s in ([setting] if setting else results["settings"]):
        fact = results["facts"].get(s, {}).get(workload, {}).get(label)
        if fact:
            return fact
    return None


def blas_line(results, setting) -> str:
    fact = next((first_fact(results, wl, lab, setting) for wl, lab in
                 [("W2", "mlplab"), ("W3", "mlplab"), ("W4", "mlplab"), ("W5", "mlplab"),
                  ("W1", "mlplab (train_step loop)")] if first_fact(results, wl, lab, setting)), None)
    pools = (fact or {}).get("threadpool_info", [])
    blas = [p for p in pools if p.get("user_api") == "blas"]
    if not blas:
        return "not recorded"
    return "; ".join(f"{p.get('internal_api')} {p.get('version')}, kernel {p.get('architecture')}, "
                     f"{p.get('num_threads')} threads ({p.get('threading_layer')}), "
                     f"`{os.path.basename(p.get('filepath', ''))}`" for p in blas)


def versions(results) -> str:
    merged = {}
    for per_setting in results["facts"].values():
        for per_workload in per_setting.values():
            for fact in per_workload.values():
                merged.update(fact.get("versions", {}))
    order = ["numpy", "mlplab", "mlplab_kernels", "torch", "torch_threads", "sklearn", "keras", "jax"]
    return ", ".join(f"{k} {merged[k]}" for k in order if k in merged)


def machine_table(results) -> str:
    m = results["meta"]["machine"]
    rows = [["date", results["meta"]["date"]], ["CPU", m["cpu"]], ["cores", m["cores"]],
            ["memory", f"{m['memory_gib']} GiB"], ["OS", m["platform"]], ["Python", m["python"]],
            ["libraries", versions(results)]]
    for setting in results["settings"]:
        rows.append([f"BLAS in the mlplab worker, {setting}", blas_line(results, setting)])
        gemm = (first_fact(results, "W2", "mlplab", setting) or {}).get("gemm_gflops")
        if gemm:
            rows.append([f"peak GEMM, {setting} (float32 {W.GEMM_N}², best of a few)", f"{gemm:.1f} GFLOP/s"])
        rows.append([f"BLAS setting `{setting}`", describe_setting(setting)])
    load = results["meta"]["loadavg"]
    rows.append(["load average (1 min) at start / end", f"{load['start']:.2f} / {load['end']:.2f}"])
    rows.append(["wall time of this run", f"{results['meta']['wall_s']:.0f} s"])
    return table(["", ""], rows)


def workload_section(results, workload, quick) -> str:
    n_w3 = W.QUICK["w3_samples"] if quick else W.W3_SAMPLES
    n_w4 = W.QUICK["mnist_test"] if quick else 10_000
    parts = [f"### {workload}: {TITLES[workload].format(n=f'{n_w3:,}' if workload == 'W3' else f'{n_w4:,}')}"]
    ref = REFERENCE.get(workload, "mlplab")
    better = "higher is better" if workload == "W1" else "lower is better"
    parts.append(f"{UNITS[workload]}, {better}; speed-up = how many times faster `{ref}` is than the row "
                 f"(> 1: mlplab faster); other load = mean number of cores that other processes kept busy "
                 f"during the row's timed units (–: too short to tell).")
    multi = len(cases(workload, quick)) > 1
    for setting in results["settings"]:
        rows = [r for r in results["rows"] if r["workload"] == workload and r["blas"] == setting]
        if not rows:
            continue
        parts.append(f"BLAS setting `{setting}`:")
        header = (["case"] if multi else []) + ["library", "median", "min–max", "unit", "speed-up", "other load"]
        parts.append(table(header, [([r["case"]] if multi else []) + [
            r["library"], fmt(r["median"]), f"{fmt(r['min'])}–{fmt(r['max'])}", r["unit"],
            f"{r['speedup']:.2f}×" if r["speedup"] else "–",
            "–" if r["other_load"] is None else f"{r['other_load']:.2f}"] for r in rows]))
    return "\n\n".join(parts)


def memory_accuracy_section(results) -> str:
    mem, acc = [], []
    for setting in results["settings"]:
        for label, fact in results["facts"].get(setting, {}).get("W2", {}).items():
            if "maxrss_bytes" not in fact:
                continue
            rss = fact.get("rss_after_load_bytes")
            mem.append([label, setting, f"{fact['maxrss_bytes'] / 1e6:.0f}",
                        f"{fact['maxrss_after_load_bytes'] / 1e6:.0f}", "–" if rss is None else f"{rss / 1e6:.0f}",
                        f"{fact['dataset_bytes'] / 1e6:.0f}",
                        f"{(fact['maxrss_bytes'] - fact['dataset_bytes']) / 1e6:.0f}"])
            for case, value_ in fact.get("accuracy", {}).items():
                acc.append([label, setting, case.lstrip("b"), fact["epochs"][case], fact["n_test"],
                            f"{100 * value_:.2f} %"])
    return "\n\n".join([
        "### W2 peak memory (one process per library, `ru_maxrss` at the end; MB = 10⁶ bytes)",
        table(["library", "BLAS", "peak RSS", "peak RSS once the data are loaded", "RSS once the data are loaded",
               "float32 dataset (x_train + x_test)", "peak − dataset"], mem),
        "### W2 test accuracy (a fresh model per batch size; the warm-up epoch counts as training)",
        table(["library", "BLAS", "batch", "epochs", "test images", "accuracy"], acc)])


def method(meta) -> str:
    pause = W.QUICK["pause_s"] if meta["quick"] else W.PAUSE_BETWEEN_UNITS_S
    rounds = ", ".join(f"{w} {n}" for w, n in meta["rounds"].items())
    return (f"Method: each library runs each workload in its own worker process; one process computes at a "
            f"time, with a {pause} s pause between units. Round r asks every library for its unit r, in an "
            f"order rotated each round; the first unit is a warm-up and is excluded; numbers are medians with "
            f"min–max over the timed rounds ({rounds}). Inputs: MNIST `{W.MNIST_PREPROCESS}`, float32 "
            f"everywhere; initialisers: mlplab `{W.MLPLAB_KERNEL_INIT}`, the others their library's default "
            f"(bench/workloads.py).")


def markdown(results, all_targets) -> str:
    meta = results["meta"]
    quick = meta["quick"]
    title = f"## {meta['date'][:10]} — `bench/run.py`: mlplab, PyTorch, scikit-learn, Keras (JAX), onnxruntime"
    parts = [title + (" — quick mode, tiny sizes, not for claims" if quick else ""),
             "*This section is generated by `bench/run.py`; running it again replaces only this section.*",
             "```bash\n" + meta["command"] + "\n```",
             method(meta),
             "### Machine", machine_table(results),
             "### Targets", targets_table(all_targets)]
    problems = [f"- {s} / {wl} / {label}: skipped, {why}" for s, per in results["skipped"].items()
                for wl, labels in per.items() for label, why in labels.items()]
    problems += [f"- {s} / {wl} / {label}: **error**, {why.splitlines()[0]}" for s, per in results["errors"].items()
                 for wl, labels in per.items() for label, why in labels.items()]
    if problems:
        parts += ["### Skipped and failed", "\n".join(problems)]
    busy = [r for r in results["rows"] if (r["other_load"] or 0) > BUSY]
    if busy:
        parts.append(f"**Note:** other processes kept more than {BUSY} of a core busy during the units of "
                     f"{len(busy)} of {len(results['rows'])} rows (column *other load*); those rows are less "
                     "reliable.")
    for workload in meta["workloads"]:
        parts.append(workload_section(results, workload, quick))
        if workload == "W2":
            parts.append(memory_accuracy_section(results))
    if meta.get("plot"):
        parts += ["### W5 scaling", f"![seconds per epoch against samples, width and depth]({meta['plot']})"]
    return "\n\n".join(parts) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def update_results(path: Path, section: str) -> None:
    """Replace the text between the markers (insert them after the intro paragraph if absent)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    block = f"{BEGIN}\n{section.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    elif "\n## " in text:
        at = text.index("\n## ") + 1
        text = text[:at] + block + "\n\n" + text[at:]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_atomic(path, text)


def plot_scaling(results, path: Path) -> bool:
    """Three panels (samples, width, depth): seconds per epoch, one line per library and BLAS setting."""
    rows = [r for r in results["rows"] if r["workload"] == "W5"]
    if not rows:
        return False
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullLocator
    except ImportError:
        return False
    points = {c["name"]: c["points"] for c in W.scaling_cases(results["meta"]["quick"])}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    labels = {"samples": "training samples (784-100-10)", "width": "hidden units (one layer, {n} samples)",
              "depth": "hidden layers of 100 ({n} samples)"}
    base = W.QUICK["w5_base_samples"] if results["meta"]["quick"] else W.W5_BASE_SAMPLES
    colors = {library: f"C{i}" for i, library in enumerate(dict.fromkeys(r["library"] for r in rows))}
    for ax, axis in zip(axes, ("samples", "width", "depth")):
        ticks = set()
        for setting in results["settings"]:
            for library, color in colors.items():
                pts = sorted((x, r) for r in rows if r["blas"] == setting and r["library"] == library
                             for a, x in points.get(r["case"], []) if a == axis)
                if not pts:
                    continue
                xs = [x for x, _ in pts]
                ticks.update(xs)
                med = [r["median"] for _, r in pts]
                err = [[r["median"] - r["min"] for _, r in pts], [r["max"] - r["median"] for _, r in pts]]
                ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, color=color, label=f"{library} ({setting})",
                            linestyle="-" if setting == results["settings"][0] else "--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sorted(ticks), [f"{t:,}" for t in sorted(ticks)])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(labels[axis].format(n=f"{base:,}"))
        ax.set_ylabel("seconds per epoch (batch 128)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"W5 scaling, {results['meta']['date'][:10]}: median with min–max")
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


# -- main --------------------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test (under a minute)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="workloads, e.g. W1,W2 (default: all)")
    parser.add_argument("--peers", default=",".join(W.PEERS), help="libraries, e.g. mlplab,torch (default: all)")
    parser.add_argument("--blas", choices=("both", "haswell", "unset"), default="both",
                        help=f"run with {W.BLAS_VARIABLE}=Haswell, with it removed, or both")
    parser.add_argument("--rounds", type=int, help="timed rounds per workload after the warm-up "
                                                    "(default: bench/workloads.py ROUNDS; W2 trains rounds+1 epochs)")
    parser.add_argument("--out", help="markdown file whose generated section is rewritten "
                                      "(default: bench/RESULTS.md; with --quick: none)")
    parser.add_argument("--json", help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    for name, chosen, valid in (("--only", args.only, WORKLOADS), ("--peers", args.peers, W.PEERS)):
        unknown = sorted(set(chosen) - set(valid))
        if unknown or not chosen:
            parser.error(f"{name}: unknown or empty {unknown or chosen}; choose from {', '.join(valid)}")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.out is None and not args.quick:
        args.out = str(BENCH / "RESULTS.md")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    settings = list(W.BLAS_SETTINGS) if args.blas == "both" else [args.blas]
    results = {"meta": {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                        "command": shlex.join(["python", *sys.argv]) if argv is None else
                        shlex.join(["python", "bench/run.py", *argv]),
                        "quick": args.quick, "workloads": args.only, "peers": args.peers, "machine": machine(),
                        "rounds": {w: rounds_for(w, args) for w in args.only},
                        "loadavg": {"start": os.getloadavg()[0]}, "blas_settings": {}},
               "settings": settings, "rows": [], "facts": {}, "skipped": {}, "errors": {}}

    def log(message):
        print(f"{time.perf_counter() - started:6.1f}s {message}" if message.startswith("  ") else message,
              flush=True)

    log(f"bench/run.py: {', '.join(args.only)} | peers {', '.join(args.peers)} | BLAS {', '.join(settings)}"
        f"{' | quick' if args.quick else ''}")
    for setting in settings:
        results["meta"]["blas_settings"][setting] = describe_setting(setting)
        log(f"BLAS setting {setting}: {describe_setting(setting)}")
        for workload in args.only:
            out = run_workload(workload, setting, args, log)
            results["rows"] += out["rows"]
            for key in ("facts", "skipped", "errors"):
                if out[key]:
                    results[key].setdefault(setting, {})[workload] = out[key]

    all_targets = [t for s in settings for t in targets(results, s)]
    results["targets"] = all_targets
    results["meta"]["loadavg"]["end"] = os.getloadavg()[0]
    if args.out:
        out_path = Path(args.out)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if "W5" in args.only and plot_scaling(results, out_path.parent / "scaling.png"):
            results["meta"]["plot"] = "scaling.png"
    results["meta"]["wall_s"] = time.perf_counter() - started
    if args.out:
        update_results(Path(args.out), markdown(results, all_targets))
    if args.json:
        write_atomic(Path(args.json), json.dumps(results, indent=1, default=str) + "\n")

    log("\nTargets (medians of this run):")
    log(targets_table(all_targets))
    busy = [r for r in results["rows"] if (r["other_load"] or 0) > BUSY]
    if busy:
        log(f"\nWarning: other processes kept more than {BUSY} of a core busy during the units of {len(busy)} of "
            f"{len(results['rows'])} rows; rerun on a quiet machine before quoting those numbers.")
    log(f"\nwall time {results['meta']['wall_s']:.1f} s" + (f"; wrote {args.out}" if args.out else "")
        + (f", {args.json}" if args.json else ""))
    n_errors = sum(len(v) for per in results["errors"].values() for v in per.values())
    if n_errors:
        log(f"{n_errors} worker(s) failed; see the errors above")
    return 1 if n_errors else 0


if __name__ == "__main__":
    sys.exit(main())
