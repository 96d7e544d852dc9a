"""Whether a short streak is a satellite's dash or a meteor: a likelihood ratio on the light along it.

In a long exposure (a still) a satellite crossing the field leaves a dash: an even level between two abrupt ends (the
shutter's), which a flare only multiplies, while a meteor leaves its whole light curve, rising and falling. Along the
line through a detection's point (the streak direction of :mod:`meteorfast.analysis.streak`) this module takes the light
(the mean of 5 px across the line less the mean of 4 px on either side 5-8 px off, in units of its noise, which the
same profile 18 px to either side gives), walks the streak out from the point (2.5 sigma, 3 px smoothing, gaps of
3 px) and keeps it over the walked length plus as much again on both sides (12-60 px), where a long faint meteor
walked only in part goes on and a dash does not. Then it fits two models by least squares (amplitude and offset
exactly, the rest with :func:`scipy.optimize.least_squares` from a few starts), each blurred along the line by the
cross-section's sigma (0.7-1.6 px) and sampled at 4 points a pixel:

- a satellite: an even level, optionally times one broad flare ``1 + g exp(-(u - a)^2 / (2 * 0.08^2))`` (``a``
  0.2-0.8 of the dash, ``g`` 2-6);
- a meteor: ``sin(pi u)^k`` (``k`` 0.5-2.5) times 0-2 narrow flares (at 0.2-0.95, gain 0.5-3, width 0.01-0.05), run
  either way along the line.

The residuals' sigma has a floor of 5 % of the model (a drawing's ripple and a slightly mis-aimed line grow with
brightness). ``delta = chi2(meteor) - chi2(satellite)`` is positive where the satellite explains the light better.
:class:`~meteorfast.judges.satellite.DashRule` turns a fit into a veto; its defaults were chosen on simulated stills
and checked on held-out ones (``benchmarks/RESULTS.md``).

This is for stills only: in a 25 fps video frame a meteor's 40 ms is itself an even dash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.image import grey
from meteorfast.analysis.streak import span_inside, streak_angle, strip, walk_lit

F64 = npt.NDArray[np.float64]
CORE = (-2.0, -1.0, 0.0, 1.0, 2.0)
SIDES = (-8.0, -7.0, -6.0, -5.0, 5.0, 6.0, 7.0, 8.0)
NULL_SHIFT = 18.0  # px: the sky beside the streak, as far off as the streak walk (brightest_on_streak) takes it
LIT = 3.0  # sigma of the 3 px mean at the point
WALK = 2.5  # sigma the walk follows
MAX_FIT_PX = 160  # walked lengths beyond this are never dashes; no fit
SUB = 4  # model samples per px
EPS = 0.05  # the residuals' sigma floor, a share of the model
SAT_FLARE_WIDTH = 0.08  # the simulator's, a share of the dash
MIN_LEN = 4.0  # px: the shortest object either model draws


@dataclass(frozen=True)
class Profile:
    """The light along the streak (float64 [n], noise units, the walked stretch at ``lo..hi``)."""

    light: F64
    lo: int
    hi: int

    @property
    def length(self) -> int:
        return self.hi - self.lo + 1


@dataclass(frozen=True)
class Fit:
    """The walked ``length`` (px), each model's chi-squared over ``n`` samples, and ``delta`` (meteor's less the
    satellite's; None when the stretch is too long to be a dash and nothing was fitted)."""

    length: int
    n: int
    chi2_satellite: float | None = None
    chi2_meteor: float | None = None

    @property
    def delta(self) -> float | None:
        if self.chi2_satellite is None or self.chi2_meteor is None:
            return None
        return self.chi2_meteor - self.chi2_satellite


def profile_at(img: npt.NDArray[Any], x: float, y: float, reach: int = 160) -> Profile | None:
    """The profile through frame point ``(x, y)`` of ``img`` (``[H,W]`` or ``[H,W,3|4]``, any dtype); None off the
    frame or where nothing at the point stands ``LIT`` sigma above the sky."""
    f = np.asarray(grey(np.asarray(img)), np.float32)
    h, w = f.shape
    if not (0 <= x < w and 0 <= y < h):
        return None
    angle = streak_angle(f, x, y)
    t0, t1 = span_inside(x, y, angle, w, h, reach)
    across = np.array(CORE + SIDES, np.float32)

    def light(shift: float) -> F64:
        st = strip(f, x, y, angle, t0, t1, across + np.float32(shift)).astype(np.float64)
        out: F64 = st[:, : len(CORE)].mean(1) - st[:, len(CORE) :].mean(1)
        return out

    raw = light(0.0)
    null = np.concatenate([light(NULL_SHIFT), light(-NULL_SHIFT)])
    mid = float(np.median(null))
    sigma = max(1.4826 * float(np.median(np.abs(null - mid))), 1e-6)
    snr3 = np.convolve(raw - mid, np.ones(3) / 3, mode="same") / (sigma / np.sqrt(3))
    near = slice(max(-t0 - 3, 0), min(-t0 + 4, len(raw)))
    at = near.start + int(np.argmax(snr3[near]))
    if snr3[at] < LIT:
        return None
    lo, hi = walk_lit(snr3 >= WALK, at, 3)
    pad = int(np.clip(hi - lo + 1, 12, 60))
    a, b = max(lo - pad, 0), min(hi + pad, len(raw) - 1)
    return Profile((raw[a : b + 1] - mid) / sigma, lo - a, hi - a)


def _render(n: int, centre: float, length: float, curve: Callable[[F64], F64], blur: float) -> F64:
    """``curve`` (of ``u``, 0-1 along the object) drawn over ``length`` px centred at sample ``centre`` of ``n``,
    blurred by ``blur`` px along the line: float64 ``[n]``."""
    t = (np.arange(n * SUB) + 0.5) / SUB - 0.5
    start, end = centre - length / 2, centre + length / 2
    # Each sub-sample's share inside the object, not whether its centre is: with hard edges the model, and so the
    # residuals, would jump in 1/SUB px steps of centre and length, and least squares would stop wherever its finite
    # differences happened to land (an 8-bit dash and its 16-bit copy could get opposite verdicts).
    half = 0.5 / SUB
    cover = np.clip(np.minimum(t + half, end) - np.maximum(t - half, start), 0.0, 2 * half) / (2 * half)
    u = (t - start) / length
    v = (cover * curve(np.clip(u, 0, 1))).reshape(n, SUB).mean(1)
    k = np.arange(-5, 6)
    g = np.exp(-0.5 * (k / blur) ** 2)
    out: F64 = np.convolve(v, g / g.sum(), mode="same")
    return out


def _residual(y: F64, model: F64) -> F64:
    """``y`` less ``amplitude * model + offset`` (amplitude >= 0, both by least squares), over the sigma with its
    floor."""
    a = np.stack([model, np.ones_like(model)], 1)
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    if coef[0] < 0:
        coef = np.array([0.0, y.mean()])
    signal = coef[0] * model
    out: F64 = (y - signal - coef[1]) / np.sqrt(1 + (EPS * signal) ** 2)
    return out


def _best(res: Callable[[F64], F64], starts: list[list[float]], lb: list[float], ub: list[float]) -> float:
    from scipy.optimize import least_squares

    lo, hi = np.array(lb), np.array(ub)
    best = np.inf
    for x0 in starts:
        r = least_squares(res, np.clip(x0, lo + 1e-6, hi - 1e-6), bounds=(lo, hi), diff_step=1e-2, max_nfev=300)
        best = min(best, float(np.sum(r.fun**2)))
    return best


def chi2_satellite(p: Profile) -> float:
    """The best chi-squared of an even dash, with or without one broad flare, over ``p``."""
    y, n = p.light, len(p.light)
    # centre and length, not two ends: two free ends can cross, where the model is empty and the fit stalls
    ends = [[(p.lo + p.hi + ds + de) / 2, p.length + de - ds, 1.0] for ds, de in product((-2, 0, 2), (-2, 0, 2))]

    def plain(q: F64) -> F64:
        return _residual(y, _render(n, q[0], q[1], lambda u: np.ones_like(u), q[2]))

    def flared(q: F64) -> F64:
        def curve(u: F64) -> F64:
            out: F64 = 1 + q[4] * np.exp(-0.5 * ((u - q[3]) / SAT_FLARE_WIDTH) ** 2)
            return out

        return _residual(y, _render(n, q[0], q[1], curve, q[2]))

    peak = (int(np.argmax(np.convolve(y, np.ones(3) / 3, "same"))) - p.lo) / max(p.length - 1, 1)
    flare0 = float(np.clip(peak, 0.21, 0.79))
    return min(
        _best(plain, ends, [0, MIN_LEN, 0.7], [n, n + 10, 1.6]),
        _best(flared, [[*e, flare0, 3.0] for e in ends[::4]], [0, MIN_LEN, 0.7, 0.2, 2.0], [n, n + 10, 1.6, 0.8, 6.0]),
    )


def chi2_meteor(p: Profile) -> float:
    """The best chi-squared of a meteor's light curve (``sin^k``, 0-2 narrow flares, either way) over ``p``."""
    y, n = p.light, len(p.light)
    smooth = np.convolve(y, np.ones(3) / 3, "same")
    peaks = [i for i in range(max(p.lo, 1), min(p.hi + 1, n - 1)) if smooth[i] >= max(smooth[i - 1], smooth[i + 1])]
    peaks = sorted(peaks, key=lambda i: -smooth[i])[:2] or [(p.lo + p.hi) // 2]
    best = np.inf
    for flares, backwards in product((0, 1, 2), (False, True)):

        def res(q: F64, flares: int = flares, backwards: bool = backwards) -> F64:
            def curve(u: F64) -> F64:
                v = 1 - u if backwards else u
                out: F64 = np.sin(np.pi * v) ** q[3]
                for j in range(flares):
                    at, gain, width = q[4 + 3 * j : 7 + 3 * j]
                    out = out * (1 + gain * np.exp(-0.5 * ((v - at) / width) ** 2))
                return out

            return _residual(y, _render(n, q[0], q[1], curve, q[2]))

        def where(i: int, backwards: bool = backwards) -> float:
            u = (i - p.lo) / max(p.length - 1, 1)
            return float(np.clip(1 - u if backwards else u, 0.21, 0.94))

        base = [(p.lo + p.hi) / 2, float(p.length + 2), 1.0]
        if flares == 0:
            starts = [[*base, k] for k in (0.5, 0.8, 1.2, 2.0)]
        elif flares == 1:
            starts = [[*base, k, where(i), 1.5, 0.03] for k, i in product((0.6, 1.5), peaks)]
        else:
            second = where(peaks[1]) if len(peaks) > 1 else 0.5
            starts = [[*base, k, where(peaks[0]), 1.5, 0.03, second, 1.0, 0.03] for k in (0.6, 1.5)]
        lb = [0, MIN_LEN, 0.7, 0.5] + [0.2, 0.5, 0.01] * flares
        ub = [n, n + 10, 1.6, 2.5] + [0.95, 3.0, 0.05] * flares
        best = min(best, _best(res, starts, lb, ub))
    return best


def fit_at(img: npt.NDArray[Any], x: float, y: float, max_fit_px: int = MAX_FIT_PX) -> Fit | None:
    """Both models at frame point ``(x, y)`` of ``img``, unless the walked streak is longer than ``max_fit_px``
    (then no chi-squared); None where :func:`profile_at` finds nothing."""
    p = profile_at(img, x, y)
    if p is None:
        return None
    if p.length > max_fit_px:
        return Fit(p.length, len(p.light))
    return Fit(p.length, len(p.light), chi2_satellite(p), chi2_meteor(p))
