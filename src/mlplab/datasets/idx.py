"""The IDX format of the MNIST files: a 4-byte magic number, the dimensions, then raw big-endian data.

Magic number = two zero bytes, one byte for the element type, one byte for the number of
dimensions; then one big-endian uint32 per dimension. See http://yann.lecun.com/exdb/mnist/.
"""
from __future__ import annotations

import math
import struct

import numpy as np

from mlplab.datasets.bounded import MAX_ARRAY_BYTES, format_bytes, open_stream

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
_MAX_HEADER = 4 + 4 * 255  # the magic number and up to 255 dimensions


def read_idx(path_or_fileobj, *, max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """Read one IDX file (gzipped or not, detected from its first bytes) into a native-endian array.

    Checks the magic number (two zero bytes), the element-type code, the dimensions and that the
    data has exactly prod(dims) elements; raises ValueError naming the file otherwise. The size the
    header declares is checked before anything is allocated: it must fit in `max_bytes` (512 MiB)
    and in what the file can hold (a gzip file: 100 × its size + 1 MiB); decompression is streamed
    and stops there. Only regular files are opened.

    >>> import io, struct
    >>> read_idx(io.BytesIO(struct.pack(">4B2I", 0, 0, 0x08, 2, 1, 2) + bytes([7, 9]))).tolist()
    [[7, 9]]
    """
    with open_stream(path_or_fileobj, max_bytes + _MAX_HEADER) as stream:
        return _read(stream, stream.name, max_bytes)


def _read(stream, name: str, max_bytes: int) -> np.ndarray:
    magic = stream.read(min(4, stream.room()))
    if len(magic) < 4:
        raise ValueError(f"{name}: not an IDX file: expected a 4-byte magic number, received {len(magic)} bytes.")
    code, ndim = magic[2], magic[3]
    if magic[:2] != b"\x00\x00":
        raise ValueError(f"{name}: not an IDX file: the magic number must start with two zero bytes, "
                         f"received 0x{magic.hex()}.")
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX element type 0x{code:02X} (magic number 0x{magic.hex()}); "
                         f"expected one of {valid}.")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions; expected at least 1.")
    header = stream.read(min(4 * ndim, stream.room()))
    if len(header) < 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {4 + 4 * ndim} bytes, "
                         f"the file has {4 + len(header)}.")
    dims = struct.unpack(f">{ndim}I", header)
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if expected > max_bytes:
        raise ValueError(f"{name}: IDX header declares dimensions {dims} of {dtype.name}, "
                         f"{format_bytes(expected)} of data, more than the limit of {format_bytes(max_bytes)} "
                         "(pass max_bytes= to read larger files).")
    if expected > stream.room():
        raise ValueError(f"{name}: IDX file truncated or not an IDX file: dimensions {dims} of {dtype.name} need "
                         f"{format_bytes(expected)} of data, more than {stream.why}.")
    array = np.empty(dims, dtype=dtype)  # allocated only now that the size is known to be plausible
    received = stream.readinto_exact(memoryview(array.reshape(-1)).cast("B"))
    if received < expected:
        raise ValueError(f"{name}: IDX file truncated: dimensions {dims} of {dtype.name} need {expected} bytes "
                         f"of data, received {received}.")
    if not stream.at_end():
        raise ValueError(f"{name}: IDX file has trailing bytes: dimensions {dims} of {dtype.name} need {expected} "
                         "bytes of data, the file has more.")
    if not dtype.isnative and dtype.itemsize > 1:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))  # native-endian, no copy
    return array


def idx_header(array: np.ndarray) -> bytes:
    """The IDX header of a uint8 array: with `array.tobytes()` it rebuilds the file byte for byte."""
    return struct.pack(f">4B{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
