"""Frame sources. Decoding runs on a thread of its own behind a bounded queue, so it overlaps the work on the
frames and memory stays bounded (a slow consumer blocks the decoder: a file never drops a frame)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image: uint8 [H,W]`` (grey) or ``[H,W,3]`` (BGR), with where and when it came from."""

    source: str
    index: int
    time_s: float
    image: npt.NDArray[np.uint8]


class VideoFileSource:
    """Frames of a video file, decoded by OpenCV. ``grey=True`` converts to one channel, as meteor cameras are.

    Timestamps come from the container (``CAP_PROP_POS_MSEC``) when it has them, else from the frame rate.
    """

    def __init__(self, path: str | Path, *, grey: bool = True) -> None:
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
        cap.release()
        self.grey = grey

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
                time_s = pts_ms / 1e3 if pts_ms > 0 or index == 0 else index / self.fps
                if self.grey and image.ndim == 3:
                    image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                yield Frame(str(self.path), index, time_s, np.asarray(image, np.uint8))
                index += 1
        finally:
            cap.release()


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
