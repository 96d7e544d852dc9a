"""The one grey conversion and the one 16-to-8-bit rule every stage uses.

:func:`grey` is OpenCV's luma (``0.299 R + 0.587 G + 0.114 B`` of a BGR or BGRA frame), as the model's own input is
made; :func:`to_uint8` maps 16-bit pixels to 8 bits by ``255 / 65535``, rounded, so a 16-bit frame and its 8-bit
original agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, NonFiniteError

# OpenCV's BGR luma weights, for the float64 frames cv2.cvtColor does not take.
_LUMA_BGR = np.array([0.114, 0.587, 0.299])


def grey(frame: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """``frame`` as one channel: ``[H,W]`` as it is, ``[H,W,1]`` as ``[H,W]``, BGR ``[H,W,3]`` or BGRA ``[H,W,4]`` as
    its luma ``[H,W]`` in the frame's dtype (uint8, uint16 or float32; other floats as float64). Integer or finite
    float frames only."""
    import cv2

    frame = np.asarray(frame)
    if frame.dtype.kind not in "uif":
        raise InputError(f"frames: expected integer or float frames, got {frame.dtype}; convert with .astype")
    if frame.size and frame.dtype.kind == "f" and not np.isfinite(frame).all():
        raise NonFiniteError("frames: expected finite frames, got NaN or Inf; replace them with np.nan_to_num")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        if frame.dtype in (np.uint8, np.uint16, np.float32):
            code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            return np.asarray(cv2.cvtColor(np.asarray(frame, frame.dtype), code))
        return np.asarray(frame[..., :3].astype(np.float64) @ _LUMA_BGR)
    raise InputError(f"frames: expected a frame [H,W], [H,W,1] or [H,W,3|4] (BGR or BGRA), got shape {frame.shape}")


def to_uint8(frame: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """uint8 as is; uint16 scaled by 255/65535 (rounded); anything else refused."""
    if frame.dtype == np.uint8:
        return frame  # type: ignore[return-value]
    if frame.dtype == np.uint16:
        return ((frame.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    raise InputError(
        f"frames: expected uint8 or uint16 pixels, got {frame.dtype}; convert float images with "
        "np.clip(img * 255, 0, 255).astype(np.uint8)"
    )


def grey_uint8(frame: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """A uint8 or uint16 frame as grey 8-bit ``uint8 [H,W]`` (:func:`to_uint8`, then :func:`grey`)."""
    out = grey(to_uint8(np.asarray(frame)))
    return np.asarray(out, np.uint8)


__all__ = ["grey", "grey_uint8", "to_uint8"]
