"""The NumPy reference of every native kernel. It is the specification, and the oracle the tests hold the native
CPU and CUDA kernels to.

It computes in float64 where the kernels accumulate in float32, so the two agree to the tolerances the tests state
(about 1e-5 relative), and it follows the kernels' rules exactly:

* **Gradient pooling**: ``alpha[n,k] = mean_{i,j} grad[n,k,i,j]``.
* **CAM** (pytorch-grad-cam's contract, at feature resolution): ``c = relu(sum_k alpha[n,k] * A[n,k])``, then per
  item ``(c - min) / ((max - min) + 1e-7)``. An all-zero or constant map becomes all zeros, never NaN.
* **Localisation** in fine-grid coordinates, where fine cell ``(r, c)`` has centre ``(c + 0.5, r + 0.5)``; the
  fine grid spans the model input, so one cell is ``in_w / W1`` by ``in_h / H1`` input pixels. ``geometry[n] =
  (scale_x, scale_y, offset_x, offset_y)`` maps input pixels to frame pixels: ``x = x_in * scale_x + offset_x``.

  - ``paper``: the CAM's argmax cell is the region of interest; the fine map's argmax inside the block of fine
    cells under it (rows ``i*H1//h`` to ``(i+1)*H1//h``, at least one) is the result. ``peak = cam[roi] *
    scaled_fmap[result]``.
  - ``fused``: the CAM is upsampled to ``H1 x W1`` exactly as ``cv2.resize(..., INTER_LINEAR)`` does for float32,
    multiplied by the min-max-scaled fine map, and its argmax refined by the intensity-weighted centroid of the
    ``(2 radius + 1)^2`` window around it (clipped to the grid; negative weights count as zero). ``peak`` is the
    fused map's maximum.

  Ties in every argmax go to the lowest row-major index, as ``np.argmax``.
* **Stacking** (RMS FF style) over ``T >= 2`` frames: per pixel ``max``; ``argmax``, the first frame that reached
  it; ``mean`` and population ``std`` over the other ``T - 1`` frames (the maximum left out, as RMS does), float32;
  and ``candidate = max - mean`` rounded half up in exact integer arithmetic, in the input dtype.

NaN or Inf in any float input raises :class:`~meteorfast.errors.NonFiniteError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, NonFiniteError

CAM_EPS = np.float32(1e-7)
MAX_STACK_FRAMES = 65535

LocalizeMode = Literal["paper", "fused"]

FloatArray = npt.NDArray[np.float32]


def _finite(name: str, arr: npt.NDArray[np.floating], axes: tuple[int, ...]) -> None:
    ok = np.isfinite(arr).all(axis=axes) if arr.ndim else np.isfinite(arr)
    bad = np.flatnonzero(~np.asarray(ok))
    if bad.size:
        raise NonFiniteError(
            f"{name}: expected finite values, got NaN or Inf in batch item {int(bad[0])}; "
            "check the engine's outputs (an FP16 overflow gives Inf) or the frame that produced them"
        )


def pool_gradients(grad: npt.NDArray[np.floating]) -> FloatArray:
    """``grad: float32|float16 [N,K,h,w]`` -> ``alpha: float32 [N,K]``, the spatial mean."""
    g = np.asarray(grad, np.float64)
    alpha: npt.NDArray[np.float64] = g.mean(axis=(2, 3))
    _finite("pool_gradients", alpha, (1,))
    return alpha.astype(np.float32)


def _minmax_scale(c: npt.NDArray[np.float64], axes: tuple[int, ...]) -> npt.NDArray[np.float64]:
    lo = c.min(axis=axes, keepdims=True)
    hi = c.max(axis=axes, keepdims=True)
    scaled: npt.NDArray[np.float64] = (c - lo) / ((hi - lo) + float(CAM_EPS))
    return scaled


def weighted_cam(features: npt.NDArray[np.floating], alpha: npt.NDArray[np.floating]) -> FloatArray:
    """``features: float32|float16 [N,K,h,w]``, ``alpha: float32 [N,K]`` -> ``cam: float32 [N,h,w]`` in [0, 1]."""
    a = np.asarray(alpha, np.float64)
    _finite("weighted_cam", a, (1,))
    raw = np.einsum("nk,nkhw->nhw", a, np.asarray(features, np.float64))
    _finite("weighted_cam", raw, (1, 2))
    return _minmax_scale(np.maximum(raw, 0.0), (1, 2)).astype(np.float32)


def grad_cam(features: npt.NDArray[np.floating], grad: npt.NDArray[np.floating]) -> FloatArray:
    """``features, grad: [N,K,h,w]`` -> ``cam: float32 [N,h,w]``: pooling, then the weighted CAM."""
    return weighted_cam(features, pool_gradients(grad))


def linear_taps(src: int, dst: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]:
    """cv2.resize INTER_LINEAR taps along one axis: ``(i0, i1, w1)`` with ``out[d] = in[i0]*(1-w1) + in[i1]*w1``.

    The source coordinate ``(d + 0.5) * src/dst - 0.5`` is computed in double and rounded to float32, and borders
    clamp, as OpenCV's resize.cpp does.
    """
    d = np.arange(dst, dtype=np.float64)
    f = ((d + 0.5) * (src / dst) - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.intp)
    w1 = (f - s.astype(np.float32)).astype(np.float32)
    low = s < 0
    s[low], w1[low] = 0, 0.0
    high = s >= src - 1
    s[high], w1[high] = src - 1, 0.0
    return s, np.minimum(s + 1, src - 1), w1


def upsample(cam: npt.NDArray[np.float32], size: tuple[int, int]) -> FloatArray:
    """``cam: float32 [N,h,w]`` -> ``float32 [N,H,W]``, equal to ``cv2.resize(cam[n], (W, H))`` per item."""
    c = np.asarray(cam, np.float32)
    h, w = c.shape[1:]
    y0, y1, fy = linear_taps(h, size[0])
    x0, x1, fx = linear_taps(w, size[1])
    one = np.float32(1.0)
    # Horizontal pass on the two source rows first, then the vertical blend, in float32, in OpenCV's order.
    top = c[:, y0][:, :, x0] * (one - fx) + c[:, y0][:, :, x1] * fx
    bot = c[:, y1][:, :, x0] * (one - fx) + c[:, y1][:, :, x1] * fx
    out: FloatArray = (top * (one - fy)[:, None] + bot * fy[:, None]).astype(np.float32)
    return out


def scaled_map(fmap: npt.NDArray[np.float32]) -> FloatArray:
    """``fmap: float32 [N,H1,W1]`` -> the same, min-max scaled per item to [0, 1)."""
    lo = fmap.min(axis=(1, 2), keepdims=True)
    hi = fmap.max(axis=(1, 2), keepdims=True)
    out: FloatArray = (fmap - lo) / ((hi - lo) + CAM_EPS)
    return out


def fused_map(cam: npt.NDArray[np.float32], fmap: npt.NDArray[np.float32]) -> FloatArray:
    """``cam: float32 [N,h,w]``, ``fmap: float32 [N,H1,W1]`` -> float32 ``[N,H1,W1]``: the CAM upsampled to the
    fine grid times the min-max-scaled fine map, the map ``fused`` localisation takes its argmax of."""
    c = np.asarray(cam, np.float32)
    f = np.asarray(fmap, np.float32)
    return upsample(c, f.shape[1:]) * scaled_map(f)


def block_under(i: npt.NDArray[np.intp], n_coarse: int, n_fine: int) -> tuple[npt.NDArray[np.intp], ...]:
    """Fine rows (or columns) ``[lo, hi)`` under coarse cells ``i``; at least one each."""
    lo = np.minimum(i * n_fine // n_coarse, n_fine - 1)
    hi = np.maximum((i + 1) * n_fine // n_coarse, lo + 1)
    return lo, hi


@dataclass(frozen=True)
class Localization:
    """Per item: ``x, y: float32 [N]`` in frame pixels, ``peak: float32 [N]`` (see the module docstring)."""

    x: FloatArray
    y: FloatArray
    peak: FloatArray


def localize(
    cam: npt.NDArray[np.float32],
    fmap: npt.NDArray[np.float32],
    geometry: npt.NDArray[np.float32],
    input_size: tuple[float, float],
    mode: LocalizeMode = "fused",
    radius: int = 1,
) -> Localization:
    """``cam: float32 [N,h,w]``, ``fmap: float32 [N,H1,W1]``, ``geometry: float32 [N,4]``, ``input_size = (in_h,
    in_w)`` -> :class:`Localization`."""
    c = np.asarray(cam, np.float32)
    f = np.asarray(fmap, np.float32)
    geo = np.asarray(geometry, np.float32)
    n, h, w = c.shape
    big_h, big_w = f.shape[1:]
    _finite("localize", c, (1, 2))
    _finite("localize", f, (1, 2))
    _finite("localize", geo, (1,))
    scaled = scaled_map(f)
    items = np.arange(n)
    if mode == "paper":
        roi = c.reshape(n, -1).argmax(axis=1)
        r0, r1 = block_under(roi // w, h, big_h)
        c0, c1 = block_under(roi % w, w, big_w)
        rows = np.arange(big_h)[None, :, None]
        cols = np.arange(big_w)[None, None, :]
        inside = (rows >= r0[:, None, None]) & (rows < r1[:, None, None])
        inside = inside & (cols >= c0[:, None, None]) & (cols < c1[:, None, None])
        best = np.where(inside, f, -np.inf).reshape(n, -1).argmax(axis=1)
        u = (best % big_w) + 0.5
        v = (best // big_w) + 0.5
        peak = c.reshape(n, -1)[items, roi] * scaled.reshape(n, -1)[items, best]
    elif mode == "fused":
        fused = upsample(c, (big_h, big_w)) * scaled
        best = fused.reshape(n, -1).argmax(axis=1)
        peak = fused.reshape(n, -1)[items, best]
        br, bc = best // big_w, best % big_w
        offs = np.arange(-radius, radius + 1)
        rr = br[:, None, None] + offs[None, :, None]
        cc = bc[:, None, None] + offs[None, None, :]
        valid = (rr >= 0) & (rr < big_h) & (cc >= 0) & (cc < big_w)
        wgt = np.where(valid, fused[items[:, None, None], np.clip(rr, 0, big_h - 1), np.clip(cc, 0, big_w - 1)], 0)
        wgt = np.maximum(wgt, 0).astype(np.float64)
        total = wgt.sum(axis=(1, 2))
        safe = np.where(total > 0, total, 1.0)
        u = np.where(total > 0, (wgt * (cc + 0.5)).sum(axis=(1, 2)) / safe, bc + 0.5)
        v = np.where(total > 0, (wgt * (rr + 0.5)).sum(axis=(1, 2)) / safe, br + 0.5)
    else:
        raise InputError(f"localize: expected mode 'paper' or 'fused', got {mode!r}")
    # Round u, v to float32 first, as the kernels hold them in float.
    xi = u.astype(np.float32).astype(np.float64) * (input_size[1] / big_w)
    yi = v.astype(np.float32).astype(np.float64) * (input_size[0] / big_h)
    x = xi * geo[:, 0].astype(np.float64) + geo[:, 2].astype(np.float64)
    y = yi * geo[:, 1].astype(np.float64) + geo[:, 3].astype(np.float64)
    return Localization(x.astype(np.float32), y.astype(np.float32), np.asarray(peak, np.float32))


@dataclass(frozen=True)
class StackResult:
    """A stacked window. ``max``, ``candidate``: input dtype; ``argmax``: uint16; ``mean``, ``std``: float32; all of
    the frame shape."""

    max: npt.NDArray[np.unsignedinteger]
    argmax: npt.NDArray[np.uint16]
    mean: FloatArray
    std: FloatArray
    candidate: npt.NDArray[np.unsignedinteger]
    frames: int


def accumulator_dtype(dtype: np.dtype[np.unsignedinteger]) -> type[np.unsignedinteger]:
    """Sum and sum-of-squares type: uint32 holds 255^2 * 65535, so uint8 windows stay exact; uint16 needs uint64."""
    return np.uint32 if dtype == np.uint8 else np.uint64


def finalize(
    mx: npt.NDArray[np.unsignedinteger],
    argmax: npt.NDArray[np.uint16],
    total: npt.NDArray[np.unsignedinteger],
    sumsq: npt.NDArray[np.unsignedinteger],
    frames: int,
) -> StackResult:
    """Turn accumulators (max, first-argmax, sum, sum of squares over ``frames`` frames) into a :class:`StackResult`."""
    if not 2 <= frames <= MAX_STACK_FRAMES:
        raise InputError(
            f"stack: expected between 2 and {MAX_STACK_FRAMES} frames (mean and std leave the maximum out), "
            f"got {frames}; add more frames before finalising"
        )
    acc = total.dtype.type
    n = acc(frames - 1)
    s_rest = total - mx.astype(acc)
    q_rest = sumsq - mx.astype(acc) * mx.astype(acc)
    mean = s_rest.astype(np.float64) / float(n)
    var = np.maximum(q_rest.astype(np.float64) / float(n) - mean * mean, 0.0)
    num = mx.astype(acc) * n - s_rest
    cand = ((num + n // acc(2)) // n).astype(mx.dtype)
    return StackResult(mx.copy(), argmax.copy(), mean.astype(np.float32), np.sqrt(var).astype(np.float32), cand, frames)


def stack(frames: npt.NDArray[np.unsignedinteger]) -> StackResult:
    """``frames: uint8|uint16 [T, ...]`` (T >= 2) -> :class:`StackResult`, computed over the whole window at once."""
    a = np.asarray(frames)
    if a.dtype not in (np.uint8, np.uint16):
        raise InputError(f"stack: expected uint8 or uint16 frames, got {a.dtype}; convert the frames first")
    acc = accumulator_dtype(a.dtype)
    wide = a.astype(acc)
    return finalize(
        a.max(axis=0), a.argmax(axis=0).astype(np.uint16), wide.sum(axis=0, dtype=acc),
        (wide * wide).sum(axis=0, dtype=acc), a.shape[0],
    )  # fmt: skip


def stack_add(
    frame: npt.NDArray[np.unsignedinteger],
    t: int,
    mx: npt.NDArray[np.unsignedinteger],
    argmax: npt.NDArray[np.uint16],
    total: npt.NDArray[np.unsignedinteger],
    sumsq: npt.NDArray[np.unsignedinteger],
) -> None:
    """Add frame ``t`` into zero-initialised accumulators in place (the streaming form of :func:`stack`)."""
    newer = frame > mx
    np.copyto(mx, frame, where=newer)
    argmax[newer] = t
    wide = frame.astype(total.dtype)
    total += wide
    sumsq += wide * wide
