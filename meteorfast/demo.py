"""``meteorfast demo``: the native kernels on a real meteor-station clip.

Until the shipped classifier exists, the demo runs the parts of the pipeline that need no model, on the bundled GMN
clip (or any video): decoding on its own thread, RMS-style stacking of each window of frames with the native
kernel, and the paper's two-level localisation (coarse region, then the finest cell inside it) with the native
kernel, on the stack's ``max - mean`` image. It reports the brightest transient of each window and the throughput,
and can draw them on the clip's maximum image. It does not classify: a timestamp overlay or a satellite is a
transient too (on the bundled clip the timestamp wins the windows without the meteor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from meteorfast import cam
from meteorfast.data import SAMPLE_VIDEO
from meteorfast.errors import InputError
from meteorfast.io import atomic_write_bytes
from meteorfast.stream import VideoFileSource, prefetch

COARSE = (9, 16)  # rows, cols of the region grid over a 16:9 frame
FINE = (90, 160)  # the fine grid: 8x8-pixel cells on 720p


@dataclass(frozen=True)
class WindowResult:
    """One stacked window: frames ``[start, end]``, the brightest transient at ``(x, y)`` frame pixels, and the
    ``max - mean`` value around it."""

    start: int
    end: int
    start_time_s: float
    x: float
    y: float
    value: int


@dataclass(frozen=True)
class DemoReport:
    video: str
    width: int
    height: int
    frames: int
    seconds: float
    windows: list[WindowResult]
    native: cam.NativeInfo

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def _locate(candidate: npt.NDArray[np.unsignedinteger], start: int, end: int, t0: float) -> WindowResult:
    import cv2

    img = candidate.astype(np.float32)
    h, w = img.shape
    fine = cv2.resize(img, (FINE[1], FINE[0]), interpolation=cv2.INTER_AREA)
    # The region map is the fine map's block maxima: a thin streak must not be averaged away.
    coarse = cv2.resize(
        cv2.dilate(fine, np.ones((3, 3), np.uint8)), (COARSE[1], COARSE[0]), interpolation=cv2.INTER_AREA
    )
    loc = cam.localize(coarse[None], fine[None], input_size=(h, w), mode="paper")
    x, y = float(loc.x[0]), float(loc.y[0])
    xi, yi = min(int(x), w - 1), min(int(y), h - 1)
    y0, x0 = max(yi - 8, 0), max(xi - 8, 0)
    value = int(candidate[y0 : yi + 8, x0 : xi + 8].max())
    return WindowResult(start, end, t0, x, y, value)


def run_demo(video: str | Path | None = None, window: int = 25, overlay: str | Path | None = None) -> DemoReport:
    """Stack ``window``-frame windows of ``video`` (default: the bundled GMN clip) and locate each one's brightest
    transient. With ``overlay``, write a PNG of the clip's maximum image with each window's transient circled."""
    import cv2

    if window < 2:
        raise InputError(f"demo: expected a window of at least 2 frames, got {window}")
    source = VideoFileSource(video or SAMPLE_VIDEO)
    stacker = cam.Stacker((source.height, source.width), np.uint8)
    windows: list[WindowResult] = []
    peak_image = np.zeros((source.height, source.width), np.uint8)
    frames = 0
    start_t = 0.0
    start_idx = 0
    began = time.perf_counter()
    for frame in prefetch(source, depth=16):
        if stacker.frames == 0:
            start_t, start_idx = frame.time_s, frame.index
        stacker.add(frame.image)
        if overlay is not None:
            np.maximum(peak_image, frame.image, out=peak_image)
        frames += 1
        if stacker.frames == window:
            result = stacker.result()
            windows.append(_locate(result.candidate, start_idx, frame.index, start_t))
            stacker.reset()
    seconds = time.perf_counter() - began
    if overlay is not None:
        img = cv2.cvtColor(peak_image, cv2.COLOR_GRAY2BGR)
        for hit in windows:
            cv2.circle(img, (round(hit.x), round(hit.y)), 24, (0, 0, 255), 2)
            cv2.putText(img, f"{hit.start_time_s:.0f}s", (round(hit.x) + 26, round(hit.y) - 10),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 1)  # fmt: skip
        ok, png = cv2.imencode(".png", img)
        if ok:
            atomic_write_bytes(overlay, png.tobytes())
    return DemoReport(str(source.path), source.width, source.height, frames, seconds, windows, cam.native_info())
