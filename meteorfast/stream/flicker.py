"""Flicker suppression for stacked windows: each pixel's ``max - mean`` is discounted by how much noisier than the
frame's typical pixel it was in *other* windows.

Some pixels change in every window without any meteor: the edges of a camera housing that a video codec codes
afresh at each I-frame, twinkling bright stars, moving branches, cloud edges. In a 25-frame ``max - mean`` image
they draw lines and blobs that a classifier can take for a streak. The GMN RMS software judges each pixel against
its own temporal standard deviation over 256 frames; a meteor lights a pixel for a few frames only, so it stands
far above that. Over a 25-frame window the same test would suppress a slow meteor with the noise it adds itself.
So the reference here is the standard deviation the stacking kernel measured in neighbouring windows that share
no frame with the window judged: the minimum of the two latest earlier ones, or at the start of a source, the first
later one. A meteor that lights a pixel in one window leaves it quiet in the others, and keeps its contrast; what
flickers in every window is taken down.

``candidate' = max(candidate - k * max(ref - median(ref), 0), 0)`` with ``k = flicker``; pixels at or below the
typical noise are left as they were.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, NonFiniteError

T = TypeVar("T")

#: The detector's default ``k``. A smaller one leaves codec-refreshed housing edges in the GMN clip firing; a meteor's
#: own pixels are quiet in the reference windows, so a larger ``k`` costs it little (benchmarks/RESULTS.md).
DEFAULT_FLICKER = 4.0

FloatArray = npt.NDArray[np.float32]


def suppress_flicker(
    candidate: npt.NDArray[np.unsignedinteger], reference: npt.NDArray[np.floating], k: float
) -> npt.NDArray[np.unsignedinteger]:
    """``candidate: uint8|uint16 [H,W]`` (a window's ``max - mean``), ``reference: float [H,W]`` (per-pixel temporal
    std from other windows) -> the candidate, same dtype and shape, with ``k`` times each pixel's excess noise over
    the median pixel's taken off (rounded, floored at 0)."""
    candidate = np.asarray(candidate)
    reference = np.asarray(reference)
    if candidate.dtype not in (np.uint8, np.uint16) or candidate.ndim != 2 or candidate.size == 0:
        raise InputError(
            f"flicker: expected a uint8 or uint16 candidate [H,W], got {candidate.dtype} of shape {candidate.shape}"
        )
    if candidate.shape != reference.shape or reference.dtype.kind not in "fiu":
        raise InputError(
            f"flicker: expected a real reference of the candidate's shape {candidate.shape}, got "
            f"{reference.dtype} of shape {reference.shape}"
        )
    if not (np.isfinite(k) and k >= 0):
        raise InputError(f"flicker: expected k >= 0, got {k}")
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes Inf, refused just below
        ref = np.asarray(reference, np.float32)
    if not np.isfinite(ref).all():
        raise NonFiniteError("flicker: expected a finite reference std, got NaN or Inf (or values beyond float32)")
    import cv2

    # The median of every 4th row and column: the same number to a fraction of a DN, at 1/16 of the cost.
    # (In float64: the mean of the two middle values must not overflow float32.)
    typical = float(np.median(ref[::4, ::4].astype(np.float64)))
    # OpenCV's threaded, saturating arithmetic: this runs on the readers' threads for every window of every stacked
    # camera (its cost is in benchmarks/RESULTS.md).
    # No std of uint16 pixels exceeds 32768, so clipping the excess at 65535 changes no real reference; a garbage
    # one (float32's extremes) then saturates instead of overflowing into Inf, and Inf * 0 into NaN.
    with np.errstate(over="ignore"):
        excess = ref - np.float32(typical)
    np.clip(excess, 0, 65535, out=excess)
    # A k beyond float32 would make 0 * k = 0 * Inf = NaN; float32's largest takes the same whole pixels.
    gain = min(float(k), 3e38)
    if candidate.dtype == np.uint8:
        take = np.asarray(cv2.convertScaleAbs(excess, alpha=gain))  # rint(k * excess), saturated at 255
    else:
        with np.errstate(over="ignore"):
            scaled = excess * np.float32(gain)
        take = np.minimum(np.rint(scaled), 65535).astype(np.uint16)
    result: npt.NDArray[np.unsignedinteger] = np.asarray(cv2.subtract(candidate, take))
    return result


@dataclass
class _Window(Generic[T]):
    start: int  # position in the source of the first and last frame stacked
    end: int
    std: FloatArray
    payload: T


class FlickerReference(Generic[T]):
    """Holds stacked windows back until a reference for them exists, then releases them in order.

    ``add(start, end, std, payload)`` for each window as it completes (``start``/``end``: positions of its first
    and last frame, ``std: float32 [H,W]`` its temporal std, kept by reference: not to be changed after); it
    returns the windows now ready, in order, as ``(payload, reference)``. ``finish()`` releases the rest
    (``reference`` None when the source gave no other window to compare with). Only the first windows of a source
    wait, for the first one that shares no frame with them.
    """

    def __init__(self, window: int, stride: int) -> None:
        if window < 2 or stride < 1:
            raise InputError(f"flicker: expected window >= 2 and stride >= 1, got {window} and {stride}")
        self._stride = stride
        self._done: list[_Window[T]] = []  # completed windows that may still serve as a reference
        self._pending: deque[_Window[T]] = deque()

    def add(self, start: int, end: int, std: FloatArray, payload: T) -> list[tuple[T, FloatArray | None]]:
        w = _Window(start, end, np.asarray(std, np.float32), payload)
        self._pending.append(w)
        ready = list(self._release(final=False))
        self._done.append(w)
        # Keep what the oldest window still to be released (or the next to come) can use: the two latest that end
        # before it starts, and all after them. In a steady stream that is ceil(window / stride) + 1 std maps.
        start_next = self._pending[0].start if self._pending else w.start + self._stride
        before = [i for i, d in enumerate(self._done) if d.end < start_next]
        if len(before) > 2:
            del self._done[: before[-2]]
        return ready

    @property
    def retained(self) -> int:
        """Std maps held (windows not yet released are among them)."""
        return len(self._done)

    def finish(self) -> list[tuple[T, FloatArray | None]]:
        return list(self._release(final=True))

    def _release(self, final: bool) -> Iterator[tuple[T, FloatArray | None]]:
        while self._pending:
            w = self._pending[0]
            earlier = [d.std for d in self._done if d.end < w.start][-2:]
            if earlier:
                ref: FloatArray | None = earlier[0] if len(earlier) == 1 else np.minimum(earlier[0], earlier[1])
            else:  # the start of the source: the first window that shares no frame with this one, once it exists
                ref = next((p.std for p in self._pending if p.start > w.end), None)
                if ref is None and not final:
                    return
            self._pending.popleft()
            yield w.payload, ref
