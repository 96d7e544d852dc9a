"""The ``meteorfast`` command. Thin: each sub-command calls the public API.

A :class:`~meteorfast.errors.MeteorfastError` becomes one line on stderr and exit code 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from meteorfast.cli.commands import info_dict, train_config
from meteorfast.cli.parser import build_parser
from meteorfast.errors import MeteorfastError


class _WarningLine(logging.Handler):
    """Warnings (a skipped frame, a reconnection) as one line on stderr each, written around the progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(f"meteorfast: warning: {record.getMessage()}", file=sys.stderr)


def _few_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at 2, as MALLOC_ARENA_MAX=2 would (unless the user set it). Reader threads allocate
    each decoded frame and the inference thread frees it; with an arena per thread, that pattern fragments memory,
    and a soak's resident memory keeps growing after warm-up where with 2 arenas it stays flat (see
    benchmarks/RESULTS.md)."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Reports record the arguments main() was given, which are sys.argv's only when run as the console script.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    _few_malloc_arenas()
    logger = logging.getLogger("meteorfast")
    if not logger.handlers:
        logger.addHandler(_WarningLine(logging.WARNING))
        logger.propagate = False
    if not args.debug:
        # FFmpeg logs decode failures straight to stderr ("moov atom not found"); the error we raise says it in
        # one line. OpenCV reads this when it first loads its FFmpeg backend, which has not happened yet here.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")  # its "[ERROR] Could not find decoder" lines likewise
    try:
        code: int = args.func(args)
    except MeteorfastError as err:
        if args.debug:
            raise
        print(f"meteorfast: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("meteorfast: interrupted", file=sys.stderr)
        return 130
    return code


__all__ = ["build_parser", "info_dict", "main", "train_config"]
