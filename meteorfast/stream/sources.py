"""Frame sources: video files, cameras and network streams, image files, folders and globs, NumPy iterables.

Each yields :class:`Frame` objects carrying the source id, the frame index and a timestamp. Decoding happens on
the consumer's thread of choice; :func:`prefetch` and the pipeline's readers put it on a thread of its own behind a
bounded queue, so it overlaps the work on the frames and memory stays bounded.
"""

from __future__ import annotations

import glob
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError

T = TypeVar("T")

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts", ".h264", ".264")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".webp")
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image: uint8|uint16 [H,W]`` (grey) or ``[H,W,3]`` (BGR), with where and when it came
    from: ``source`` id, ``index`` in that source, ``time_s`` from the container or derived from the frame rate."""

    source: str
    index: int
    time_s: float
    image: npt.NDArray[np.unsignedinteger]


class Source:
    """What the pipeline reads. ``id`` names it in results; ``live`` sources (cameras, network streams) run in real
    time and drop frames when the consumer falls behind, files never do; ``fps`` is None when unknown."""

    id: str = ""
    live: bool = False
    fps: float | None = None
    frame_count: int | None = None  # when known up front (files), for progress bars

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError


def to_grey(image: npt.NDArray[Any], grey: bool = True) -> npt.NDArray[Any]:
    """A BGR or BGRA ``[H,W,3|4]`` image as one channel ``[H,W]`` (when ``grey``); anything else as it is."""
    import cv2

    if grey and image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return np.asarray(cv2.cvtColor(image, code))
    return image


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
                f"video: expected a file OpenCV can decode, got {str(self.path)!r}, which it cannot open; "
                "convert it to MP4 (H.264) or check that it is not truncated"
            )
        self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        cap.release()
        self.grey = grey
        self.id = source_id or str(self.path)

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                pts_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
                time_s = pts_ms / 1e3 if pts_ms > 0 or index == 0 else index / (self.fps or 25.0)
                yield Frame(self.id, index, time_s, np.asarray(to_grey(image, self.grey)))
                index += 1
        finally:
            cap.release()


class CaptureSource(Source):
    """A live camera (``int`` device index) or network stream (RTSP/HTTP/... URL), through OpenCV.

    Timestamps are the stream's when it has them, else seconds since the first frame by the wall clock. The stream
    ends when the camera stops delivering frames.
    """

    live = True

    def __init__(self, spec: int | str, *, grey: bool = True, source_id: str | None = None) -> None:
        self.spec = spec
        self.grey = grey
        self.id = source_id or (f"camera{spec}" if isinstance(spec, int) else str(spec))
        self.fps = None

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

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        cap = self._open()
        try:
            index = 0
            began = time.monotonic()
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                pts_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
                time_s = pts_ms / 1e3 if pts_ms > 0 else time.monotonic() - began
                yield Frame(self.id, index, time_s, np.asarray(to_grey(image, self.grey)))
                index += 1
        finally:
            cap.release()


def read_image(path: str | Path, *, grey: bool = True) -> npt.NDArray[np.unsignedinteger]:
    """One image file as ``uint8|uint16 [H,W]`` (or ``[H,W,3]`` BGR with ``grey=False``); 16-bit files stay 16-bit."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputError(f"image: expected an existing file, got {str(p)!r}; check the path")
    image = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
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
    ``time_s`` is the frame index divided by ``fps`` (default 1, one image per second)."""

    def __init__(
        self, paths: Iterable[str | Path], *, grey: bool = True, source_id: str = "images", fps: float = 1.0
    ) -> None:
        self.paths = [Path(p) for p in paths]
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
        return cls([p], grey=grey, source_id=str(p))

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            yield Frame(self.id, index, index / self.rate, read_image(path, grey=self.grey))


class ArraySource(Source):
    """Frames from NumPy: an array ``[T,H,W]`` / ``[T,H,W,3]`` or any iterable of ``[H,W]`` / ``[H,W,3]`` arrays
    (uint8 or uint16). ``live=True`` treats it as a camera (frames may be dropped when the consumer is late)."""

    def __init__(
        self, frames: Iterable[npt.ArrayLike], *, source_id: str = "array", fps: float = 25.0, live: bool = False
    ) -> None:
        self.frames = frames
        self.frame_count = len(frames) if isinstance(frames, Sized) else None
        self.id = source_id
        self.rate = fps
        self.fps = fps
        self.live = live

    def __iter__(self) -> Iterator[Frame]:
        for index, image in enumerate(self.frames):
            arr = np.asarray(image)
            if arr.dtype not in (np.uint8, np.uint16):
                raise InputError(
                    f"source {self.id!r}: expected uint8 or uint16 frames, got {arr.dtype} at frame {index}; "
                    "scale and convert with .astype(np.uint8)"
                )
            yield Frame(self.id, index, index / self.rate, arr)


SourceSpec = Source | str | Path | int | Iterable[npt.ArrayLike] | npt.NDArray[Any]


def open_source(spec: SourceSpec, *, grey: bool = True, default_id: str = "array") -> Source:
    """A :class:`Source` for ``spec``: a Source as is; an ``int`` (or digits) camera index; a URL; a video file;
    an image file, directory or glob; a NumPy array or iterable of frames."""
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, bool):
        raise InputError(f"source: expected a path, URL, camera index or frames, got {spec!r}")
    if isinstance(spec, int):
        return CaptureSource(spec, grey=grey)
    if isinstance(spec, str | Path):
        text = str(spec)
        if text.isdigit():
            return CaptureSource(int(text), grey=grey)
        if text.lower().startswith(URL_SCHEMES):
            return CaptureSource(text, grey=grey)
        p = Path(text)
        if p.is_dir() or any(c in text for c in "*?["):
            return ImageSource.from_spec(text, grey=grey)
        if not p.exists():
            raise InputError(f"source: expected an existing file, directory, glob, URL or camera index, got {text!r}")
        if p.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource.from_spec(p, grey=grey)
        return VideoFileSource(p, grey=grey)
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
