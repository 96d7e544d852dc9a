"""Output files are written whole or not at all: to a temporary file beside the target, then renamed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from meteorfast.errors import OutputError


def emit_json(result: object, path: str | Path | None = None) -> str:
    """Print ``result`` as indented JSON and, with ``path``, also write it there atomically. Returns the text."""
    text = json.dumps(result, indent=2)
    print(text)
    if path is not None:
        atomic_write_bytes(path, (text + "\n").encode())
    return text


def _new_file_mode() -> int:
    """0o666 less the process umask, as open() would give; mkstemp's 0o600 is not what users expect of outputs."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory, fsync, rename). A new file gets
    the usual permissions (0o666 less the umask); an existing one keeps its own."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise OutputError(
            f"output: expected a writable directory for {str(target)!r}, got {err.strerror}; choose another --out"
        ) from err
    try:
        os.fchmod(fd, target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode())
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
