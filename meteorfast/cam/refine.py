"""Sub-cell refinement of a located point on the original frame.

The first-layer map pins the meteor to one of its cells: 4x4 model-input pixels for a stride-2 stem at 224 px, which
is about 23x13 frame pixels on a 1280x720 frame. Inside a window of ``cells`` cells around that point, the frame's
own pixels decide: the point moves to where the background-subtracted frame looks most like a line through it. For
each of ``angles`` directions, two half-lines leave the pixel on either side (from ``gap`` to ``gap + arm`` px out);
the response is the dimmest of the two and of the pixel itself (smoothed), and the best direction wins. A streak is
bright at each of its pixels and on both sides of it; a star or a hot pixel, however bright, is dark a couple of
pixels out, and the dark sky between a star and the streak is dark at the centre, so neither can pull the point off
the streak the way the brightest pixel would.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, NonFiniteError

FloatArray = npt.NDArray[np.float32]


@functools.lru_cache(maxsize=8)
def _half_lines(gap: int, arm: int, sigma: float, angles: int) -> tuple[tuple[FloatArray, FloatArray], ...]:
    """Per direction, two unit-sum kernels: a half-line from ``gap`` to ``gap + arm`` px out on each side, with a
    Gaussian cross-section of ``sigma`` px."""
    half = gap + arm + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    out = []
    for k in range(angles):
        t = np.pi * k / angles
        along = xx * np.cos(t) + yy * np.sin(t)
        across = -xx * np.sin(t) + yy * np.cos(t)
        profile = np.exp(-0.5 * (across / sigma) ** 2)
        pair = []
        for sign in (1, -1):
            kern = profile * ((sign * along >= gap) & (sign * along <= gap + arm))
            pair.append((kern / kern.sum()).astype(np.float32))
        out.append((pair[0], pair[1]))
    return tuple(out)


def _grey(frame: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    if frame.dtype.kind not in "uif":
        raise InputError(f"refine: expected integer or float frames, got {frame.dtype}; convert with .astype")
    if frame.size and frame.dtype.kind == "f" and not np.isfinite(frame).all():
        raise NonFiniteError("refine: expected finite frames, got NaN or Inf; replace them with np.nan_to_num")
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        return frame[..., :3].mean(axis=2)  # type: ignore[no-any-return]
    if frame.ndim == 2:
        return frame
    raise InputError(f"refine: expected a frame [H,W] or [H,W,3|4], got shape {frame.shape}")


def _real(name: str, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray(value)
    if a.dtype.kind not in "uif":
        raise InputError(f"refine: expected real numbers for {name}, got {a.dtype}")
    return a.astype(np.float64)


def refine_points(
    frames: Sequence[npt.NDArray[np.generic]] | npt.NDArray[np.generic],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    cell: npt.ArrayLike,
    *,
    cells: float = 1.5,
    gap: int = 2,
    arm: int = 5,
    sigma: float = 1.2,
    angles: int = 8,
) -> tuple[FloatArray, FloatArray]:
    """Move each point ``(x[i], y[i])`` (frame pixels) to the streak inside its window of ``frames[i]``.

    ``frames``: N frames, each uint8/uint16/float ``[H,W]`` or ``[H,W,3|4]``; ``x, y: [N]``; ``cell: [N,2]`` or
    ``[2]``, the size of one first-layer cell in frame pixels ``(cw, ch)``. The window reaches ``cells`` cells on
    each side. Returns the refined ``x, y: float32 [N]``; a point whose window is empty or flat stays where it was.
    """
    import cv2

    xs = _real("x", x).reshape(-1)
    ys = _real("y", y).reshape(-1)
    n = len(frames)
    if xs.shape != (n,) or ys.shape != (n,):
        raise InputError(f"refine: expected x and y of shape ({n},) for {n} frames, got {xs.shape} and {ys.shape}")
    cell_arr = _real("cell", cell)
    if cell_arr.shape not in ((2,), (n, 2)):
        raise InputError(f"refine: expected cell of shape (2,) or ({n}, 2), got {cell_arr.shape}")
    cs = np.broadcast_to(cell_arr, (n, 2))
    if not (np.all(np.isfinite(cs)) and np.all(cs > 0)):
        raise InputError(f"refine: expected positive finite cell sizes (cw, ch), got {cs[:3].tolist()}...")
    kernels = _half_lines(gap, arm, sigma, angles)
    pad = kernels[0][0].shape[0] // 2
    out_x = xs.astype(np.float32)
    out_y = ys.astype(np.float32)
    for i in range(n):
        if not (np.isfinite(xs[i]) and np.isfinite(ys[i])):
            continue
        img = _grey(np.asarray(frames[i]))
        h, w = img.shape
        rx, ry = cells * cs[i, 0], cells * cs[i, 1]
        x0, x1 = max(int(np.floor(xs[i] - rx)), 0), min(int(np.ceil(xs[i] + rx)) + 1, w)
        y0, y1 = max(int(np.floor(ys[i] - ry)), 0), min(int(np.ceil(ys[i] + ry)) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        # Filter a padded crop so the response at the window's edge sees real pixels, not a border rule.
        px0, px1, py0, py1 = max(x0 - pad, 0), min(x1 + pad, w), max(y0 - pad, 0), min(y1 + pad, h)
        crop = np.asarray(img[py0:py1, px0:px1], np.float32)
        crop = crop - np.float32(np.median(crop))
        centre = cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        resp = np.max(
            [
                np.minimum(cv2.filter2D(crop, -1, a, borderType=cv2.BORDER_REPLICATE),
                           cv2.filter2D(crop, -1, b, borderType=cv2.BORDER_REPLICATE))
                for a, b in kernels
            ],
            axis=0,
        )  # fmt: skip
        np.minimum(resp, centre, out=resp)
        win = resp[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]
        if float(win.max()) <= float(win.min()):
            continue
        r, c = np.unravel_index(int(np.argmax(win)), win.shape)
        out_x[i] = np.float32(x0 + c + 0.5)
        out_y[i] = np.float32(y0 + r + 0.5)
    return out_x, out_y
