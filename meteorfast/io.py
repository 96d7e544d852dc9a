"""Output files are written whole or not at all: to a temporary file beside the target, then renamed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from meteorfast.errors import OutputError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory, fsync, rename)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise OutputError(
            f"output: expected a writable directory for {str(target)!r}, got {err.strerror}; choose another --out"
        ) from err
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(
            f"output: expected to write {len(data)} bytes to {str(target)!r}, got {err.strerror}; "
            "free some space or choose another --out"
        ) from err
    return target
