"""Frames of any size and type -> the model's uint8 input, with the geometry that maps back to frame pixels.

Resizing is OpenCV's (``INTER_AREA`` when shrinking, which keeps thin streaks from aliasing away; ``INTER_LINEAR``
when enlarging). Two modes:

* ``stretch`` (default): the frame is resized to the input size; x and y scale independently.
* ``letterbox``: the aspect ratio is kept and the rest padded with zeros, centred.

``geometry[n] = (scale_x, scale_y, offset_x, offset_y)`` with ``x_frame = x_input * scale_x + offset_x``: the form
the localisation kernels take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.image import grey, to_uint8
from meteorfast.errors import InputError

ResizeMode = Literal["stretch", "letterbox"]


def _channels(frame: npt.NDArray[np.uint8], channels: int) -> npt.NDArray[np.uint8]:

    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        return frame if channels == 1 else np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        return np.asarray(grey(frame), np.uint8) if channels == 1 else frame[:, :, :3]
    raise InputError(f"frames: expected [H,W], [H,W,1], [H,W,3] (BGR) or [H,W,4] (BGRA), got shape {frame.shape}")


@dataclass(frozen=True)
class Preprocessor:
    """``size = (height, width)`` and ``channels`` of the model input, and the resize ``mode``."""

    size: tuple[int, int]
    channels: int = 1
    mode: ResizeMode = "stretch"

    def __post_init__(self) -> None:
        if self.mode not in ("stretch", "letterbox"):
            raise InputError(f"preprocess: expected mode 'stretch' or 'letterbox', got {self.mode!r}")
        if self.channels not in (1, 3):
            raise InputError(f"preprocess: expected 1 or 3 channels, got {self.channels}")

    def one(self, frame: npt.NDArray[np.generic], out: npt.NDArray[np.uint8]) -> tuple[float, float, float, float]:
        """Write one frame into ``out`` (uint8 ``[C,h,w]``); return its geometry."""
        import cv2

        img = _channels(to_uint8(np.asarray(frame)), self.channels)
        fh, fw = img.shape[:2]
        if fh < 1 or fw < 1:
            raise InputError(f"frames: expected a non-empty image, got shape {img.shape}")
        h, w = self.size
        if self.mode == "stretch":
            nh, nw, px, py = h, w, 0, 0
        else:
            s = min(w / fw, h / fh)
            nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
            px, py = (w - nw) // 2, (h - nh) // 2
        interp = cv2.INTER_AREA if nw < fw or nh < fh else cv2.INTER_LINEAR
        resized = cv2.resize(img, (nw, nh), interpolation=interp) if (nh, nw) != (fh, fw) else img
        if self.mode == "letterbox":
            out.fill(0)
        if self.channels == 1:
            out[0, py : py + nh, px : px + nw] = resized
        else:
            out[:, py : py + nh, px : px + nw] = np.moveaxis(resized, 2, 0)
        sx, sy = fw / nw, fh / nh
        return (sx, sy, -px * sx, -py * sy)

    def batch(
        self, frames: Sequence[npt.NDArray[np.generic]] | npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """Frames -> ``(uint8 [N,C,h,w], geometry float32 [N,4])``."""
        n = len(frames)
        out = np.empty((n, self.channels, *self.size), np.uint8)
        geo = np.empty((n, 4), np.float32)
        for i, frame in enumerate(frames):
            geo[i] = self.one(frame, out[i])
        return out, geo
