"""A likelihood-ratio test between a satellite's dash and a meteor, on the light along the streak through the
detector's point, measured on the stills ``meteorfast eval --synthetic N --seed S`` renders, with the detector it
runs, at its stored threshold.

Stop 32 found that an observer who knew both pictures would tell every short meteor from every satellite (the
closest pair at ``d'`` 4.6), and that what separates them is the dash's even level between abrupt ends, which a
satellite's flare only multiplies, against a meteor's rise and fall. This script makes that observer work on the
frame alone:

- **The profile.** Along the line through the point (the detector's own streak direction), the mean of 5 px across
  the line less the mean of 4 px on either side 5-8 px off, in units of its noise (the same profile 18 px to either
  side gives the noise). The streak is walked out from the point (2.5 sigma, 3 px smoothing, gaps of 3 px) and the
  profile kept over the walked length plus as much again on both sides (12-60 px), where a long faint meteor walked
  only in part goes on and a dash does not.
- **Two models, each fitted by least squares** (amplitude and offset solved exactly, the rest by
  ``scipy.optimize.least_squares`` from a few starts), blurred along the line by the cross-section's sigma (0.7-1.6
  px) and sampled at 4 points a pixel, as the simulator draws them:
  - a satellite: an even level from one end to the other, optionally times one broad flare
    ``1 + g exp(-(u - a)^2 / (2 * 0.08^2))``, ``a`` 0.2-0.8 of the dash, ``g`` 2-6;
  - a meteor: ``sin(pi u)^k``, ``k`` 0.5-2.5, times 0-2 narrow flares (at 0.2-0.95, gain 0.5-3, width 0.01-0.05),
    run either way along the line.
  The residuals' sigma has a floor of 5 % of the model (the drawing's ripple and a slightly mis-aimed line grow with
  brightness), so a bright object's fit is not decided by what neither model draws.
- **The statistic** is ``delta = chi2(meteor) - chi2(satellite)``: positive where the satellite explains the light
  better. A veto rule is a walked length of at most ``max_len`` px and ``delta`` of ``tau`` or more.

Read as a grid of rules over the detections (meteors lost, negatives removed, satellites removed), and at every
satellite the detector scores 0.3 or more with its point on the dash, whatever the threshold. ``--rule MAX_LEN,TAU``
applies one rule and reports precision, recall and each confounder's rate with and without it. This reads the
simulator's internals for the satellites, so it is a benchmark, not an API.

    python benchmarks/dash_likelihood.py [--synthetic 3000] [--seed 2026] [--rule 100,25] [--json out.json]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
CORE = (-2.0, -1.0, 0.0, 1.0, 2.0)
SIDES = (-8.0, -7.0, -6.0, -5.0, 5.0, 6.0, 7.0, 8.0)
NULL_SHIFT = 18.0  # px: the sky beside the streak, as far off as refine's walk takes it
LIT = 3.0  # sigma of the 3 px mean at the point
WALK = 2.5  # sigma the walk follows
MAX_FIT_PX = 160  # walked lengths beyond this are never dashes; no fit
SUB = 4  # model samples per px
EPS = 0.05  # the residuals' sigma floor, a share of the model
SAT_FLARE_WIDTH = 0.08  # the simulator's, a share of the dash
MIN_LEN = 4.0  # px: the shortest object either model draws
LOW_PROB = 0.3
MAX_LENS = (60, 100)
TAUS = (0.0, 10.0, 25.0, 50.0)
MAX_CHI2S = (2.0, 3.0, float("inf"))  # per sample


@dataclass(frozen=True)
class Profile:
    """The light along the streak (float64 [n], noise units, the walked stretch at ``lo..hi``) and its angle."""

    light: F64
    lo: int
    hi: int
    angle: float

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
    """The profile through frame point ``(x, y)`` of ``img`` (``[H,W]``, any dtype); None off the frame or where
    nothing at the point stands ``LIT`` sigma above the sky."""
    from meteorfast.cam.refine import _inside, _streak_angle, _strip, _walk

    f = np.asarray(img, np.float32)
    h, w = f.shape
    if not (0 <= x < w and 0 <= y < h):
        return None
    angle = _streak_angle(f, x, y)
    t0, t1 = _inside(x, y, angle, w, h, reach)
    across = np.array(CORE + SIDES, np.float32)

    def light(shift: float) -> F64:
        st = _strip(f, x, y, angle, t0, t1, across + np.float32(shift)).astype(np.float64)
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
    lo, hi = _walk(snr3 >= WALK, at, 3)
    pad = int(np.clip(hi - lo + 1, 12, 60))
    a, b = max(lo - pad, 0), min(hi + pad, len(raw) - 1)
    return Profile((raw[a : b + 1] - mid) / sigma, lo - a, hi - a, angle)


def _render(n: int, centre: float, length: float, curve: Callable[[F64], F64], blur: float) -> F64:
    """``curve`` (of ``u``, 0-1 along the object) drawn over ``length`` px centred at sample ``centre`` of ``n``,
    blurred by ``blur`` px along the line: float64 ``[n]``."""
    t = (np.arange(n * SUB) + 0.5) / SUB - 0.5
    u = (t - centre + length / 2) / length
    inside = (u >= 0) & (u <= 1)
    v = np.where(inside, curve(np.clip(u, 0, 1)), 0.0).reshape(n, SUB).mean(1)
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


def fit_at(img: npt.NDArray[Any], x: float, y: float) -> Fit | None:
    """Both models at frame point ``(x, y)`` of ``img``; None where :func:`profile_at` finds nothing."""
    p = profile_at(img, x, y)
    if p is None:
        return None
    if p.length > MAX_FIT_PX:
        return Fit(p.length, len(p.light))
    return Fit(p.length, len(p.light), chi2_satellite(p), chi2_meteor(p))


def vetoes(f: Fit | None, max_len: int, tau: float, max_chi2: float = float("inf")) -> bool:
    """Whether rule ``(max_len, tau, max_chi2)`` turns down the detection whose fit is ``f``: a walked length of at
    most ``max_len`` px, ``delta`` of ``tau`` or more, and the satellite's chi-squared at most ``max_chi2`` a
    sample (where neither model explains the light, say a star the line crosses, their difference means little)."""
    if f is None or f.delta is None or f.chi2_satellite is None:
        return False
    return f.length <= max_len and f.delta >= tau and f.chi2_satellite <= max_chi2 * f.n


def main() -> int:
    from satellite_twins import ON_DASH, eval_parser, point_to_dash, satellite_stills  # this script's neighbour

    from meteorfast.evaluate import predict, synthetic_items
    from meteorfast.io import emit_json

    parser = eval_parser(__doc__)
    parser.add_argument("--rule", default=None, help="MAX_LEN,TAU,MAX_CHI2: report the metrics with this veto")
    args = parser.parse_args()

    items = synthetic_items(args.synthetic, args.seed)
    pred = predict(args.model, items, verifier=None if args.verifier == "none" else args.verifier)
    label = np.array([it.label for it in items])
    conf = np.array([it.confounder or "" for it in items])
    det = pred.prob >= pred.threshold
    looked = np.flatnonzero(det | ((conf == "satellite") & (pred.prob >= LOW_PROB)))
    t = time.perf_counter()
    fits = {int(i): fit_at(items[i].image, float(pred.x[i]), float(pred.y[i])) for i in looked}
    fit_s = time.perf_counter() - t
    fitted = sum(f is not None and f.delta is not None for f in fits.values())
    del items

    index, _, views = satellite_stills(args.synthetic, args.seed)
    near = [point_to_dash(v, float(pred.x[i]), float(pred.y[i])) for i, v in zip(index, views, strict=True)]
    on_dash = [i for i, d in zip(index, near, strict=True) if pred.prob[i] >= LOW_PROB and d <= ON_DASH]

    def veto_mask(max_len: int, tau: float, max_chi2: float) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(label), bool)
        for i, f in fits.items():
            out[i] = vetoes(f, max_len, tau, max_chi2)
        return out

    rules = []
    for max_len, tau, max_chi2 in product(MAX_LENS, TAUS, MAX_CHI2S):
        v = veto_mask(max_len, tau, max_chi2) & det
        rules.append({"max_len_px": max_len, "tau": tau, "max_chi2": max_chi2,
                      "meteors_lost": int((v & (label == 1)).sum()),
                      "negatives_removed": int((v & (label == 0)).sum()),
                      "satellites_removed": int((v & (conf == "satellite")).sum()),
                      "satellites_on_dash_p03_vetoed": sum(vetoes(fits[i], max_len, tau, max_chi2) for i in on_dash),
                      })  # fmt: skip

    def metrics(accept: npt.NDArray[np.bool_]) -> dict[str, Any]:
        tp, fp = int((accept & (label == 1)).sum()), int((accept & (label == 0)).sum())
        fn = int(((~accept) & (label == 1)).sum())
        kinds = sorted(set(conf[label == 0]))
        return {"tp": tp, "fp": fp, "fn": fn, "precision": round(tp / max(tp + fp, 1), 4),
                "recall": round(tp / max(tp + fn, 1), 4),
                "fpr_by_confounder": {k: round(float(accept[conf == k].mean()), 4) for k in kinds}}  # fmt: skip

    out: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv), "seed": args.seed, "n": args.synthetic,
        "threshold": pred.threshold, "shipped": metrics(det), "satellites": len(index),
        "satellites_on_dash_p03": len(on_dash), "fitted": fitted, "fit_ms_each": round(1000 * fit_s / max(fitted, 1)),
        "rules": rules,
        "fits": [{"item": i, "label": int(label[i]), "kind": str(conf[i]), "prob": round(float(pred.prob[i]), 4),
                  "detected": bool(det[i]), "on_dash": i in on_dash, "length": f.length, "n": f.n,
                  "chi2_satellite": round(float(f.chi2_satellite or 0), 2),
                  "chi2_meteor": round(float(f.chi2_meteor or 0), 2)}
                 for i, f in fits.items() if f is not None and f.delta is not None],
    }  # fmt: skip
    if args.rule:
        text_len, text_tau, text_chi2 = args.rule.split(",")
        rule = int(text_len), float(text_tau), float(text_chi2)
        out["rule"] = {"max_len_px": rule[0], "tau": rule[1], "max_chi2": rule[2],
                       **metrics(det & ~veto_mask(*rule))}  # fmt: skip
    emit_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
