"""RMS ``FTPdetectinfo_*.txt``: a station night's detections, one block per meteor, one line per frame.

The layout (as RMS writes it, CAMS-compatible)::

    Meteor Count = 000023
    -----------------------------------------------------
    Processed with RMS 1.0 <commit time> <commit> on <UTC time> UTC
    -----------------------------------------------------
    FF  folder = <directory of the FF files>
    CAL folder = <directory of the calibration>
    -----------------------------------------------------
    FF  file processed
    CAL file processed
    Cam# Meteor# #Segments fps hnr mle bin Pix/fm Rho Phi
    Per segment:  Frame# Col Row RA Dec Azim Elev Inten Mag

then per meteor a 55-dash separator, the FF file's name, the calibration line (``Uncalibrated`` or e.g.
``Recalibrated with RMS on: <UTC time> UTC``), the meteor line::

    UK0006 0001 0020 0025.00 000.0 000.0  00.0 008.3 0229.2 -164.5

(camera code, meteor number, number of centroids, fps, hnr, mle, bin, pixels per frame, Rho, Phi: the Hough line's
distance and angle) and the centroids, one per line::

    181.5648 0416.03 0406.68 139.4958 +08.4746 219.3214 +40.3624 001066 2.34

(frame, Col = x and Row = y in FF pixels with the origin at the top-left, RA and Dec, azimuth and elevation in
degrees, summed intensity, magnitude). The numbers keep RMS's fixed decimals: frame 4, Col and Row 2, the sky
coordinates 4, magnitude 2, fps 2, the meteor line's other numbers 1. Values with more decimals are rounded on
writing; values read from a file write back to the same text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from meteorfast.errors import InputError
from meteorfast.io import atomic_write_bytes

HEADER_RULE = "-" * 53
BLOCK_RULE = "-" * 55
COLUMNS = "Cam# Meteor# #Segments fps hnr mle bin Pix/fm Rho Phi"
SEGMENT_COLUMNS = "Per segment:  Frame# Col Row RA Dec Azim Elev Inten Mag"
UNCALIBRATED = "Uncalibrated"
CENTROID_FORMAT = "{:06.4f} {:07.2f} {:07.2f} {:08.4f} {:+08.4f} {:08.4f} {:+08.4f} {:06d} {:.2f}"


@dataclass(frozen=True)
class Centroid:
    """One frame of a meteor: ``frame`` (fractional, in the FF file's frames), ``x`` (Col) and ``y`` (Row) in FF
    pixels, ``ra``/``dec`` and ``azim``/``elev`` in degrees (zero where uncalibrated), ``inten`` the summed
    intensity, ``mag`` the magnitude (NaN where a file leaves it out)."""

    frame: float
    x: float
    y: float
    ra: float = 0.0
    dec: float = 0.0
    azim: float = 0.0
    elev: float = 0.0
    inten: int = 0
    mag: float = 0.0


@dataclass(frozen=True)
class Detection:
    """One meteor block: the FF file it is in, the calibration line, the meteor line's values and the centroids.
    ``pix_per_frame`` is the angular speed in pixels per frame; ``rho`` and ``phi`` the Hough line's distance
    (pixels) and angle (degrees)."""

    ff_name: str
    calibration: str
    cam: str
    meteor: int
    fps: float
    hnr: float = 0.0
    mle: float = 0.0
    bin: float = 0.0
    pix_per_frame: float = 0.0
    rho: float = 0.0
    phi: float = 0.0
    centroids: tuple[Centroid, ...] = ()

    @property
    def calibrated(self) -> bool:
        """False where the calibration line is ``Uncalibrated`` (RA, Dec, Azim and Elev are then zero)."""
        return self.calibration.strip() != UNCALIBRATED


@dataclass(frozen=True)
class FTPHeader:
    """The file's header: ``processed_with`` is the whole ``Processed with ...`` line, ``ff_folder`` and
    ``cal_folder`` the two folders, ``meteor_count`` the count the file declares (writing counts the blocks)."""

    processed_with: str = ""
    ff_folder: str = ""
    cal_folder: str = ""
    meteor_count: int = 0


# --- reading ------------------------------------------------------------------------------------------------------


def _is_block_rule(line: str) -> bool:
    s = line.strip()
    return len(s) >= len(BLOCK_RULE) and set(s) == {"-"}


def _bad(source: str, lineno: int, line: str, expected: str) -> InputError:
    return InputError(
        f"FTPdetectinfo {source} line {lineno}: expected {expected}, got {line.strip()!r}; fix or drop that block"
    )


def _number(token: str) -> float:
    """A float; RMS's zero-padded NaN (``0000nan``) reads as NaN."""
    return math.nan if token.lower().endswith("nan") else float(token)


def _parse_header(lines: Sequence[str], source: str) -> tuple[FTPHeader, int]:
    """The header and the index of the first block rule (``len(lines)`` where there is no meteor)."""
    first = lines[0] if lines else ""
    key, _, value = first.partition("=")
    if key.strip() != "Meteor Count" or not value.strip().isdigit():
        raise _bad(source, 1, first, "'Meteor Count = N' (an RMS FTPdetectinfo file)")
    end = next((i for i, line in enumerate(lines) if _is_block_rule(line)), len(lines))
    fields = {"processed": "", "FF  folder": "", "CAL folder": ""}
    for line in lines[1:end]:
        if line.startswith("Processed with"):
            fields["processed"] = line.strip()
        for name in ("FF  folder", "CAL folder"):
            if line.startswith(name) and "=" in line:
                fields[name] = line.partition("=")[2].strip()
    header = FTPHeader(fields["processed"], fields["FF  folder"], fields["CAL folder"], int(value))
    return header, end


def _parse_meteor_line(line: str, source: str, lineno: int) -> tuple[str, int, int, list[float]]:
    """``(cam, meteor, segments, [fps, hnr, mle, bin, pix_per_frame, rho, phi])``."""
    parts = line.split()
    try:
        if len(parts) != 10:
            raise ValueError(len(parts))
        return parts[0], int(parts[1]), int(parts[2]), [float(v) for v in parts[3:]]
    except ValueError as err:
        raise _bad(source, lineno, line, f"the meteor line ({COLUMNS})") from err


def _parse_centroid(line: str, source: str, lineno: int) -> Centroid | None:
    """A centroid, or None for a line whose Col or Row is NaN (RMS's own reader skips those too)."""
    parts = line.split()
    try:
        if len(parts) not in (8, 9):
            raise ValueError(len(parts))
        vals = [_number(v) for v in parts[:7]]
        inten = int(float(parts[7]))
        mag = _number(parts[8]) if len(parts) == 9 else math.nan
    except ValueError as err:
        raise _bad(source, lineno, line, "a centroid line (Frame# Col Row RA Dec Azim Elev Inten Mag)") from err
    if math.isnan(vals[1]) or math.isnan(vals[2]):
        return None
    frame, x, y, ra, dec, azim, elev = vals
    return Centroid(frame, x, y, ra, dec, azim, elev, inten, mag)


def _parse_block(lines: Sequence[str], start: int, source: str) -> Detection:
    """One block; ``lines[0]`` is the line after its rule, which is line ``start`` (1-based) of the file."""
    if len(lines) < 3:
        got = lines[-1] if lines else "<end of file>"
        raise _bad(source, start + max(len(lines) - 1, 0), got, "an FF name, a calibration line and the meteor line")
    ff_name, calibration = lines[0].strip(), lines[1].strip()
    if not ff_name or not calibration:
        raise _bad(source, start, lines[0] if not ff_name else lines[1], "an FF file name and a calibration line")
    cam, meteor, segments, (fps, hnr, mle, binning, ppf, rho, phi) = _parse_meteor_line(lines[2], source, start + 2)
    rows = [(start + 3 + k, line) for k, line in enumerate(lines[3:]) if line.strip()]
    if len(rows) > segments:
        raise _bad(source, rows[segments][0], rows[segments][1], f"{segments} centroids as the meteor line declares")
    parsed = (_parse_centroid(line, source, n) for n, line in rows)
    centroids = tuple(c for c in parsed if c is not None)
    return Detection(ff_name, calibration, cam, meteor, fps, hnr, mle, binning, ppf, rho, phi, centroids)


def parse_ftpdetectinfo(text: str, source: str = "<text>") -> tuple[FTPHeader, list[Detection]]:
    """The header and the detections of an FTPdetectinfo text (any newline convention); ``source`` names it in
    errors. A malformed block raises :class:`~meteorfast.errors.InputError` naming its line. A meteor line may
    declare more centroids than follow (RMS counts the NaN centroids it leaves out), never fewer."""
    lines = text.splitlines()
    header, i = _parse_header(lines, source)
    rules = [k for k in range(i, len(lines)) if _is_block_rule(lines[k])]
    bounds = zip(rules, [*rules[1:], len(lines)], strict=False)  # each rule to the next (or the end)
    blocks = [(a + 2, lines[a + 1 : b]) for a, b in bounds]  # (1-based line of the block's first line, body)
    return header, [_parse_block(body, n, source) for n, body in blocks if any(s.strip() for s in body)]


def _read_text(path: str | Path) -> tuple[str, str]:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8", errors="replace"), str(p)
    except OSError as err:
        raise InputError(f"FTPdetectinfo: expected a readable file, got {str(p)!r} ({err.strerror})") from err


def read_ftpdetectinfo(path: str | Path) -> list[Detection]:
    """The detections of an ``FTPdetectinfo_*.txt`` file, in file order (see :func:`parse_ftpdetectinfo`)."""
    return parse_ftpdetectinfo(*_read_text(path))[1]


def read_ftpdetectinfo_header(path: str | Path) -> FTPHeader:
    """The header of an ``FTPdetectinfo_*.txt`` file (the file is parsed whole, so a malformed block raises)."""
    return parse_ftpdetectinfo(*_read_text(path))[0]


# --- writing ------------------------------------------------------------------------------------------------------


def _one_line(value: str, what: str, *, spaces: bool = True) -> str:
    bad = "\r\n" if spaces else "\r\n \t"
    if not value.strip() or any(ch in value for ch in bad) or _is_block_rule(value):
        raise InputError(
            f"FTPdetectinfo: expected the {what} as one non-empty line{'' if spaces else ' without spaces'}, "
            f"got {value!r}; fix the detection"
        )
    return value.strip()


def _format_centroid(c: Centroid) -> str:
    if not all(math.isfinite(v) for v in (c.frame, c.x, c.y)):
        raise InputError(f"FTPdetectinfo: expected finite frame, Col and Row, got {c!r}; drop that centroid")
    return CENTROID_FORMAT.format(c.frame, c.x, c.y, c.ra, c.dec, c.azim, c.elev, int(c.inten), c.mag)


def _format_block(d: Detection) -> list[str]:
    cam = _one_line(d.cam, "camera code", spaces=False)
    meteor = (
        f"{cam:>4s} {int(d.meteor):04d} {len(d.centroids):04d} {d.fps:07.2f} {d.hnr:05.1f} {d.mle:05.1f} "
        f" {d.bin:04.1f} {d.pix_per_frame:05.1f} {d.rho:06.1f} {d.phi:06.1f}"
    )
    head = [BLOCK_RULE, _one_line(d.ff_name, "FF name"), _one_line(d.calibration, "calibration line"), meteor]
    return head + [_format_centroid(c) for c in d.centroids]


def _default_processed_with() -> str:
    from meteorfast._version import __version__

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return f"Processed with meteorfast {__version__} on {now} UTC"


def format_ftpdetectinfo(detections: Iterable[Detection], header: FTPHeader | None = None) -> str:
    """The text of an FTPdetectinfo file in RMS's layout and number formatting, newline ``\\n``. ``header`` gives
    the ``Processed with`` line and the folders (by default a meteorfast line with the current UTC time and empty
    folders); the meteor count is the number of detections, and each meteor line's #Segments its centroid count."""
    dets = list(detections)
    h = header or FTPHeader()
    processed = h.processed_with.strip() or _default_processed_with()
    lines = [f"Meteor Count = {len(dets):06d}", HEADER_RULE, _one_line(processed, "Processed with line"), HEADER_RULE]
    lines += [f"FF  folder = {h.ff_folder}", f"CAL folder = {h.cal_folder}", HEADER_RULE]
    lines += ["FF  file processed", "CAL file processed", COLUMNS, SEGMENT_COLUMNS]
    for d in dets:
        lines += _format_block(d)
    return "\n".join(lines) + "\n"


def write_ftpdetectinfo(
    path: str | Path, detections: Iterable[Detection], header: FTPHeader | None = None, *, newline: str = "\n"
) -> Path:
    """Write ``detections`` to ``path`` atomically (a temporary file beside it, then a rename) in RMS's layout
    (see :func:`format_ftpdetectinfo`); ``newline`` is ``"\\n"`` (as RMS writes) or ``"\\r\\n"``. Reading the file
    back gives equal detections wherever their values fit RMS's decimals. Returns the path."""
    if newline not in ("\n", "\r\n"):
        raise InputError(f"FTPdetectinfo: expected newline '\\n' or '\\r\\n', got {newline!r}")
    text = format_ftpdetectinfo(detections, header).replace("\n", newline)
    return atomic_write_bytes(path, text.encode("utf-8"))


__all__ = [
    "Centroid",
    "Detection",
    "FTPHeader",
    "format_ftpdetectinfo",
    "parse_ftpdetectinfo",
    "read_ftpdetectinfo",
    "read_ftpdetectinfo_header",
    "write_ftpdetectinfo",
]
