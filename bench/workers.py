"""A benchmark worker: one library on one workload, in its own process, driven by bench/run.py.

    python bench/workers.py LIB WORKLOAD VARIANT CONFIG_JSON

Protocol (one JSON object per line). The worker imports its library, builds the data and answers
`{"ready": true, "versions": {...}}`, or `{"skipped": "reason"}` when the library cannot be imported.
Then, for each `{"cmd": "unit", "case": ...}` from stdin, it runs one timed unit and answers
`{"seconds": s, "work": k}` (k steps, epochs or calls). `{"cmd": "finish"}` answers accuracy, peak
memory (`ru_maxrss`), versions and `threadpoolctl.threadpool_info()`, and the worker exits. Any
other failure answers `{"error": traceback}`. Only the protocol goes to the real stdout: the
worker points file descriptor 1 at stderr, so nothing a library prints can break the protocol.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback

import workloads as W


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux reports KiB


def peak_gemm_gflops(n: int, repeats: int) -> float:
    """Best float32 `a @ b` rate for n×n matrices, 2·n³ FLOPs per product."""
    import numpy as np

    rng = np.random.default_rng(W.SEED)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = a @ b                                             # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def current_rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def accuracy(model, x, y) -> float:
    return float((model.predict(x).argmax(axis=1) == y).mean())


class Job:
    """The workload's state in this process: `unit(case)` -> (seconds, work); `finish()` -> facts."""

    def __init__(self, peer, lib: str, workload: str, variant: str | None, quick: bool):
        self.peer, self.lib, self.workload, self.variant, self.quick = peer, lib, workload, variant, quick
        self.q = W.QUICK if quick else {}
        self.info: dict = {}
        self.models: dict = {}          # case -> Classifier
        self.epochs: dict = {}          # case -> epochs trained
        getattr(self, f"setup_{workload.lower()}")()

    # -- data ------------------------------------------------------------------------------------------
    def load(self, n_train=None, n_test=None):
        limits = [n for n in (n_train, self.q.get("mnist_train")) if n]
        n_train = min(limits) if limits else None
        n_test = self.q.get("mnist_test", n_test)
        (self.x, self.y), (self.x_test, self.y_test) = W.load_mnist(n_train, n_test)
        self.info["dataset_bytes"] = int(self.x.nbytes + self.x_test.nbytes)
        self.info["n_train"], self.info["n_test"] = len(self.x), len(self.x_test)
        self.info["maxrss_after_load_bytes"] = maxrss_bytes()      # peak so far: the loader's peak
        self.info["rss_after_load_bytes"] = current_rss_bytes()     # what stays once the data are loaded

    def classifier(self, case, hidden, batch):
        if case not in self.models:
            if self.workload != "W2":    # W2 keeps each batch size's model for its accuracy; W5 one at a time
                self.models.clear()
            self.models[case] = self.peer.Classifier(list(hidden), batch)
            self.epochs[case] = 0
        return self.models[case]

    def timed_epoch(self, case, model, x, y):
        start = time.perf_counter()
        model.train_epoch(x, y)
        seconds = time.perf_counter() - start
        self.epochs[case] += 1
        return seconds, 1

    # -- W1: XOR ---------------------------------------------------------------------------------------
    def setup_w1(self):
        import numpy as np

        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        y = np.array([0, 1, 1, 0], dtype=np.float32)
        self.run = self.peer.xor(self.variant, x, y)
        self.steps = max(1, W.W1_STEPS[self.lib] // self.q.get("w1_step_divisor", 1))

    def unit_w1(self, case):
        start = time.perf_counter()
        self.run(self.steps)
        return time.perf_counter() - start, self.steps

    # -- W2: MNIST 784-100-10, batch 32 and 128 --------------------------------------------------------
    def setup_w2(self):
        if self.lib == "mlplab":      # the machine's GEMM peak, before the data (its arrays are freed)
            self.info["gemm_gflops"] = peak_gemm_gflops(W.GEMM_N, self.q.get("gemm_repeats", W.GEMM_REPEATS))
            self.info["gemm_n"] = W.GEMM_N
        self.load()

    def unit_w2(self, case):
        batch = int(case.lstrip("b"))
        return self.timed_epoch(case, self.classifier(case, W.W2_HIDDEN, batch), self.x, self.y)

    # -- W3: 784-512-512-512-10 on a fixed subset ------------------------------------------------------
    def setup_w3(self):
        self.load(n_train=self.q.get("w3_samples", W.W3_SAMPLES))

    def unit_w3(self, case):
        return self.timed_epoch(case, self.classifier(case, W.W3_HIDDEN, W.W3_BATCH), self.x, self.y)

    # -- W4: inference on the test images --------------------------------------------------------------
    def setup_w4(self):
        self.load()
        self.model = self.peer.Classifier(list(W.W4_HIDDEN), 128)
        n = min(W.W4_FIT_SAMPLES, len(self.x))
        self.model.train_epoch(self.x[:n], self.y[:n])
        self.calls = max(1, W.W4_CALLS[self.lib] // self.q.get("w4_call_divisor", 1))

    def unit_w4(self, case):
        start = time.perf_counter()
        for _ in range(self.calls):
            self.model.predict(self.x_test, self.variant)
        return time.perf_counter() - start, self.calls

    # -- W6: inference on one row ----------------------------------------------------------------------
    def setup_w6(self):
        self.setup_w4()
        self.row = self.x_test[:1].copy()
        self.calls = max(1, W.W6_CALLS[self.lib] // self.q.get("w4_call_divisor", 1))

    def unit_w6(self, case):
        start = time.perf_counter()
        for _ in range(self.calls):
            self.model.predict(self.row, self.variant)
        return time.perf_counter() - start, self.calls

    # -- W5: scaling against samples, width and depth --------------------------------------------------
    def setup_w5(self):
        self.cases = {case["name"]: case for case in W.scaling_cases(self.quick)}
        self.load()

    def unit_w5(self, case):
        spec = self.cases[case]
        n = spec["samples"]
        return self.timed_epoch(case, self.classifier(case, spec["hidden"], W.W5_BATCH), self.x[:n], self.y[:n])

    # -- protocol --------------------------------------------------------------------------------------
    def unit(self, case):
        seconds, work = getattr(self, f"unit_{self.workload.lower()}")(case)
        return {"seconds": seconds, "work": work}

    def finish(self):
        self.info["maxrss_bytes"] = maxrss_bytes()          # before anything else is imported
        if self.workload == "W2":
            self.info["accuracy"] = {case: accuracy(m, self.x_test, self.y_test) for case, m in self.models.items()}
            self.info["epochs"] = dict(self.epochs)
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            self.info["threadpool_info"] = []
        else:
            self.info["threadpool_info"] = threadpool_info()
        return self.info


def serve(lib: str, workload: str, variant: str | None, config: dict, proto) -> int:
    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        import peers

        peer = peers.load(lib)
        try:
            versions = peer.setup()
        except ImportError as error:
            send({"skipped": f"{lib} cannot be imported: {error}"})
            return 0
        job = Job(peer, lib, workload, variant, bool(config.get("quick")))
        send({"ready": True, "versions": versions, "python": sys.version.split()[0],
              "env": {W.BLAS_VARIABLE: os.environ.get(W.BLAS_VARIABLE)}})
        for line in sys.stdin:
            message = json.loads(line)
            if message["cmd"] == "unit":
                send(job.unit(message.get("case")))
            elif message["cmd"] == "finish":
                send(job.finish())
                return 0
            else:
                raise ValueError(f"unknown command {message!r}")
        return 0
    except Exception:                                        # the driver reports it and goes on without us
        send({"error": traceback.format_exc()})
        return 1


def main() -> int:
    lib, workload, variant, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    proto = os.fdopen(os.dup(1), "w", buffering=1)           # the protocol's private copy of stdout
    os.dup2(2, 1)                                            # anything else printed goes to stderr
    sys.stdout = sys.stderr
    return serve(lib, workload, None if variant == "-" else variant, config, proto)


if __name__ == "__main__":
    sys.exit(main())
