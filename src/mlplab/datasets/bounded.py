"""Reading files that anyone may have written, within a stated memory bound.

Every dataset reader opens files through here, so one set of rules holds everywhere:

- only regular files are read: a FIFO, a device (/dev/zero) or a link to one is refused before a byte
  is read (opened with O_NONBLOCK, so opening a FIFO never waits for a writer);
- no reader makes one array larger than `MAX_ARRAY_BYTES` (512 MiB; MNIST as float64 is 376 MB), and
  sizes declared by a header are checked against the bytes the file can still produce *before* the
  array is allocated;
- gzip is decompressed as a stream that stops at `MAX_EXPANSION` × the compressed size + 1 MiB (real
  MNIST files expand 5-13 ×), so a small file can never take much memory.
"""
from __future__ import annotations

import gzip
import io
import os
import stat
import zlib

__all__ = ["MAX_ARRAY_BYTES", "MAX_EXPANSION", "EXPANSION_SLACK", "BoundedStream", "open_regular", "open_stream",
           "read_small_text", "format_bytes"]

MAX_ARRAY_BYTES = 512 * 2**20
MAX_EXPANSION = 100
EXPANSION_SLACK = 2**20
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 2**20


def format_bytes(count: int) -> str:
    """1234567 -> '1,234,567 bytes (1.2 MiB)': exact for the record, rounded for the reader."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count:,} bytes ({count / size:.1f} {unit})"
    return f"{count:,} bytes"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path, max_size: int | None = None):
    """Open `path` for binary reading if it is a regular file (links are followed, then checked).

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the check is
    made with fstat on the opened descriptor, so the file cannot be swapped between check and read.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags)
    except IsADirectoryError:
        raise ValueError(f"{name}: is a folder, not a file.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{name}: is {_kind(info.st_mode)}, not a regular file; mlplab reads data only "
                             "from regular files.")
        if max_size is not None and info.st_size > max_size:
            raise ValueError(f"{name}: is {format_bytes(info.st_size)}, more than the {format_bytes(max_size)} "
                             "such a file can be.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_small_text(path, max_size: int = 4096) -> str:
    """The text of a small regular file (a checksum sidecar), read only if it is at most `max_size` bytes."""
    with open_regular(path, max_size) as handle:
        data = handle.read(max_size + 1)
    if len(data) > max_size:  # grew after the size check
        raise ValueError(f"{os.fspath(path)}: more than {max_size} bytes; not a checksum file.")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{os.fspath(path)}: not a text file of hexadecimal digits.") from None


def _remaining_size(handle) -> int | None:
    """Bytes left in a seekable file object, else None."""
    try:
        if not handle.seekable():
            return None
        here = handle.tell()
        end = handle.seek(0, io.SEEK_END)
        handle.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


class BoundedStream:
    """The decompressed content of a (possibly gzipped) binary file, readable up to `limit` bytes in all.

    `read(n)` refuses, before reading, a request that would go past the limit, so a header that
    declares a huge size is refused without allocating. `why` says where the limit comes from.
    """

    def __init__(self, raw, name: str, max_bytes: int, owns: bool):
        self.name, self._raw, self._owns, self.produced = name, raw, owns, 0
        size = _remaining_size(raw)
        start = raw.read(2)
        if not isinstance(start, (bytes, bytearray)):
            raise TypeError("Invalid value for argument `path_or_fileobj`: expected a file opened in binary mode "
                            f"('rb'). Received: a file whose read() returns {type(start).__name__}.")
        self.gzipped = bytes(start) == _GZIP_MAGIC
        if size is not None:
            raw.seek(-len(start), io.SEEK_CUR)  # seekable: rewind
        else:
            raw = _Prefixed(start, raw)  # a pipe or socket: give the peeked bytes back in front
        self._inner = gzip.GzipFile(fileobj=raw, mode="rb") if self.gzipped else raw
        self.limit, self.why = max_bytes, f"the limit of {format_bytes(max_bytes)}"
        if size is not None:
            if self.gzipped:
                plausible = MAX_EXPANSION * size + EXPANSION_SLACK
                if plausible < self.limit:
                    self.limit = plausible
                    self.why = (f"what a gzip file of {format_bytes(size)} may expand to ({MAX_EXPANSION} × its "
                                f"size + 1 MiB)")
            elif size < self.limit:
                self.limit, self.why = size, f"the file's size, {format_bytes(size)}"

    def room(self) -> int:
        return self.limit - self.produced

    def _raw_read(self, n: int) -> bytes:
        try:
            data = self._inner.read(n)
        except (OSError, EOFError, zlib.error) as err:
            if self.gzipped:
                raise ValueError(f"{self.name}: looks gzipped but cannot be decompressed ({err}); the file is "
                                 "damaged or truncated.") from None
            raise
        self.produced += len(data)
        return data

    def read(self, n: int) -> bytes:
        """Up to `n` bytes (fewer only at the end); refuses n beyond what the limit still allows."""
        if n < 0 or n > self.room():
            raise ValueError(f"{self.name}: needs {format_bytes(max(n, 0) + self.produced)} or more of data, "
                             f"more than {self.why}.")
        parts, left = [], n
        while left:
            data = self._raw_read(min(left, _CHUNK))
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readline(self, size: int = -1) -> bytes:
        """A line, at most to the limit (a pickle's text opcodes read lines)."""
        budget = self.room() if size is None or size < 0 else min(size, self.room())
        try:
            line = self._inner.readline(budget + 1)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{self.name}: cannot be decompressed ({err}); damaged or truncated.") from None
        self.produced += len(line)
        if len(line) > budget:
            raise ValueError(f"{self.name}: a line longer than {self.why}.")
        return line

    def readinto_exact(self, buffer: memoryview) -> int:
        """Fill `buffer` (a flat byte view); return how many bytes the file had (less means truncated)."""
        filled = 0
        while filled < len(buffer):
            data = self._raw_read(min(len(buffer) - filled, _CHUNK))
            if not data:
                break
            buffer[filled:filled + len(data)] = data
            filled += len(data)
        return filled

    def at_end(self) -> bool:
        """True when no byte follows (reads at most one)."""
        return not self._raw_read(1)

    def close(self) -> None:
        if self.gzipped:
            self._inner.close()
        if self._owns:
            self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Prefixed(io.RawIOBase):
    """A non-seekable reader that returns `prefix` and then the rest of `raw` (for streams we peeked at)."""

    def __init__(self, prefix: bytes, raw):
        self._prefix, self._raw = bytes(prefix), raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        data = self._raw.read(len(view))
        view[:len(data)] = data
        return len(data)


def open_stream(path_or_fileobj, max_bytes: int = MAX_ARRAY_BYTES) -> BoundedStream:
    """A BoundedStream over a path (a regular file) or a binary file object; gzip is detected from the first bytes."""
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        handle = open_regular(path_or_fileobj)
        try:
            return BoundedStream(handle, os.fspath(path_or_fileobj), max_bytes, owns=True)
        except BaseException:
            handle.close()
            raise
    if hasattr(path_or_fileobj, "read"):
        return BoundedStream(path_or_fileobj, str(getattr(path_or_fileobj, "name", "<file object>")), max_bytes,
                             owns=False)
    raise TypeError("Invalid type for argument `path_or_fileobj`: expected a path (str or os.PathLike) or a "
                    f"binary file object. Received: {path_or_fileobj!r} of type {type(path_or_fileobj).__name__}.")
