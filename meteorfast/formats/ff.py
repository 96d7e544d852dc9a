"""RMS FF files: 256 video frames packed into four uint8 image planes.

A Global Meteor Network station (RMS software) writes one ``FF_<STATION>_<YYYYMMDD>_<hhmmss>_<mmm>_<frameno>.fits``
per block of video frames (256 frames, 10.24 s at 25 fps). The FITS file holds an empty primary HDU whose header
carries ``NROWS``, ``NCOLS``, ``NBITS``, ``NFRAMES``, ``FIRST``, ``CAMNO``, ``FPS`` (and, from newer RMS, ``DATE-OBS``),
then four image HDUs of uint8 ``[NROWS, NCOLS]``:

* ``MAXPIXEL``: each pixel's maximum over the frames;
* ``MAXFRAME``: the frame index (0..NFRAMES-1) at which that maximum was reached;
* ``AVEPIXEL``: the mean over the frames with the maximum left out;
* ``STDPIXEL``: the standard deviation over the frames with the maximum left out.

A meteor is bright in ``MAXPIXEL - AVEPIXEL`` (the same candidate image as meteorfast's stack mode), and ``MAXFRAME``
counts up along its streak, so single frames can be rebuilt approximately. The name's date, time and milliseconds
are the UTC time of the first frame.

Reading needs astropy (``pip install "meteorfast[gmn]"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import BackendUnavailableError, InputError

PLANES = ("MAXPIXEL", "MAXFRAME", "AVEPIXEL", "STDPIXEL")
FF_NAME = re.compile(
    r"^FF_(?P<station>[A-Za-z0-9]+)_(?P<date>\d{8})_(?P<time>\d{6})_(?P<frac>\d{3}|\d{6})_(?P<frameno>\d+)\.fits$"
)
NAME_HINT = "FF_<STATION>_<YYYYMMDD>_<hhmmss>_<mmm>_<frameno>.fits"

U8 = npt.NDArray[np.uint8]


def parse_ff_name(name: str | Path) -> tuple[str, datetime]:
    """``(station, start)`` from an FF file's name (a bare name or a path): ``start`` is the first frame's time, a
    UTC-aware datetime with the name's milliseconds (or microseconds, where the name has six digits)."""
    base = Path(name).name
    match = FF_NAME.match(base)
    if match is None:
        raise InputError(f"FF name: expected {NAME_HINT}, got {base!r}; pass an RMS FF file under its own name")
    frac = match["frac"]
    micro = int(frac) * 1000 if len(frac) == 3 else int(frac)
    try:
        stamp = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    except ValueError as err:
        raise InputError(f"FF name: expected a real date and time in {base!r}, got {err}; check the name") from err
    return match["station"], stamp.replace(microsecond=micro, tzinfo=timezone.utc)


def is_ff_file(path: str | Path) -> bool:
    """True where ``path`` is an existing regular file named like an RMS FF file (the contents are not read)."""
    p = Path(path)
    return FF_NAME.match(p.name) is not None and p.is_file()


@dataclass(frozen=True, eq=False)
class FFFile:
    """One FF file. The four planes are read-only uint8 ``[H,W]`` arrays in native byte order; ``start`` is the
    UTC time of frame 0, ``fps`` the frame rate, ``nframes`` the number of frames packed (``MAXFRAME`` counts
    0..nframes-1). ``camno`` is the header's ``CAMNO`` and ``first`` its ``FIRST`` (the station's running frame
    count), kept as written."""

    maxpixel: U8
    maxframe: U8
    avepixel: U8
    stdpixel: U8
    station: str
    start: datetime
    fps: float
    nframes: int
    path: Path
    camno: str = ""
    first: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the planes."""
        h, w = self.maxpixel.shape
        return int(h), int(w)

    def candidate(self) -> U8:
        """``MAXPIXEL - AVEPIXEL``, clipped at 0: uint8 ``[H,W]``, the image meteorfast's stack mode classifies."""
        diff = self.maxpixel.astype(np.int16) - self.avepixel.astype(np.int16)
        return np.clip(diff, 0, 255).astype(np.uint8)

    def frame_time(self, i: float) -> datetime:
        """The UTC time of frame ``i`` (fractional frames allowed, as FTPdetectinfo gives them): ``start + i/fps``."""
        return self.start + timedelta(seconds=float(i) / self.fps)

    def frame(self, i: int) -> U8:
        """Frame ``i`` rebuilt approximately: uint8 ``[H,W]``, ``AVEPIXEL`` everywhere and ``MAXPIXEL`` where
        ``MAXFRAME == i`` (the pixels that peaked in that frame)."""
        if not 0 <= int(i) < self.nframes or int(i) != i:
            raise InputError(f"FF frame: expected an integer in 0..{self.nframes - 1}, got {i!r}; pick a frame index")
        return np.where(self.maxframe == int(i), self.maxpixel, self.avepixel).astype(np.uint8)


def _fits() -> Any:
    try:
        from astropy.io import fits
    except ImportError as err:
        raise BackendUnavailableError(
            f'FF files: expected astropy to read FITS, got {err}; pip install "meteorfast[gmn]"'
        ) from err
    return fits


def _check_complete(hdul: Any, path: Path) -> None:
    """Raises where the file is shorter than its headers say (astropy itself only warns)."""
    size = path.stat().st_size
    need = max(int(info["datLoc"]) + int(info["datSpan"]) for info in (hdul.fileinfo(i) for i in range(len(hdul))))
    if size < need:
        raise InputError(
            f"FF file {str(path)!r}: expected {need} bytes as its FITS headers declare, got {size} (truncated); "
            "copy the file again from the station"
        )


def _plane(hdul: Any, index: int, path: Path) -> U8:
    name = PLANES[index]
    names = [str(h.name).upper() for h in hdul]
    hdu = hdul[name] if name in names else hdul[index + 1]
    data = None if hdu.data is None else np.asarray(hdu.data)
    if data is None or data.ndim != 2 or data.dtype.kind not in "ui":
        got = "no data" if data is None else f"{data.dtype} {list(data.shape)}"
        raise InputError(f"FF file {str(path)!r}: expected {name} as a 2-D integer image, got {got}; is it an FF file?")
    if data.dtype != np.uint8 and (data.min(initial=0) < 0 or data.max(initial=0) > 255):
        raise InputError(f"FF file {str(path)!r}: expected {name} values in 0..255, got {data.min()}..{data.max()}")
    plane = np.array(data, dtype=np.uint8, order="C")  # a native-endian copy, detached from the file
    plane.setflags(write=False)
    return plane


def _planes(hdul: Any, path: Path) -> tuple[U8, U8, U8, U8]:
    names = [str(h.name).upper() for h in hdul]
    if len(hdul) < 5 and not set(PLANES) <= set(names):
        raise InputError(
            f"FF file {str(path)!r}: expected a primary HDU and the four images {', '.join(PLANES)}, got "
            f"{len(hdul)} HDUs ({', '.join(names)}); pass an RMS FF file"
        )
    planes = [_plane(hdul, i, path) for i in range(4)]
    if len({p.shape for p in planes}) != 1:
        shapes = ", ".join(f"{n} {list(p.shape)}" for n, p in zip(PLANES, planes, strict=True))
        raise InputError(f"FF file {str(path)!r}: expected four planes of one shape, got {shapes}")
    return planes[0], planes[1], planes[2], planes[3]


def _header_number(head: Any, key: str, path: Path) -> float:
    try:
        return float(head[key])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(
            f"FF file {str(path)!r}: expected a number under the header key {key}, got {head.get(key)!r}; "
            "pass an RMS FF file"
        ) from err


def _start(head: Any, path: Path, camno: str) -> tuple[str, datetime]:
    """``(station, start)`` from the name; a file renamed away from the FF pattern needs ``DATE-OBS``."""
    if FF_NAME.match(path.name):
        return parse_ff_name(path.name)
    stamp = head.get("DATE-OBS")
    if not stamp:
        parse_ff_name(path.name)  # raises, naming the pattern the start time would come from
    try:
        start = datetime.fromisoformat(str(stamp))
    except ValueError as err:
        raise InputError(f"FF file {str(path)!r}: expected an ISO time under DATE-OBS, got {stamp!r}") from err
    return camno, start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start.astimezone(timezone.utc)


def read_ff(path: str | Path) -> FFFile:
    """Read an RMS FF file (FITS) into an :class:`FFFile`: four uint8 ``[H,W]`` planes, native byte order, copied
    out of the file (which is closed on return). Raises :class:`~meteorfast.errors.InputError` for a missing,
    truncated or non-FF file and :class:`~meteorfast.errors.BackendUnavailableError` without astropy."""
    fits = _fits()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"FF file: expected an existing file, got {str(p)!r}; check the path")
    try:
        with fits.open(p, memmap=False) as hdul:
            _check_complete(hdul, p)
            maxpixel, maxframe, avepixel, stdpixel = _planes(hdul, p)
            head = hdul[0].header
            fps = _header_number(head, "FPS", p)
            nframes = int(_header_number(head, "NFRAMES", p))
            camno = str(head.get("CAMNO", "")).strip()
            first = int(head.get("FIRST", 0))
            station, start = _start(head, p, camno)
    except OSError as err:
        raise InputError(f"FF file {str(p)!r}: expected a FITS file, got {err}; pass an RMS FF .fits file") from err
    if fps <= 0 or not 1 <= nframes <= 256:
        raise InputError(f"FF file {str(p)!r}: expected FPS > 0 and NFRAMES in 1..256, got {fps} and {nframes}")
    return FFFile(maxpixel, maxframe, avepixel, stdpixel, station, start, fps, nframes, p, camno=camno, first=first)


__all__ = ["FFFile", "is_ff_file", "parse_ff_name", "read_ff"]
