"""Refinement of a located point on the original frame: sub-cell, and among the maps' candidate peaks.

The first-layer map pins the meteor to one of its cells: 4x4 model-input pixels for a stride-2 stem at 224 px, which
is about 23x13 frame pixels on a 1280x720 frame. Inside a window of ``cells`` cells around that point, the frame's
own pixels decide: the point moves to where the frame looks most like a line through it. For each of ``angles``
directions, two half-lines leave the pixel on either side (from ``gap`` to ``gap + arm`` px out); the response is
the dimmest of the two and of the pixel itself (smoothed), less the brighter of the two half-lines across that
direction, and the best direction wins. A streak is bright along itself and dark across; a star or the Moon is as
bright across as along, and an edge (a roofline, a lit wall) is bright on one side across, so none of them can pull
the point off the streak the way the brightest pixel would.

The first-layer map alone answers to stars as much as to streaks (its channel mean is a brightness detector), so in
a frame with a faint meteor the fused map's highest peak is often a star a few cells from the streak.
:func:`fused_peaks` lists the fused map's ``k`` highest local maxima, and :func:`refine_points` given several
candidates per frame searches the window of each and keeps the one whose best line response, times its fused value,
is highest.

Last, :func:`brightest_on_streak` moves a detection's point along its streak to the streak's brightest stretch, the
part the paper's first-layer maximum marks and an observer boxes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.image import grey
from meteorfast.errors import InputError

FloatArray = npt.NDArray[np.float32]


# Candidates on one streak whose best pixels are closer than this are one observation, not two: overlapping
# windows often find the same bright pixel, and a lone stroke would otherwise support itself.
LINE_APART_PX = 3.0

Kernel = tuple[FloatArray, tuple[int, int]]  # taps and their anchor (x, y), as cv2.filter2D takes them


@functools.lru_cache(maxsize=8)
def _half_lines(gap: int, arm: int, sigma: float, angles: int) -> tuple[tuple[Kernel, Kernel], ...]:
    """Per direction, two unit-sum kernels: a half-line from ``gap`` to ``gap + arm`` px out on each side, with a
    Gaussian cross-section of ``sigma`` px cut at 3.5 sigma. Each is cropped to its taps and the centre, which makes
    the filtering faster than on the full square."""
    half = gap + arm + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    out = []
    for k in range(angles):
        t = np.pi * k / angles
        along = xx * np.cos(t) + yy * np.sin(t)
        across = -xx * np.sin(t) + yy * np.cos(t)
        profile = np.exp(-0.5 * (across / sigma) ** 2) * (np.abs(across) <= 3.5 * sigma)
        pair = []
        for sign in (1, -1):
            kern = profile * ((sign * along >= gap) & (sign * along <= gap + arm))
            rows, cols = np.nonzero(kern)
            r0, r1 = min(rows.min(), half), max(rows.max(), half) + 1
            c0, c1 = min(cols.min(), half), max(cols.max(), half) + 1
            taps = np.ascontiguousarray(kern[r0:r1, c0:c1] / kern.sum(), np.float32)
            pair.append((taps, (int(half - c0), int(half - r0))))
        out.append((pair[0], pair[1]))
    return tuple(out)


def _response(
    crop: FloatArray, kernels: tuple[tuple[Kernel, Kernel], ...], sigma: float
) -> tuple[FloatArray, list[FloatArray]]:
    """``crop: float32 [h,w]`` -> its line response, float32 ``[h,w]`` (see the module docstring), and the response
    in each direction, whose first maximum at a pixel is the direction that gave it; ``kernels`` hold an even number
    of directions, so the one across direction ``k`` is ``k + len/2``."""
    import cv2

    centre = cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    sides = [
        tuple(cv2.filter2D(crop, -1, taps, anchor=anchor, borderType=cv2.BORDER_REPLICATE) for taps, anchor in pair)
        for pair in kernels
    ]
    half = len(sides) // 2
    resp: FloatArray | None = None
    per_direction = []
    for k, (a, b) in enumerate(sides):
        across_a, across_b = sides[(k + half) % len(sides)]
        r = np.minimum(np.minimum(a, b), centre) - np.maximum(across_a, across_b)
        per_direction.append(r)
        resp = r if resp is None else np.maximum(resp, r)
    if resp is None:
        raise InputError("refine: expected at least 2 directions")
    # Only the best pixel's direction is ever asked for, so it is not tracked for the whole crop.
    return resp, per_direction


def _median(a: FloatArray) -> float:
    """``np.median`` of a float32 array, value for value (the same partition, and the mean of the two middle values
    when their count is even), without its general-purpose overhead, which cost more than the partition itself on
    a search window's few thousand values."""
    flat = a.ravel()
    k = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, k)[k])
    part = np.partition(flat, (k - 1, k))
    return float(np.mean(part[k - 1 : k + 1]))


def _real(name: str, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray(value)
    if a.dtype.kind not in "uif":
        raise InputError(f"refine: expected real numbers for {name}, got {a.dtype}")
    return a.astype(np.float64)


def _window_best(
    img: npt.NDArray[np.generic], x: float, y: float, rx: float, ry: float, pad: int,
    kernels: tuple[tuple[Kernel, Kernel], ...], sigma: float, min_snr: float,
) -> tuple[float, float, float, float, int] | None:  # fmt: skip
    """The best line response in the window of half-size ``rx, ry`` around ``(x, y)``, and where it is (pixel
    centres); None when the window is off the frame, or holds no line: its best response is not ``min_snr`` times
    the response's robust spread (1.4826 MAD) above its median, both over the padded crop. The fourth value is that
    ratio, the fifth the index of the line's direction (of ``len(kernels)``, from the x axis towards y)."""
    h, w = img.shape[:2]
    x0, x1 = max(int(np.floor(x - rx)), 0), min(int(np.ceil(x + rx)) + 1, w)
    y0, y1 = max(int(np.floor(y - ry)), 0), min(int(np.ceil(y + ry)) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    # Filter a padded crop so the response at the window's edge sees real pixels, not a border rule.
    px0, px1, py0, py1 = max(x0 - pad, 0), min(x1 + pad, w), max(y0 - pad, 0), min(y1 + pad, h)
    crop = np.asarray(img[py0:py1, px0:px1], np.float32)
    resp, per_direction = _response(crop, kernels, sigma)
    win = resp[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]
    top = float(win.max())
    # The spread over the whole padded crop: a window on a native-resolution tile is a few cells of 4 px, which a
    # streak can fill.
    mid = _median(resp)
    noise = 1.4826 * _median(np.abs(resp - np.float32(mid)))
    if top <= mid or top - mid < min_snr * noise:
        return None
    r, c = np.unravel_index(int(np.argmax(win)), win.shape)
    k = int(np.argmax([d[y0 - py0 + r, x0 - px0 + c] for d in per_direction]))
    return top, x0 + c + 0.5, y0 + r + 0.5, (top - mid) / noise if noise > 0 else float("inf"), k


def _line_support(lines: list[tuple[float, float, float, int]], angles: int, tol: float, apart: float) -> list[float]:
    """For each line ``(weight, x, y, direction)`` (a candidate's best pixel and the index of its direction, of
    ``angles``): the summed weight of the other lines that run the same way (within one direction step) and whose
    point lies within ``tol`` px of it, and at least ``apart`` px from its own point."""
    out = []
    for i, (_, x, y, k) in enumerate(lines):
        t = np.pi * k / angles
        dx, dy = float(np.cos(t)), float(np.sin(t))
        total = 0.0
        for j, (wj, xj, yj, kj) in enumerate(lines):
            step = (kj - k) % angles
            if j == i or min(step, angles - step) > 1:
                continue
            if abs((xj - x) * dy - (yj - y) * dx) <= tol and np.hypot(xj - x, yj - y) >= apart:
                total += wj
        out.append(total)
    return out


def refine_points(
    frames: Sequence[npt.NDArray[np.generic]] | npt.NDArray[np.generic],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    cell: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    cells: float = 1.5,
    wide_cells: float = 3.0,
    gap: int = 2,
    arm: int = 5,
    sigma: float = 1.2,
    angles: int = 8,
    min_snr: float = 4.0,
    line_tol: float = 5.0,
    support_snr: float = 8.0,
    accept_snr: float = np.inf,
) -> tuple[FloatArray, FloatArray]:
    """Move each frame's point to the streak: ``frames[i]``'s point is ``(x[i], y[i])`` (frame pixels), or the best
    of its candidates ``(x[i, j], y[i, j])``.

    ``frames``: N frames, each uint8/uint16/float ``[H,W]`` or ``[H,W,3|4]``; ``x, y: [N]`` or ``[N,K]`` (K
    candidates each; NaN marks an unused slot); ``weight: [N,K]``, each candidate's prior (default 1; a weight <= 0
    or NaN leaves the candidate out); ``cell: [N,2]`` or ``[2]``, the size of one first-layer cell in frame pixels
    ``(cw, ch)``. A window reaches ``cells`` cells on each side of its candidate, or, when no such window of the
    frame holds a line, ``wide_cells`` (a value <= ``cells`` turns that second search off); ``angles`` (even)
    directions are tried. A window holds a line when its best response stands ``min_snr`` times the response's
    robust spread (1.4826 MAD, over the window and its padding) above the response's median. (The default lies
    between what windows of clean sky and windows on a streak reach on simulated stills; see
    ``benchmarks/RESULTS.md``.) Of the candidates whose window holds a line, a line that others support wins:
    another candidate supports it when its own best pixel, at least 3 px away, lies within ``line_tol`` px of the
    line and its direction is within one step of the line's; both lines must stand ``support_snr`` spreads above
    the median. Among supported lines the one with the most weight (its own plus its supporters') wins; with no
    supported line, the one whose best response times its weight is highest. The point moves to the winner's best
    pixel. (A station's timestamp or a lamp answers the line search more strongly than a meteor, but alone. See
    ``benchmarks/RESULTS.md`` for what the support did to the stills, and to single video frames, whose short
    streaks seldom hold two candidates.)
    Returns ``x, y: float32 [N]``; a frame with no line in any window (a flat or off-frame window, or only
    point-like objects) keeps its first usable candidate as it is. With many candidates, a noise window may pass
    where the meteor itself is point-like (a short streak in one video frame), and the point goes there; on
    simulated video frames the search still places more detected meteors near their streak than no search does
    (``benchmarks/RESULTS.md``).
    With a finite ``accept_snr``, a first candidate whose line stands that many spreads above the median is taken
    without searching the others: one window instead of ``K``, for CPUs that cannot spare the search. It is off
    by default, because the first candidate is where a bright timestamp wins without a contest.
    """
    xs = _real("x", x)
    ys = _real("y", y)
    n = len(frames)
    if xs.ndim == 1:
        xs, ys = xs.reshape(-1, 1), ys.reshape(-1, 1)
    if xs.ndim != 2 or xs.shape[0] != n or ys.shape != xs.shape:
        raise InputError(
            f"refine: expected x and y of shape ({n},) or ({n}, K) for {n} frames, got {np.shape(x)} and {np.shape(y)}"
        )
    ws = np.ones_like(xs) if weight is None else _real("weight", weight)
    if ws.shape != xs.shape:
        raise InputError(f"refine: expected weight of the candidates' shape {xs.shape}, got {ws.shape}")
    cell_arr = _real("cell", cell)
    if cell_arr.shape not in ((2,), (n, 2)):
        raise InputError(f"refine: expected cell of shape (2,) or ({n}, 2), got {cell_arr.shape}")
    cs = np.broadcast_to(cell_arr, (n, 2))
    if not (np.all(np.isfinite(cs)) and np.all(cs > 0)):
        raise InputError(f"refine: expected positive finite cell sizes (cw, ch), got {cs[:3].tolist()}...")
    if angles < 2 or angles % 2:
        raise InputError(f"refine: expected an even number of directions >= 2, got {angles}")
    if not (gap >= 0 and arm >= 1 and np.isfinite(sigma) and sigma > 0):
        raise InputError(f"refine: expected gap >= 0, arm >= 1 and sigma > 0 px, got {gap}, {arm}, {sigma}")
    if not (line_tol >= 0 and support_snr >= 0):
        raise InputError(f"refine: expected line_tol >= 0 px and support_snr >= 0, got {line_tol} and {support_snr}")
    kernels = _half_lines(gap, arm, sigma, angles)
    pad = gap + arm + 2  # the kernels' reach
    out_x = xs[:, 0].astype(np.float32)
    out_y = ys[:, 0].astype(np.float32)
    for i in range(n):
        usable = np.flatnonzero(np.isfinite(xs[i]) & np.isfinite(ys[i]) & np.isfinite(ws[i]) & (ws[i] > 0))
        if usable.size == 0:
            continue
        img = grey(np.asarray(frames[i]))
        found: list[tuple[float, tuple[float, float, float, float, int]]] = []  # (weight, window's best line)
        # A faint streak can lie beyond every window when the maps' peaks sit up to a Grad-CAM cell off it; only
        # then are wider windows searched, so a frame that found its line keeps it.
        for reach in (cells, wide_cells) if wide_cells > cells else (cells,):
            rx, ry = reach * cs[i, 0], reach * cs[i, 1]
            for j in usable:
                best = _window_best(img, xs[i, j], ys[i, j], rx, ry, pad, kernels, sigma, min_snr)
                if best is not None and best[0] > 0:
                    found.append((float(ws[i, j]), best))
                    if j == usable[0] and best[3] >= accept_snr:
                        break
            if found:
                break
        if not found:
            out_x[i], out_y[i] = np.float32(xs[i, usable[0]]), np.float32(ys[i, usable[0]])
            continue
        # Only clear lines take part: sky noise passes min_snr in some windows, and two such passes in line with
        # each other by chance would otherwise outvote a short streak that holds one candidate (a video frame's).
        strong = [k for k, (_, b) in enumerate(found) if b[3] >= support_snr]
        support = [0.0] * len(found)
        lines = [(found[k][0], found[k][1][1], found[k][1][2], found[k][1][4]) for k in strong]
        for k, sup in zip(strong, _line_support(lines, angles, line_tol, LINE_APART_PX), strict=True):
            support[k] = sup
        # A streak holds several candidates along its one direction; a stamp's strokes or a roofline's lamps are
        # as bright or brighter, but each stands alone or runs another way. So a supported line wins, and among
        # lines the weight they gather decides; the response times the weight breaks ties and decides when no
        # line is supported. max() keeps the first of equal scores, and candidates come best first.
        keys = [(sup > 0, w + sup if sup > 0 else 0.0, b[0] * w) for (w, b), sup in zip(found, support, strict=True)]
        _, (_, bx, by, _, _) = found[max(range(len(found)), key=keys.__getitem__)]
        out_x[i], out_y[i] = np.float32(bx), np.float32(by)
    return out_x, out_y


def fused_peaks(
    cam: npt.NDArray[np.float32], fmap: npt.NDArray[np.float32], geometry: npt.NDArray[np.float32],
    input_size: tuple[float, float], k: int = 16, floor: float = 0.2,
) -> tuple[FloatArray, FloatArray, FloatArray]:  # fmt: skip
    """The candidates :func:`refine_points` searches: the ``k`` highest local maxima (of their 3x3 neighbourhood)
    of each item's fused map (:func:`meteorfast.cam.reference.fused_map`), down to ``floor`` times its maximum.

    ``cam: float32 [N,h,w]``, ``fmap: float32 [N,H1,W1]``, ``geometry: float32 [N,4]`` and ``input_size`` as for
    :func:`meteorfast.cam.localize`. Returns ``x, y, value: float32 [N,k]``: cell centres in frame pixels and the
    fused value, highest first (ties in row-major order); unused slots hold NaN and value 0.
    """
    from meteorfast.cam.reference import _finite, fused_map

    with np.errstate(over="ignore"):  # a float64 beyond float32 becomes Inf, which _finite reports
        c, f, geo = (_real(name, a).astype(np.float32) for name, a in (("cam", cam), ("fmap", fmap),
                                                                        ("geometry", geometry)))  # fmt: skip
    if c.ndim != 3 or f.ndim != 3 or len(c) != len(f) or geo.shape != (len(c), 4) or min(c.shape + f.shape) < 1:
        raise InputError(
            f"fused_peaks: expected cam [N,h,w], fmap [N,H1,W1] and geometry [N,4] of one N, got {c.shape}, "
            f"{f.shape} and {geo.shape}"
        )
    if k < 1:
        raise InputError(f"fused_peaks: expected k >= 1 candidates, got {k}")
    _finite("fused_peaks", c, (1, 2))
    _finite("fused_peaks", f, (1, 2))
    _finite("fused_peaks", geo, (1,))
    n, big_h, big_w = f.shape
    fused = fused_map(c, f)
    padded = np.pad(fused, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    neighbours = np.max(
        [padded[:, 1 + dy : 1 + dy + big_h, 1 + dx : 1 + dx + big_w]
         for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx],
        axis=0,
    )  # fmt: skip
    top = fused.max(axis=(1, 2), keepdims=True)
    keep = (fused >= neighbours) & (fused >= np.float32(floor) * top)
    score = np.where(keep, fused, -np.inf).reshape(n, -1)
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    value = np.take_along_axis(score, order, axis=1)
    used = np.isfinite(value)
    u = (order % big_w + 0.5) * (input_size[1] / big_w)
    v = (order // big_w + 0.5) * (input_size[0] / big_h)
    px = np.where(used, u * geo[:, :1] + geo[:, 2:3], np.nan).astype(np.float32)
    py = np.where(used, v * geo[:, 1:2] + geo[:, 3:4], np.nan).astype(np.float32)
    if px.shape[1] < k:  # fewer cells than k
        fill = ((0, 0), (0, k - px.shape[1]))
        px, py = np.pad(px, fill, constant_values=np.nan), np.pad(py, fill, constant_values=np.nan)
        value = np.pad(value, fill, constant_values=-np.inf)
    return px, py, np.where(np.isfinite(value), value, 0).astype(np.float32)


# The streak walk (brightest_on_streak). Offsets across the line, px: the core a curved or slightly mis-aimed streak
# stays within, and the sky on either side, clear of a Gaussian streak's wings (sigma up to ~2 px).
_CORE = (-2.0, -1.0, 0.0, 1.0, 2.0)
_SIDES = (-7.0, -6.0, -5.0, -4.0, 4.0, 5.0, 6.0, 7.0)
_ACROSS = np.array(_CORE + _SIDES, np.float32)
# The sky beside the streak, as far off as the walk could wander, gives the noise of the contrast.
_NULL_SHIFT = 18.0


def strip(img: FloatArray, x: float, y: float, angle: float, t0: int, t1: int, across: FloatArray) -> FloatArray:
    """``img`` sampled (bilinearly) along the line through frame point ``(x, y)`` at ``angle`` radians, from ``t0``
    to ``t1`` px along it (rows) and at the ``across`` offsets (columns, px, positive to the line's left): float32
    ``[t1 - t0 + 1, len(across)]``."""
    import cv2

    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    t = np.arange(t0, t1 + 1, dtype=np.float32)[:, None]
    o = across[None, :]
    # Frame point (x, y) is pixel (x - 0.5, y - 0.5) to remap, whose pixel centres are at integers.
    map_x = np.float32(x - 0.5) + t * c - o * s
    map_y = np.float32(y - 0.5) + t * s + o * c
    out = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.float32)


def _contrast(samples: FloatArray) -> FloatArray:
    """Per row of a strip sampled at ``_ACROSS``: the core's brightest pixel less the brighter side's mean. An edge
    (bright on one side) and a wide glow (bright on both) score low; a line scores its own brightness."""
    n = len(_CORE)
    sides = len(_SIDES) // 2
    left = samples[:, n : n + sides].mean(axis=1)
    right = samples[:, n + sides :].mean(axis=1)
    out: FloatArray = samples[:, :n].max(axis=1) - np.maximum(left, right)
    return out


def _steady(values: FloatArray, k: int) -> FloatArray:
    """The lowest value over ``k`` neighbours along the line, then their mean: a star the line crosses is a few px
    long and vanishes under the minimum, where a streak lasts."""
    half = k // 2
    low = np.lib.stride_tricks.sliding_window_view(np.pad(values, half, mode="edge"), k).min(axis=1)
    total = np.cumsum(np.pad(low, (half + 1, half), mode="edge"), dtype=np.float64)
    return ((total[k:] - total[:-k]) / k).astype(np.float32)


def streak_angle(img: FloatArray, x: float, y: float) -> float:
    """The direction (radians in [0, pi), give or take a fine step) of the line through ``(x, y)``: the best of 30
    coarse directions over 24 px either side, then of 9 finer ones around it over 64 px, whose ends a coarse step
    would miss by several px."""
    pair = np.array([0.0, -5.0, 5.0], np.float32)

    def score(angle: float, reach: int) -> float:
        st = strip(img, x, y, angle, -reach, reach, pair)
        return float(np.mean(st[:, 0] - np.maximum(st[:, 1], st[:, 2])))

    coarse = max(np.deg2rad(np.arange(0.0, 180.0, 6.0)), key=lambda a: score(float(a), 24))
    fine = float(coarse) + np.deg2rad(np.arange(-3.0, 3.01, 0.75))
    return float(max(fine, key=lambda a: score(float(a), 64)))


def span_inside(x: float, y: float, angle: float, w: int, h: int, reach: int) -> tuple[int, int]:
    """The range of ``t`` (px, within ``reach``) for which ``(x, y) + t (cos, sin)`` stays inside a ``w x h``
    frame."""
    lo, hi = -float(reach), float(reach)
    for p, d, size in ((x, np.cos(angle), w), (y, np.sin(angle), h)):
        if abs(d) > 1e-9:
            a, b = -p / d, (size - p) / d
            lo, hi = max(lo, min(a, b)), min(hi, max(a, b))
    return int(np.ceil(lo)), int(np.floor(hi))


def brightest_on_streak(
    frames: Sequence[npt.NDArray[np.generic]] | npt.NDArray[np.generic],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    start_snr: float = 6.0,
    floor_snr: float = 3.0,
    gap: int = 16,
    run: int = 20,
    gain: float = 1.5,
    steady: int = 9,
    reach: int = 4096,
) -> tuple[FloatArray, FloatArray]:
    """Move each point that lies on a streak along it to the streak's brightest stretch.

    The paper's point is the first layer's strongest activation inside the Grad-CAM region: the brightest part of
    the meteor there. :func:`refine_points` puts a point on the streak, but anywhere along it; a long meteor is
    brightest where it flares or ends, and that is where an observer marks it (the MeteorFinder photographers'
    boxes enclose that part). So the line through ``frames[i]``'s point ``(x[i], y[i])`` is found (its direction to
    about a degree), and followed both ways across the frame while its contrast (the brightest of the 5 px core
    less the brighter side's mean 4-7 px off, held at its lowest over ``steady`` px and averaged over as many, so a
    star the line crosses does not count) stays ``floor_snr`` times its noise above the noise's median (both
    measured on a parallel line 18 px off), over gaps of up to ``gap`` px (a fragmenting meteor, a cloud, an
    inpainted box edge). The point moves to the walked stretch's highest contrast, if that stands ``gain`` times
    the point's own; stretches shorter than ``run`` px other than the point's own (a timestamp's strokes, a star)
    cannot win. A point whose own contrast is under ``start_snr`` (not on a line), or NaN, stays.

    ``frames``: N frames, each uint8/uint16/float ``[H,W]`` or ``[H,W,3|4]``; ``x, y: [N]`` frame pixels. Returns
    ``x, y: float32 [N]``. (What it does to the localisation error on simulated stills and on the MeteorFinder
    frames is in ``benchmarks/RESULTS.md``.)
    """
    xs = _real("x", x)
    ys = _real("y", y)
    n = len(frames)
    if xs.shape != (n,) or ys.shape != (n,):
        raise InputError(f"brightest_on_streak: expected x and y of shape ({n},), got {xs.shape} and {ys.shape}")
    if not (gap >= 0 and run >= 1 and steady >= 1 and reach >= 1 and gain > 0 and start_snr >= floor_snr > 0):
        raise InputError(
            "brightest_on_streak: expected gap >= 0, run, steady and reach >= 1, gain > 0 and "
            f"start_snr >= floor_snr > 0, got {gap}, {run}, {steady}, {reach}, {gain}, {start_snr}, {floor_snr}"
        )
    out_x, out_y = xs.astype(np.float32), ys.astype(np.float32)
    for i in range(n):
        px, py = float(xs[i]), float(ys[i])
        walked = _walked(frames[i], px, py, start_snr, floor_snr, gap, steady, reach)
        if walked is None:
            continue
        keep = walked.lit[walked.lo : walked.hi + 1].copy()
        bounds = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
        lo, at, snr = walked.lo, walked.at, walked.snr
        for a, b in zip(bounds[::2], bounds[1::2], strict=True):
            if b - a < run and not a <= at - lo < b:
                keep[a:b] = False
        best = lo + int(np.argmax(np.where(keep, snr[lo : walked.hi + 1], -np.inf)))
        if snr[best] < gain * snr[at]:
            continue
        # Across, the core's brightest offset at that row: the walk's line can drift a px or two off a long streak.
        off = float(_ACROSS[int(np.argmax(walked.samples[best, : len(_CORE)]))])
        out_x[i], out_y[i] = walked.point(best, off)
    return out_x, out_y


@dataclass(frozen=True)
class _Walk:
    """The line through a point of a frame ``w x h``, sampled from ``t0`` px along it (rows of ``samples``, at
    ``_ACROSS``), its contrast in noise units ``snr`` per row, which rows are ``lit``, the point's row ``at`` and the
    lit stretch walked from it, rows ``lo..hi``."""

    x: float
    y: float
    angle: float
    t0: int
    w: int
    h: int
    samples: FloatArray
    snr: FloatArray
    lit: npt.NDArray[np.bool_]
    at: int
    lo: int
    hi: int

    def point(self, row: int, off: float = 0.0) -> tuple[np.float32, np.float32]:
        """The frame point of ``row``, ``off`` px to the line's left, kept inside the frame (the step across may
        reach past its edge where a streak runs along it)."""
        t = float(row + self.t0)
        c, s = np.cos(self.angle), np.sin(self.angle)
        x = min(max(self.x + t * c - off * s, 0.0), float(self.w))
        y = min(max(self.y + t * s + off * c, 0.0), float(self.h))
        return np.float32(x), np.float32(y)


def _walked(
    frame: npt.NDArray[np.generic], px: float, py: float, start_snr: float, floor_snr: float, gap: int, steady: int,
    reach: int,
) -> _Walk | None:  # fmt: skip
    """The walk along the line through ``(px, py)`` of ``frame``, as :func:`brightest_on_streak` describes it; None
    where the point is not finite, off the frame, or not on a line."""
    if not (np.isfinite(px) and np.isfinite(py)):
        return None
    # Float, so that bilinear samples are not rounded as cv2.remap rounds integer images: on a bright stretch
    # of even brightness the rounded ties would decide where its brightest point is.
    img = np.asarray(grey(np.asarray(frame)), np.float32)
    h, w = img.shape[:2]
    if not (0 <= px < w and 0 <= py < h):
        return None
    angle = streak_angle(img, px, py)
    t0, t1 = span_inside(px, py, angle, w, h, reach)
    samples = strip(img, px, py, angle, t0, t1, _ACROSS)
    line = _steady(_contrast(samples), steady)
    null = _steady(_contrast(strip(img, px, py, angle, t0, t1, _ACROSS + np.float32(_NULL_SHIFT))), steady)
    mid = _median(null)
    spread = 1.4826 * _median(np.abs(null - np.float32(mid)))
    snr = (line - np.float32(mid)) / np.float32(max(spread, 1e-3))
    at = -t0  # the point's row
    if snr[at] < start_snr:
        return None
    lit = snr >= floor_snr
    lo, hi = walk_lit(lit, at, gap)
    return _Walk(px, py, angle, t0, w, h, samples, snr, lit, at, lo, hi)


def streak_ends(
    frame: npt.NDArray[np.generic], x: float, y: float, *, start_snr: float = 6.0, floor_snr: float = 3.0,
    gap: int = 16, steady: int = 9, reach: int = 4096,
) -> tuple[float, float, float, float] | None:  # fmt: skip
    """The two ends ``(x0, y0, x1, y1)`` (frame pixels) of the streak through ``(x, y)`` of ``frame`` (uint8/uint16/
    float ``[H,W]`` or ``[H,W,3|4]``), walked as :func:`brightest_on_streak` walks it; None where the point is not
    on a line."""
    walked = _walked(frame, float(x), float(y), start_snr, floor_snr, gap, steady, reach)
    if walked is None:
        return None
    (x0, y0), (x1, y1) = walked.point(walked.lo), walked.point(walked.hi)
    return float(x0), float(y0), float(x1), float(y1)


def walk_lit(lit: npt.NDArray[np.bool_], at: int, gap: int) -> tuple[int, int]:
    """The first and last lit rows reached from row ``at`` (lit) stepping both ways over at most ``gap`` unlit rows
    at a time."""
    ends = []
    for step in (-1, 1):
        last, j, dark = at, at + step, 0
        while 0 <= j < len(lit):
            if lit[j]:
                last, dark = j, 0
            else:
                dark += 1
                if dark > gap:
                    break
            j += step
        ends.append(last)
    return ends[0], ends[1]
