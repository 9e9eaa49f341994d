"""Atomic file writes: readers see the old file or the new one, never half of one."""
from __future__ import annotations

import os
import uuid


def atomic_write(path, chunks) -> None:
    """Write the byte chunks (bytes, memoryviews or str) to `path` through a temporary file in the same
    folder, fsync it, then rename it over `path`; the file gets mode 0666 less the umask, as `open` would."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"Cannot write {path!r}: the folder {folder!r} does not exist.")
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # O_EXCL with mode 0666: a fresh file that the umask trims as usual (mkstemp would make it 0600).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            for chunk in chunks:
                file.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # atomic: readers see the old file or the new one, never half of one
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
