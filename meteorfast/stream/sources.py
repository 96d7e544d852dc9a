"""Frame sources: video files, cameras and network streams, image files, folders and globs, NumPy iterables.

Each yields :class:`Frame` objects carrying the source id, the frame index and a timestamp. Decoding happens on
the consumer's thread of choice; :func:`prefetch` and the pipeline's readers put it on a thread of its own behind a
bounded queue, so it overlaps the work on the frames and memory stays bounded.

Faults a station meets every night do not end a source. A frame or an image file that cannot be decoded is
skipped, and a live stream that stops is reopened with exponential backoff. Each is logged as a warning on the
``meteorfast.stream`` logger and reported to the source's listener (see :meth:`Source.watch`), which the pipeline
turns into counters. Frame indices keep counting across a skip, so they stay the frames' positions in the file.
"""

from __future__ import annotations

import glob
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, NonFiniteError

T = TypeVar("T")

log = logging.getLogger("meteorfast.stream")

Listener = Callable[[str, int, str], None]
"""Called as ``listener(kind, count, message)``: ``kind`` is ``"skipped"`` (``count`` frames or files could not
be decoded and were left out) or ``"reconnected"`` (a live stream came back after ``count`` failed attempts)."""

#: A video read that fails this many times in a row, before the frame count the container gives, ends the file.
MAX_CONSECUTIVE_DECODE_ERRORS = 25
#: Frames a video may end short of its container's frame count without being reported as truncated.
COUNT_SLACK = 2

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts", ".h264", ".264")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".webp")
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image: uint8|uint16 [H,W]`` (grey) or ``[H,W,3]`` (BGR), with where and when it came
    from: ``source`` id, ``index`` in that source, ``time_s`` from the container or derived from the frame rate,
    and ``file``, the image file it was read from ("" for a video's or a camera's frame)."""

    source: str
    index: int
    time_s: float
    image: npt.NDArray[np.unsignedinteger]
    file: str = ""


class Source:
    """What the pipeline reads. ``id`` names it in results; ``live`` sources (cameras, network streams) run in real
    time and drop frames when the consumer falls behind, files never do; ``fps`` is None when unknown. ``stills``
    sources give single exposures (photos), not video frames: the detector's stills stages (the vetoes, the
    proposal net), when left to ``"auto"``, judge only those (see :mod:`meteorfast.judges`)."""

    id: str = ""
    live: bool = False
    stills: bool = False
    fps: float | None = None
    frame_count: int | None = None  # when known up front (files), for progress bars

    _listener: Listener | None = None
    _stop: threading.Event | None = None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def watch(self, listener: Listener | None, stop: threading.Event | None = None) -> None:
        """Report skips and reconnections to ``listener``; ``stop``, once set, cuts short any wait (a reconnection
        backoff) so the source ends promptly."""
        self._listener = listener
        self._stop = stop

    def report(self, kind: str, count: int, message: str) -> None:
        """Log ``message`` as a warning and pass the event to the listener, if any."""
        log.warning("%s: %s", self.id, message)
        if self._listener is not None:
            self._listener(kind, count, message)

    def _report_short_end(self, frames: int) -> None:
        """A file that ended ``frames`` in, short of the frame count its container gave: report the missing ones.
        Containers that only estimate their count (from duration x fps: MKV, WebM, TS) can be a frame or two over;
        only a larger gap means frames were lost."""
        missing = 0 if self.frame_count is None else self.frame_count - frames
        if missing > COUNT_SLACK and not self._stopped():
            self.report(
                "skipped", missing, f"ended after {frames} of the {self.frame_count} frames the container lists; "
                f"{missing} could not be decoded (a truncated or damaged file)",
            )  # fmt: skip

    def _stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the source was told to stop meanwhile."""
        if self._stop is None:
            time.sleep(seconds)
            return True
        return not self._stop.wait(seconds)


def to_grey(image: npt.NDArray[Any], grey: bool = True) -> npt.NDArray[Any]:
    """A BGR or BGRA ``[H,W,3|4]`` image as one channel ``[H,W]`` (:func:`meteorfast.analysis.grey`, when ``grey``);
    a grey ``[H,W,1]`` image as ``[H,W]`` always; anything else as it is."""
    from meteorfast.analysis.image import grey as one_channel

    if image.ndim == 3 and (image.shape[2] == 1 or grey):
        return one_channel(image)
    return image


def check_frame(frame: npt.NDArray[Any], where: str, index: int) -> npt.NDArray[np.unsignedinteger]:
    """``frame`` as meteorfast takes it: uint8|uint16 ``[H,W]`` or ``[H,W,3|4]`` (``[H,W,1]`` becomes ``[H,W]``), or
    an error naming ``where`` and the frame's ``index``."""
    if frame.dtype.kind in "fc" and frame.size and not np.isfinite(frame).all():
        raise NonFiniteError(
            f"{where}: expected finite uint8 or uint16 frames, got {frame.dtype} with NaN or Inf at frame {index}; "
            "replace them (np.nan_to_num), scale to 0..255 and convert with .astype(np.uint8)"
        )
    if frame.dtype not in (np.uint8, np.uint16):
        raise InputError(
            f"{where}: expected uint8 or uint16 frames, got {frame.dtype} at frame {index}; scale floats to 0..255 "
            "and convert with .astype(np.uint8)"
        )
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)) or frame.size == 0:
        raise InputError(f"{where}: expected a frame [H,W] or [H,W,3], got shape {frame.shape} at frame {index}")
    return to_grey(frame, grey=False)


class VideoFileSource(Source):
    """Frames of a video file, decoded by OpenCV. ``grey=True`` converts to one channel, as meteor cameras are.

    Timestamps come from the container (``CAP_PROP_POS_MSEC``) when it has them, else from the frame rate.
    """

    def __init__(self, path: str | Path, *, grey: bool = True, source_id: str | None = None) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"video: expected an existing file, got {str(self.path)!r}; check the path")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise InputError(
                f"video: expected a video file OpenCV can open, got {str(self.path)!r}, which it cannot (not a "
                "video, truncated, or a codec it lacks); check it or convert it: ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        try:
            self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
            self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self.frame_count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) or None
            # A container OpenCV can open may still hold a stream it cannot decode (an unsupported codec, or no
            # video at all): find out now, with a message naming the codec, not as a source with no frames.
            ok, _ = cap.read()
            fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        finally:
            cap.release()
        if not ok:
            codec = "".join(chr((fourcc >> (8 * k)) & 0xFF) for k in range(4)).strip("\x00 ") or "unknown"
            raise InputError(
                f"video: expected a video stream OpenCV can decode, got {str(self.path)!r} (codec {codec!r}), "
                "whose first frame it cannot decode; convert it with: ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        self.grey = grey
        self.id = source_id or str(self.path)

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        fps = self.fps or 25.0
        try:
            index = 0
            failed = 0  # reads failed in a row: frames lost to decode errors, unless the file ends
            last_pts = -1.0
            while True:
                ok, image = cap.read()
                if not ok:
                    # OpenCV reports a frame it cannot decode and the end of the file alike; a read short of the
                    # container's frame count is tried again, so one damaged frame does not end the night.
                    if self.frame_count is not None and index + failed + 1 < self.frame_count:
                        failed += 1
                        if failed < MAX_CONSECUTIVE_DECODE_ERRORS:
                            continue
                    break
                if failed:
                    self.report("skipped", failed, f"{failed} frame(s) from {index} on could not be decoded, skipped")
                    index += failed
                    failed = 0
                pts_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
                # After a decode error the container position can lag; the frame rate gives a time that cannot.
                time_s = pts_ms / 1e3 if pts_ms > last_pts and (pts_ms > 0 or index == 0) else index / fps
                last_pts = max(last_pts, pts_ms)
                yield Frame(self.id, index, time_s, np.asarray(to_grey(image, self.grey)))
                index += 1
            self._report_short_end(index)
        finally:
            cap.release()


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise InputError(
            f"video: expected PyAV for decoder='pyav', got {exc}; install it with `pip install meteorfast[pyav]`, "
            "or use the default OpenCV decoder"
        ) from exc
    return av


class PyAVSource(Source):
    """Frames of a video file, decoded by PyAV (FFmpeg's libraries; the ``[pyav]`` extra). ``grey=True`` gives one
    channel, as meteor cameras are.

    Where it differs from the OpenCV :class:`VideoFileSource`:

    - ``time_s`` is each frame's own presentation time (``pts * time_base``, from the stream's first frame), so
      variable-frame-rate recordings and streams with gaps keep true times;
    - video of more than 8 bits (FFV1 or ProRes from scientific cameras, ``gray16le``, ``yuv420p10`` ...) comes out
      as uint16 with its full depth: grey is the luma plane scaled to 16 bits, colour is BGR at 16 bits. OpenCV
      returns such video as 8-bit BGR;
    - each packet the decoder rejects is skipped, counted and reported, and the frame index moves past it.
    """

    def __init__(self, path: str | Path, *, grey: bool = True, source_id: str | None = None) -> None:
        av = _import_av()
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"video: expected an existing file, got {str(self.path)!r}; check the path")
        try:
            with av.open(str(self.path), metadata_errors="replace") as container:
                if not container.streams.video:
                    raise InputError(f"video: expected a video stream, got none in {str(self.path)!r}")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                self.fps = float(rate) if rate else 25.0
                self.frame_count = int(stream.frames) or None
                ctx = stream.codec_context
                codec = getattr(ctx, "name", None) or "unknown"
                fmt = getattr(ctx, "format", None)
                deep = fmt is not None and max((c.bits for c in fmt.components), default=8) > 8
                # The first frame, now: an undecodable stream fails here, naming its codec. Its size is the one to
                # trust; a damaged header may carry none.
                first = next(container.decode(stream), None)
                if first is None:
                    raise InputError(
                        f"video: expected a video stream FFmpeg can decode, got {str(self.path)!r} (codec "
                        f"{codec!r}), which gave no frame; convert it with: ffmpeg -i IN -c:v libx264 OUT.mp4"
                    )
                self.width, self.height = int(first.width), int(first.height)
        except av.error.FFmpegError as exc:
            raise InputError(
                f"video: expected a video file FFmpeg can open, got {str(self.path)!r}: {exc}; check it or convert "
                "it: ffmpeg -i IN -c:v libx264 OUT.mp4"
            ) from exc
        self.format = ("gray16le" if deep else "gray") if grey else ("bgr48le" if deep else "bgr24")
        self.grey = grey
        self.id = source_id or str(self.path)

    def __iter__(self) -> Iterator[Frame]:
        av = _import_av()
        fps = self.fps or 25.0
        with av.open(str(self.path), metadata_errors="replace") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame and slice threads: decoding keeps pace with 4K
            index = 0
            start: float | None = None
            for packet in container.demux(stream):
                if self._stopped():
                    return
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    if packet.size == 0:  # the end-of-stream flush of a damaged file: nothing left to lose
                        break
                    self.report("skipped", 1, f"a packet at frame {index} could not be decoded ({exc}), skipped")
                    index += 1
                    continue
                for frame in decoded:
                    t = frame.time
                    if t is not None and start is None:
                        start = float(t)
                    time_s = float(t) - (start or 0.0) if t is not None else index / fps
                    yield Frame(self.id, index, time_s, np.asarray(frame.to_ndarray(format=self.format)))
                    index += 1
            self._report_short_end(index)


DECODERS = ("opencv", "pyav")


class CaptureSource(Source):
    """A live camera (``int`` device index) or network stream (RTSP/HTTP/... URL), through OpenCV.

    Timestamps are the stream's when it has them, else seconds since the first frame by the wall clock. A stream
    that stops delivering frames (a camera unplugged, an RTSP drop) is reopened after ``backoff`` seconds, doubling
    up to ``max_backoff``, at most ``retries`` times in a row (``None``: forever, as an unattended station wants);
    frame indices carry on across the gap. A stream that cannot be opened at all at the start is an error, because
    that is a wrong device or URL far more often than a camera still booting.
    """

    live = True

    def __init__(
        self, spec: int | str, *, grey: bool = True, source_id: str | None = None, retries: int | None = None,
        backoff: float = 0.5, max_backoff: float = 30.0,
    ) -> None:  # fmt: skip
        if retries is not None and retries < 0:
            raise InputError(f"source: expected retries >= 0 (or None for no limit), got {retries}")
        if not 0 <= backoff <= max_backoff:
            raise InputError(f"source: expected 0 <= backoff <= max_backoff, got {backoff} and {max_backoff}")
        self.spec = spec
        self.grey = grey
        self.id = source_id or (f"camera{spec}" if isinstance(spec, int) else str(spec))
        self.fps = None
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.reconnects = 0

    def _open(self) -> Any:
        import cv2

        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            kind = "camera index" if isinstance(self.spec, int) else "stream URL"
            raise InputError(
                f"source: expected a {kind} OpenCV can open, got {self.spec!r}, which it cannot; check that the "
                "device exists (ls /dev/video*) or that the URL plays (ffplay URL)"
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        self.fps = fps if 0 < fps < 1000 else None
        return cap

    def _reopen(self, index: int) -> Any | None:
        """Reopen after the stream stopped at frame ``index``, backing off; None when out of retries or stopped."""
        delay = self.backoff
        attempt = 0
        log.warning("%s: stream stopped after frame %d; reopening it", self.id, index - 1)
        while self.retries is None or attempt < self.retries:
            if not self._sleep(delay):
                return None
            attempt += 1
            try:
                cap = self._open()
            except InputError:
                delay = min(2 * delay, self.max_backoff) if delay > 0 else 0.0
                continue
            self.reconnects += 1
            self.report("reconnected", attempt, f"reopened after {attempt} attempt(s); frames carry on from {index}")
            return cap
        if self._stopped() or not attempt:
            return None
        raise InputError(
            f"source: expected the stream to come back, got nothing in {attempt} attempt(s) after frame {index - 1}; "
            "check the camera and its network, then rerun"
        )

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        cap = self._open()
        try:
            index = 0
            began = time.monotonic()
            last = -1.0
            while True:
                ok, image = cap.read()
                if not ok:
                    cap.release()
                    cap = self._reopen(index)
                    if cap is None:
                        return
                    continue
                pts_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
                time_s = pts_ms / 1e3
                if pts_ms <= 0 or time_s <= last:  # no stream clock, or it restarted with the stream
                    time_s = time.monotonic() - began
                last = time_s
                yield Frame(self.id, index, time_s, np.asarray(to_grey(image, self.grey)))
                index += 1
        finally:
            if cap is not None:
                cap.release()


def read_image(path: str | Path, *, grey: bool = True) -> npt.NDArray[np.unsignedinteger]:
    """One image file as ``uint8|uint16 [H,W]`` (or ``[H,W,3]`` BGR with ``grey=False``); 16-bit files stay 16-bit."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputError(f"image: expected an existing file, got {str(p)!r}; check the path")
    try:
        image = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # some decoders raise instead of returning None (e.g. an image over OpenCV's pixel limit)
        image = None
    if image is None:
        raise InputError(
            f"image: expected a file OpenCV can decode ({', '.join(IMAGE_SUFFIXES)}), got {str(p)!r}, which it "
            "cannot; check that it is a complete image"
        )
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"image: expected 8- or 16-bit pixels, got {image.dtype} in {str(p)!r}; convert it")
    return np.asarray(to_grey(image, grey))


class ImageSource(Source):
    """Image files: a list of paths, a directory (its images in name order) or a glob. Each image is one frame;
    ``time_s`` is the frame index divided by ``fps`` (default 1, one image per second). Image files are taken for
    stills (``stills=True``, photos of their own exposure); frames exported from a video are not, so say
    ``stills=False`` for those."""

    def __init__(
        self, paths: Iterable[str | Path], *, grey: bool = True, source_id: str = "images", fps: float = 1.0,
        stills: bool = True,
    ) -> None:  # fmt: skip
        self.paths = [Path(p) for p in paths]
        self.stills = stills
        self.frame_count = len(self.paths)
        if not self.paths:
            raise InputError(f"images: expected at least one image file for source {source_id!r}, got none")
        self.grey = grey
        self.id = source_id
        self.rate = fps
        self.fps = fps

    @classmethod
    def from_spec(cls, spec: str | Path, *, grey: bool = True) -> ImageSource:
        """A directory, a glob pattern or one image file."""
        p = Path(spec)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(
                    f"images: expected image files ({', '.join(IMAGE_SUFFIXES)}) in {str(p)!r}, found none"
                )
            return cls(files, grey=grey, source_id=str(p))
        if any(c in str(spec) for c in "*?["):
            files = sorted(Path(f) for f in glob.glob(str(spec)) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"images: expected the pattern {str(spec)!r} to match image files, it matches none")
            return cls(files, grey=grey, source_id=str(spec))
        read_image(p, grey=grey)  # one file: a bad one is an error now, not a source with no frames
        return cls([p], grey=grey, source_id=str(p))

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            try:
                image = read_image(path, grey=self.grey)
            except InputError as err:
                if len(self.paths) == 1:
                    raise
                # One bad file in a night's folder must not lose the others: skip it and say so.
                self.report("skipped", 1, str(err))
                continue
            yield Frame(self.id, index, index / self.rate, image, str(path))


class ArraySource(Source):
    """Frames from NumPy: an array ``[T,H,W]`` / ``[T,H,W,3]`` or any iterable of ``[H,W]`` / ``[H,W,3]`` arrays
    (uint8 or uint16). ``live=True`` treats it as a camera (frames may be dropped when the consumer is late);
    ``stills=True`` says the frames are single exposures (photos), not video frames."""

    def __init__(
        self, frames: Iterable[npt.ArrayLike], *, source_id: str = "array", fps: float = 25.0, live: bool = False,
        stills: bool = False,
    ) -> None:  # fmt: skip
        self.frames = frames
        self.stills = stills
        self.frame_count = len(frames) if isinstance(frames, Sized) else None
        self.id = source_id
        self.rate = fps
        self.fps = fps
        self.live = live

    def __iter__(self) -> Iterator[Frame]:
        for index, image in enumerate(self.frames):
            yield Frame(self.id, index, index / self.rate, check_frame(np.asarray(image), f"source {self.id!r}", index))


SourceSpec = Source | str | Path | int | Iterable[npt.ArrayLike] | npt.NDArray[Any]


def open_source(
    spec: SourceSpec, *, grey: bool = True, default_id: str = "array", retries: int | None = None,
    decoder: str = "opencv",
) -> Source:  # fmt: skip
    """A :class:`Source` for ``spec``: a Source as is; an ``int`` (or digits) camera index; a URL; a video file;
    an image file, directory or glob; a NumPy array or iterable of frames. ``retries`` applies to cameras and
    URLs (see :class:`CaptureSource`); ``decoder`` (``"opencv"`` or ``"pyav"``) to video files."""
    if decoder not in DECODERS:
        raise InputError(f"source: expected decoder one of {DECODERS}, got {decoder!r}")
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, bool):
        raise InputError(f"source: expected a path, URL, camera index or frames, got {spec!r}")
    if isinstance(spec, int):
        return CaptureSource(spec, grey=grey, retries=retries)
    if isinstance(spec, str | Path):
        text = str(spec)
        if text.isdigit():
            return CaptureSource(int(text), grey=grey, retries=retries)
        if text.lower().startswith(URL_SCHEMES):
            return CaptureSource(text, grey=grey, retries=retries)
        p = Path(text)
        if p.is_dir() or any(c in text for c in "*?["):
            return ImageSource.from_spec(text, grey=grey)
        if not p.exists():
            raise InputError(f"source: expected an existing file, directory, glob, URL or camera index, got {text!r}")
        if p.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource.from_spec(p, grey=grey)
        return PyAVSource(p, grey=grey) if decoder == "pyav" else VideoFileSource(p, grey=grey)
    if isinstance(spec, np.ndarray):
        if spec.ndim not in (3, 4):
            raise InputError(f"source: expected a frame array [T,H,W] or [T,H,W,3], got shape {spec.shape}")
        return ArraySource(spec, source_id=default_id)
    if isinstance(spec, Iterable):
        return ArraySource(spec, source_id=default_id)
    raise InputError(f"source: expected a path, URL, camera index or frames, got {type(spec).__name__}")


_END = object()


class _Prefetcher(Generic[T]):
    def __init__(self, items: Iterable[T], depth: int) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), name="meteorfast-decode", daemon=True)
        self._thread.start()

    def _run(self, items: Iterable[T]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
        except BaseException as err:  # handed to the consumer, which re-raises it in its own thread
            self._put(err)
            return
        self._put(_END)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            self._stop.set()
            self._thread.join()


def prefetch(items: Iterable[T], depth: int = 8) -> Iterator[T]:
    """Iterate ``items`` on a background thread, at most ``depth`` ahead of the consumer.

    An exception in the producer is re-raised in the consumer; leaving the loop early stops the producer.
    """
    if depth < 1:
        raise InputError(f"prefetch: expected depth >= 1, got {depth}")
    return iter(_Prefetcher(items, depth))
