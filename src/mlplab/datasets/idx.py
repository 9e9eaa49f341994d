"""The IDX format of the MNIST files: a 4-byte magic number, the dimensions, then raw big-endian data.

Magic number = two zero bytes, one byte for the element type, one byte for the number of
dimensions; then one big-endian uint32 per dimension. See http://yann.lecun.com/exdb/mnist/.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "idx_header"]

# Element-type byte -> dtype. Multi-byte types are stored big-endian.
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_all(path_or_fileobj) -> tuple[bytes, str]:
    """Return (content, name used in error messages) of a path or a binary file object."""
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        with open(path_or_fileobj, "rb") as handle:
            return handle.read(), os.fspath(path_or_fileobj)
    if hasattr(path_or_fileobj, "read"):
        data = path_or_fileobj.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("Invalid value for argument `path_or_fileobj`: expected a file opened in binary "
                            f"mode ('rb'). Received: a file whose read() returns {type(data).__name__}.")
        return bytes(data), str(getattr(path_or_fileobj, "name", "<file object>"))
    raise TypeError("Invalid type for argument `path_or_fileobj`: expected a path (str or os.PathLike) or a "
                    f"binary file object. Received: {path_or_fileobj!r} of type {type(path_or_fileobj).__name__}.")


def read_idx(path_or_fileobj) -> np.ndarray:
    """Read one IDX file (gzipped or not, detected from its first bytes) into a native-endian array.

    Checks the magic number (two zero bytes), the element-type code, the dimensions and that the
    data has exactly prod(dims) elements; raises ValueError naming the file otherwise.

    >>> import io, struct
    >>> read_idx(io.BytesIO(struct.pack(">4B2I", 0, 0, 0x08, 2, 1, 2) + bytes([7, 9]))).tolist()
    [[7, 9]]
    """
    data, name = _read_all(path_or_fileobj)
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{name}: looks gzipped but cannot be decompressed ({err}); the file is damaged "
                             "or truncated.") from None
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: expected a 4-byte magic number, received {len(data)} bytes.")
    code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00":
        raise ValueError(f"{name}: not an IDX file: the magic number must start with two zero bytes, "
                         f"received 0x{data[:4].hex()}.")
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX element type 0x{code:02X} (magic number 0x{data[:4].hex()}); "
                         f"expected one of {valid}.")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions; expected at least 1.")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {header_size} bytes, "
                         f"the file has {len(data)}.")
    dims = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(f"{name}: IDX file {problem}: dimensions {dims} of {dtype.name} need {expected} bytes "
                         f"of data, received {actual}.")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def idx_header(array: np.ndarray) -> bytes:
    """The IDX header of a uint8 array: with `array.tobytes()` it rebuilds the file byte for byte."""
    return struct.pack(f">4B{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
