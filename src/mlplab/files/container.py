"""The safetensors container of model files: JSON metadata plus raw tensors, checked before it is trusted.

Layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes of
UTF-8 JSON {tensor name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
then the tensors' bytes. Reading never unpickles and never imports anything named in the file: the
architecture and compile settings are JSON of registered names, resolved through mlplab's registries.
The full specification is in docs/files.md.

>>> model.save("model.safetensors")               # doctest: +SKIP
>>> model = ml.load_model("model.safetensors")    # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat

import numpy as np

from mlplab.files.atomic import atomic_write

FORMAT = "mlplab"
FORMAT_VERSION = "1.0"  # a reader refuses another major version; minor versions only add optional keys
HEADER_CAP = 100 * 1024 * 1024  # the same cap the safetensors library enforces
JSON_CAP = 16 * 1024 * 1024  # one metadata value (architecture, preprocessing...): far above any real model
JSON_DEPTH_CAP = 64  # real headers nest 5 levels deep; json's parser recurses, so the depth is checked first
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included (unrolled: no backtracking)
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}
_CHECKSUM_PLACEHOLDER = "sha256:" + "0" * 64
_FOREIGN = [(b"\x80\x02", "a pickle"), (b"\x80\x03", "a pickle"), (b"\x80\x04", "a pickle"),
            (b"\x80\x05", "a pickle"), (b"PK\x03\x04", "a zip archive (an .npz, or a PyTorch or Keras file)"),
            (b"\x93NUMPY", "a NumPy .npy file"), (b"\x89HDF", "an HDF5 file (an old Keras .h5 model?)")]


class ModelFileError(ValueError):
    """A file that is not a valid mlplab model file; the message names the file and the problem."""


def _error(path, problem: str, action: str = "load") -> ModelFileError:
    return ModelFileError(f"Cannot {action} {os.fspath(path)!r}: {problem}.")


# -- the container: writing ---------------------------------------------------------------------
def write_file(path, tensors: dict, metadata: dict) -> None:
    """Write `tensors` (name -> array of float32, float64 or int64) and `metadata` (str -> str) as one
    safetensors file, atomically: the bytes go to a temporary file that then replaces `path`."""
    arrays, entries, offset = [], {}, 0
    for name, array in tensors.items():
        array = np.asarray(array)
        code = next((c for c, d in DTYPES.items() if array.dtype == d.newbyteorder("=")), None)
        if code is None or not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"Cannot save tensor {name!r}: expected a float32, float64 or int64 array with a "
                             f"non-empty name. Received: dtype {array.dtype}.")
        # safetensors writes the raw buffer: a transposed (non C-contiguous) view would be scrambled.
        array = np.asarray(array, dtype=DTYPES[code], order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        entries[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        arrays.append(array)
        offset += array.nbytes
    if any(not isinstance(k, str) or not isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("Invalid metadata: expected a dict of strings to strings.")
    entries["__metadata__"] = {**metadata, "checksum": _CHECKSUM_PLACEHOLDER}
    header = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header += b" " * (-len(header) % 8)  # pad to 8 bytes, as safetensors does, so tensors stay aligned
    prefix = len(header).to_bytes(8, "little")
    digest = hashlib.sha256(prefix + header)
    for array in arrays:
        digest.update(memoryview(array).cast("B"))
    # The checksum covers the whole file as written with the placeholder; the digest has the same length.
    if header.count(_CHECKSUM_PLACEHOLDER.encode()) != 1:
        raise ValueError("Invalid metadata: a value contains the checksum placeholder.")
    header = header.replace(_CHECKSUM_PLACEHOLDER.encode(), f"sha256:{digest.hexdigest()}".encode(), 1)
    atomic_write(path, [prefix, header] + [memoryview(a).cast("B") for a in arrays])


# -- the container: reading, with every check -----------------------------------------------------
def read_file(path) -> tuple[dict, dict]:
    """(tensors, metadata) of an mlplab file, after checking everything; raises ModelFileError
    (a ValueError naming the file and the problem) for anything else, before trusting any of it.

    Order: a regular file (a FIFO is opened without blocking and refused), the length field against the
    file size, the header (bounded JSON), every tensor's offsets against the file size (so trailing or
    missing bytes are refused before the data is read), then the data and its checksum."""
    path = os.fspath(path)
    with _open_regular(path) as file:
        file_size = os.fstat(file.fileno()).st_size
        prefix = file.read(9)
        _check_prefix(path, prefix, file_size)  # before reading the rest: a huge foreign file is not read
        size = int.from_bytes(prefix[:8], "little")
        metadata, entries = _read_header(path, prefix[8:] + file.read(size - 1))
        _check_offsets(path, entries, file_size - 8 - size)  # trailing bytes refused without reading them
        data = bytearray(file_size)  # one read into one buffer: no growing, no concatenation
        file.seek(0)
        if file.readinto(data) != file_size:
            raise _error(path, "the file changed size while it was read")
    start = 8 + size
    buffer = memoryview(data)[start:]
    _check_checksum(path, data, start, metadata)
    tensors = {name: np.frombuffer(buffer, DTYPES[e["dtype"]], math.prod(e["shape"]), e["data_offsets"][0])
               .reshape(e["shape"]) for name, e in entries.items()}
    return tensors, metadata


def read_metadata(path) -> dict:
    """The checked metadata of a file (strings) without building a model: what `mlplab inspect` shows."""
    return read_file(path)[1]


def _open_regular(path):
    """`path` opened for reading, if it is a regular file: a FIFO or a device is refused, never waited on
    (opened with O_NONBLOCK, then checked with fstat, so a swap between a stat and the open cannot hang)."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise _error(path, f"it is {kind}, not a regular file")
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def check_json(path, text, field: str, action: str = "load", cap: int = JSON_CAP):
    """`text` (str or UTF-8 bytes) parsed as JSON after checking its size and nesting depth, so that
    neither a huge value nor 100,000 nested brackets (a RecursionError in json) get to the parser."""
    if len(text) > cap:
        raise _error(path, f"{field} is {len(text)} bytes of JSON, over the {cap}-byte cap", action)
    depth = json_depth(text)
    if depth > JSON_DEPTH_CAP:
        raise _error(path, f"{field} nests {depth} levels deep, over the cap of {JSON_DEPTH_CAP}", action)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _error(path, f"{field} is not valid JSON ({err}): the file is corrupted", action) from None


def json_depth(text) -> int:
    """The deepest nesting of [ and { in JSON text, strings skipped, in a few array passes (no recursion)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    data = _STRINGS.sub(b'""', data)  # brackets inside strings do not nest
    codes = np.frombuffer(data, np.uint8)
    steps = np.isin(codes, _OPEN).astype(np.int64) - np.isin(codes, _CLOSE)
    return int(np.cumsum(steps).max(initial=0))


def _check_prefix(path, prefix: bytes, file_size: int) -> None:
    """The length field and the first header byte, against the file's size and the cap."""
    if prefix[8:9] != b"{":  # every mlplab file has its JSON header there; otherwise name what it is
        for magic, kind in _FOREIGN:
            if prefix.startswith(magic):
                _foreign(path, kind)
    if file_size < 8:
        raise _error(path, f"the file is {file_size} bytes long, too short for a model file (truncated?)")
    size = int.from_bytes(prefix[:8], "little")
    if (size > HEADER_CAP or 8 + size > file_size) and prefix[8:9] != b"{":
        raise _error(path, "it does not start with a safetensors header: not an mlplab model file")
    if size > HEADER_CAP:
        raise _error(path, f"the header would be {size} bytes, over the {HEADER_CAP}-byte cap: not an mlplab "
                           "model file, or a corrupted one")
    if 8 + size > file_size:
        raise _error(path, f"the header needs {size} bytes but the file has {file_size - 8} after the length "
                           "field: the file is truncated or not a model file")
    if prefix[8:9] != b"{":
        raise _error(path, "no JSON header after the length field: not a safetensors/mlplab model file")


def _read_header(path, header_bytes: bytes):
    header = check_json(path, header_bytes, "the header", cap=HEADER_CAP)
    if not isinstance(header, dict):
        raise _error(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _error(path, "no string metadata: a safetensors file, but not one written by mlplab")
    if metadata.get("format") != FORMAT:
        raise _error(path, f"the metadata names format {metadata.get('format')!r}, not {FORMAT!r}: a safetensors "
                           "file from another program")
    version = metadata.get("format_version", "")
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise _error(path, f"format version {version!r} is not supported (this mlplab reads version "
                           f"{FORMAT_VERSION.split('.')[0]}.x): the file was written by another mlplab version; "
                           "upgrade mlplab")
    for name, entry in header.items():
        _check_entry(path, name, entry)
    return metadata, header


def _foreign(path, kind):
    advice = " mlplab never unpickles; load it with the program that wrote it" if "pickle" in kind else ""
    raise _error(path, f"this is {kind}, not an mlplab model file (safetensors layout).{advice}")


def _no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(path, name, entry):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _error(path, f"tensor {name!r} is not described by exactly dtype, shape and data_offsets")
    if entry["dtype"] not in DTYPES:
        raise _error(path, f"tensor {name!r} has dtype {entry['dtype']!r}; mlplab files hold only "
                           f"{', '.join(DTYPES)}")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _error(path, f"tensor {name!r} has an invalid shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets)
            or offsets[1] - offsets[0] != math.prod(shape) * DTYPES[entry["dtype"]].itemsize):
        raise _error(path, f"tensor {name!r} has data_offsets {offsets!r} that do not match its shape "
                           f"{shape} and dtype {entry['dtype']}")


def _check_offsets(path, entries: dict, size: int) -> None:
    """The tensors must tile the buffer exactly: in range, no overlap, no gap, nothing left over."""
    end = 0
    for name, entry in sorted(entries.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        if begin != end:
            problem = "overlaps the previous tensor" if begin < end else "leaves a gap before it"
            raise _error(path, f"tensor {name!r} at bytes {begin}..{stop} {problem}")
        end = stop
    if end != size:
        raise _error(path, f"the tensors cover {end} bytes but the data section has {size}: the file is "
                           f"{'truncated' if end > size else 'padded or corrupted'}")


def _check_checksum(path, data: bytes, start: int, metadata: dict) -> None:
    stored = metadata.get("checksum", "")
    if not stored.startswith("sha256:") or len(stored) != len(_CHECKSUM_PLACEHOLDER):
        raise _error(path, "the metadata has no sha256 checksum")
    digest = hashlib.sha256()
    header = data[:start]
    # The checksum was computed over the file with a placeholder where the checksum now is.
    if header.count(stored.encode()) != 1:
        raise _error(path, "the checksum field is damaged")
    digest.update(header.replace(stored.encode(), _CHECKSUM_PLACEHOLDER.encode(), 1))
    digest.update(memoryview(data)[start:])
    if f"sha256:{digest.hexdigest()}" != stored:
        raise _error(path, "the checksum does not match the contents: the file is corrupted (a changed byte, "
                           "or an incomplete copy)")
