"""The simulator's drawing helpers: smooth fields, anti-aliased blurred paths, star trails and the shared noise
fields (see :mod:`meteorfast.synth`)."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from meteorfast.synth.config import F32


def _upsample(low: F32, size: tuple[int, int]) -> F32:
    import cv2

    return np.asarray(cv2.resize(low, (size[1], size[0]), interpolation=cv2.INTER_LINEAR), np.float32)


def _fractal(rng: np.random.Generator, shape: tuple[int, int], octaves: int = 4) -> F32:
    """Smooth noise in [0, 1] at ``shape`` (sum of upsampled random octaves)."""
    out = np.zeros(shape, np.float32)
    for o in range(octaves):
        cells = (max(2, shape[0] >> (octaves - o)), max(2, shape[1] >> (octaves - o)))
        out += _upsample(rng.random(cells, dtype=np.float32), shape) / (2**o)
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def _draw_path(img: F32, pts: npt.NDArray[np.float64], values: npt.NDArray[np.float64], sigma: float) -> None:
    """Add a polyline through ``pts`` ([K, 2] x, y) with per-vertex brightness, blurred to a Gaussian cross-section
    of ``sigma`` px, into ``img`` in place (only the bounding box is touched)."""
    import cv2

    h, w = img.shape
    pad = int(4 * sigma + 3)
    x0 = max(int(np.floor(pts[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(pts[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(pts[:, 0].max())) + pad + 1, w)
    y1 = min(int(np.ceil(pts[:, 1].max())) + pad + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    roi = np.zeros((y1 - y0, x1 - x0), np.float32)
    scale = 16  # cv2's 4-bit sub-pixel shift
    local = np.round((pts - [x0, y0]) * scale).astype(np.int32)
    for i in range(len(pts) - 1):
        v = float(0.5 * (values[i] + values[i + 1]))
        if v > 0:
            cv2.line(roi, tuple(local[i]), tuple(local[i + 1]), v, 1, cv2.LINE_AA, 4)
    if len(pts) == 1:
        cv2.circle(roi, tuple(local[0]), 0, float(values[0]), -1, cv2.LINE_AA, 4)
    # The blur spreads each drawn pixel's value; scale so the cross-section peaks near the drawn value.
    roi = cv2.GaussianBlur(roi, (0, 0), sigma) * np.float32(2.5066 * sigma)
    img[y0:y1, x0:x1] += roi


def _dot(img: F32, x: float, y: float, value: float, sigma: float) -> None:
    _draw_path(img, np.array([[x, y]], np.float64), np.array([value], np.float64), sigma)


# Stars trail only in exposures of at least this many seconds (a video frame's 40 ms moves them a fraction of a pixel).
TRAIL_MIN_EXPOSURE = 1.0


def _star_path(rng: np.random.Generator, scale: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The path every star of a long exposure traces in the image, and the share of the exposure spent at each of its
    points: ``(offsets float64 [K, 2] x, y px, weights float64 [K] summing to 1)``. Its heading wanders from
    straight (the sky's drift across a fixed camera) to hooks and curls (a tripod shaken by wind, a tracking mount's
    error), 2-40 px long at 720 px high; the camera may rest at the start for part of the exposure, which leaves a
    bright dot at one end of each trail, as in DSLR meteor photos."""
    length = float(rng.uniform(2, 40)) * scale
    k = max(int(np.ceil(1.5 * length)), 8)  # points under a pixel apart, which the PSF's blur joins
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, rng.uniform(0, 0.25), k - 1))
    steps = np.stack([np.cos(heading), np.sin(heading)], 1) * (length / (k - 1))
    offsets = np.concatenate([np.zeros((1, 2)), np.cumsum(steps, 0)])
    rest = float(rng.uniform(0, 0.6)) if rng.random() < 0.5 else 0.0
    weights = np.full(k, (1 - rest) / k)
    weights[0] += rest
    return offsets - offsets.mean(0), weights


def _trail(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    flux: npt.NDArray[np.float64],
    path: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    size: tuple[int, int],
) -> F32:
    """Point sources at ``(xs, ys)`` (drawing coordinates, float64 [N]) with ``flux`` (float64 [N]), each spread
    along ``path`` (see :func:`_star_path`) by bilinear splats: ``float32 [H, W]``, unblurred, flux kept where the
    trail stays in the frame."""
    h, w = size
    offsets, weights = path
    px = (xs[:, None] + offsets[None, :, 0]).ravel()
    py = (ys[:, None] + offsets[None, :, 1]).ravel()
    v = (flux[:, None] * weights[None, :]).ravel()
    x0, y0 = np.floor(px), np.floor(py)
    fx, fy = px - x0, py - y0
    c = np.concatenate([x0, x0 + 1, x0, x0 + 1])
    r = np.concatenate([y0, y0, y0 + 1, y0 + 1])
    share = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]) * np.tile(v, 4)
    keep = (c >= 0) & (c < w) & (r >= 0) & (r < h)
    out = np.bincount((r[keep] * w + c[keep]).astype(np.intp), share[keep], minlength=h * w)
    return out.reshape(h, w).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _noise_bank(h: int, w: int) -> F32:
    """Four unit-normal fields a little larger than the frame, fixed by a constant seed (so renders stay
    deterministic), shared by every frame of that size."""
    bank: F32 = np.random.default_rng(0x5EED).standard_normal((4, h + 128, w + 128), dtype=np.float32)
    bank.setflags(write=False)
    return bank
