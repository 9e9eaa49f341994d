"""Shared constants of the benchmark (bench/run.py and its workers): sizes, data, initialisers.

Everything that must be the same for every library lives here, so one line changes it for all of
them: the MNIST preprocessing, the seeds, the learning rates, the sizes, the number of rounds.
Only the standard library is imported at module level; the driver stays light.
"""
from __future__ import annotations

from itertools import pairwise

# --- choices the reviewer sets (one line each; every peer follows) ------------------------------------
MNIST_PREPROCESS = "scale"          # "scale": x as loaded, in [0, 1]; "standardize": (x - mean) / std with
                                    # the training set's scalar mean and std, applied to train and test
MLPLAB_KERNEL_INIT = "glorot_uniform"   # passed to every mlplab Dense as kernel_initializer= (mlplab's default)
TORCH_KERNEL_INIT = None            # None: PyTorch's default (kaiming_uniform(a=sqrt(5)) for nn.Linear)
KERAS_KERNEL_INIT = None            # None: Keras's default (glorot_uniform); scikit-learn always uses its own
SEED = 0

# --- the peers ------------------------------------------------------------------------------------------
PEERS = ("mlplab", "torch", "keras", "sklearn", "onnxruntime")
TORCH_THREADS = 2                   # torch.set_num_threads(2); the other libraries use both cores by default
PAUSE_BETWEEN_UNITS_S = 0.15        # idle gap between two timed units, so that a library's spinning BLAS/OpenMP
                                    # threads (OpenBLAS spins ~0.1 s after a call) never overlap the next unit

# --- BLAS settings (the workers' environment) ----------------------------------------------------------
BLAS_VARIABLE = "OPENBLAS_CORETYPE"
BLAS_SETTINGS = ("haswell", "unset")    # OPENBLAS_CORETYPE=Haswell forced / removed (OpenBLAS detects the CPU)

# --- W1: XOR 2-3-1, sigmoid hidden and output, binary cross-entropy, full batch of 4, SGD ----------------
W1_LR = 0.5
W1_STEPS = {                        # steps in one timed unit: about 0.3-1 s of work for that library
    "mlplab": 5_000, "torch": 1_500, "keras": 300, "sklearn": 250,
}

# --- W2: MNIST 784-100-10, ReLU / softmax, sparse categorical cross-entropy, Adam -----------------------
ADAM_LR = 1e-3
W2_HIDDEN = (100,)
W2_BATCHES = (32, 128)
W2_EPOCHS = 5                       # per batch size: epoch 1 is the warm-up (timed, excluded), then 4 rounds
W2_TARGET_ACCURACY = 0.975          # mlplab, batch 32, on the 10,000 test images after W2_EPOCHS epochs
W2_MEMORY_SLACK_BYTES = 100 * 10**6  # peak RSS of the mlplab W2 process <= float32 dataset bytes + 100 MB

# --- W3: 784-512-512-512-10, Adam, batch 128, on the first W3_SAMPLES training images -------------------
W3_HIDDEN = (512, 512, 512)
W3_BATCH = 128
W3_SAMPLES = 12_800

# --- W4: inference, 784-100-10 on the 10,000 test images -----------------------------------------------
W4_HIDDEN = (100,)
W4_FIT_SAMPLES = 1_024              # every peer trains one epoch on these before timing (sklearn needs a fit)
W4_CALLS = {"mlplab": 30, "torch": 30, "keras": 10, "sklearn": 20, "onnxruntime": 30}   # predict calls a unit

# --- W6: inference on one row, 784-100-10 (the latency a web service or the playground sees) ------------
W6_CALLS = {"mlplab": 20_000, "torch": 5_000, "onnxruntime": 20_000}  # predict calls in one timed unit

# --- W5: scaling (mlplab and torch), seconds per epoch at batch 128 ------------------------------------
W5_BATCH = 128
W5_SAMPLES = (10_000, 20_000, 40_000, 60_000)    # 784-100-10
W5_WIDTHS = (100, 250, 500, 1000)                # one hidden layer, 10k samples
W5_DEPTHS = (1, 2, 4, 8)                         # hidden layers of 100, 10k samples
W5_BASE_SAMPLES = 10_000
W5_PEERS = ("mlplab", "torch")

# --- peak GEMM rate, measured inside the mlplab W2 worker ----------------------------------------------
GEMM_N = 2048
GEMM_REPEATS = 5

# --- rounds: one warm-up unit (excluded), then ROUNDS timed units per library ---------------------------
WARMUP_UNITS = 1
ROUNDS = {"W1": 5, "W2": W2_EPOCHS - 1, "W3": 4, "W4": 5, "W5": 3, "W6": 5}

# --- --quick: tiny sizes for the smoke test --------------------------------------------------------------
QUICK = {
    "rounds": 2,                    # timed rounds per workload (after the one warm-up unit)
    "mnist_train": 2_000,           # MNIST subset (the first images of each set)
    "mnist_test": 2_000,
    "w1_step_divisor": 20,
    "w4_call_divisor": 5,
    "w3_samples": 2_000,
    "w5_samples": (1_000, 2_000),
    "w5_widths": (100, 250),
    "w5_depths": (1, 2),
    "w5_base_samples": 1_000,
    "gemm_repeats": 2,
    "pause_s": 0.02,
}


def w2_epoch_flops(n_samples: int, sizes=(784, *W2_HIDDEN, 10)) -> float:
    """Arithmetic of one W2 epoch: 3 matrix products per layer (forward, dW, dX) of 2·n·weights FLOPs."""
    weights = sum(a * b for a, b in pairwise(sizes))     # 784·100 + 100·10 = 79,400
    return 3 * 2 * n_samples * weights


def preprocess(x_train, x_test, how: str = MNIST_PREPROCESS):
    """Apply MNIST_PREPROCESS in place (float32, no extra copy) and return (x_train, x_test)."""
    if how == "scale":
        return x_train, x_test
    if how == "standardize":
        mean = float(x_train.mean(dtype="float64"))
        std = float(x_train.std(dtype="float64"))
        for x in (x_train, x_test):
            x -= mean
            x /= std
        return x_train, x_test
    raise ValueError(f"MNIST_PREPROCESS must be 'scale' or 'standardize', not {how!r}")


def load_mnist(n_train: int | None = None, n_test: int | None = None):
    """MNIST as float32 (n, 784) and int64 labels, the first n_train / n_test images, preprocessed."""
    import mlplab as ml

    (x_train, y_train), (x_test, y_test) = ml.datasets.load_mnist(flatten=True)
    if n_train is not None and n_train < len(x_train):
        x_train, y_train = x_train[:n_train].copy(), y_train[:n_train].copy()
    if n_test is not None and n_test < len(x_test):
        x_test, y_test = x_test[:n_test].copy(), y_test[:n_test].copy()
    x_train, x_test = preprocess(x_train, x_test)
    return (x_train, y_train), (x_test, y_test)


def scaling_cases(quick: bool) -> list[dict]:
    """W5's configurations, each run once: {"name", "hidden", "samples", "points"}, where points lists the
    (axis, x) places it takes in the plot (784-100-10 on the base samples is on all three axes)."""
    q = QUICK if quick else {}
    base = q.get("w5_base_samples", W5_BASE_SAMPLES)
    wanted = [("samples", n, (100,), n) for n in q.get("w5_samples", W5_SAMPLES)]
    wanted += [("width", w, (w,), base) for w in q.get("w5_widths", W5_WIDTHS)]
    wanted += [("depth", d, (100,) * d, base) for d in q.get("w5_depths", W5_DEPTHS)]
    cases: dict[tuple, dict] = {}
    for axis, x, hidden, samples in wanted:
        layers = f"{hidden[0]}x{len(hidden)}" if len(hidden) > 1 else str(hidden[0])
        name = f"784-{layers}-10, n={samples}"
        case = cases.setdefault((hidden, samples), {"name": name, "hidden": list(hidden), "samples": samples,
                                                    "points": []})
        case["points"].append([axis, x])
    return list(cases.values())
