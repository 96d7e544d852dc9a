"""Two checks that could veto a detection, measured on the stills ``meteorfast eval --synthetic N --seed S`` renders,
with the detector it runs, at its stored threshold.

- **Copies.** The object at the located point is cut out (its pixels 3 sigma above the sky, and 2 px around them)
  and matched against the whole frame: normalised cross-correlation, the mean taken over the cut-out. A copy is a
  local maximum where the match is ``tau`` or more and significant (matched-filter SNR 10 or more), not on the
  object's own lit pixels and not on its own line (a long streak matches itself all along). A trailed star's shape
  repeats at every star of a long exposure, a shaken frame's too; a meteor's should not. Points on objects whose
  longer axis is under the rule's ``min_major_px`` (12 or 20) are left alone: every star matches a star.
- **Flatness.** Along the line through the point (3 sigma or more there), the streak's contrast is walked out to
  its ends (2.5 sigma, gaps of 3 px), and the mean at its two ends (8-22 % and 78-92 % of the walked length), the
  lower of the two, is divided by the median over 10-90 %. An even dash would give 1, less the blur's ramp that the
  walked ends take in (a drawn one reads 0.87, the simulator's satellites a median 0.83-0.87); a meteor's rise and
  fall (``sin^k``) gives less (a drawn ``sin`` reads 0.52).

Each is read as a grid of veto rules on the detections: detected meteors lost, negatives removed, satellites
removed. Flatness is also measured at every satellite's own dash (its middle), whatever the detector did there.
This reads the simulator's internals for the satellites, so it is a benchmark, not an API.

    python benchmarks/detection_vetoes.py [--synthetic 3000] [--seed 2026] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
LIT_SIGMA = 3.0  # a pixel of the smoothed residual this many sky sigmas up belongs to an object
COPY_SNR = 10.0
ON_OWN_LINE_PX = 4.0  # plus 3 % of the distance along the line: a meteor may curve slightly
LOW_PROB = 0.3  # detections and near-misses: the stills whose features are computed
TAUS = (0.85, 0.9, 0.95)
MIN_COPIES = (2, 3, 5)
MIN_MAJOR = (12.0, 20.0)
FLAT = (0.8, 0.9, 1.0)
MAX_LEN = (60, 100)
MIN_MEDIAN_SNR = (0.0, 5.0)


def _residual(img: npt.NDArray[Any]) -> tuple[F32, float]:
    """The frame less its sky (median of an 8x shrunk copy), smoothed by 1 px, and the robust sigma of that."""
    import cv2

    f = np.asarray(img, np.float32)
    h, w = f.shape
    small = cv2.medianBlur(cv2.resize(f, (max(w // 8, 1), max(h // 8, 1)), interpolation=cv2.INTER_AREA), 5)
    res = cv2.GaussianBlur(f - cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 1.0)
    sub = res[::4, ::4]
    return res, float(1.4826 * np.median(np.abs(sub - np.median(sub))))


@dataclass(frozen=True)
class Copies:
    """The object at a point (``pixels`` lit, axes ``major`` and ``minor`` px at 2 sigma) and its copies' ``ncc``
    and ``snr`` (float32 [K]), already off its own pixels and line."""

    pixels: int
    major: float
    minor: float
    ncc: F32
    snr: F32

    def count(self, tau: float, min_major: float) -> int:
        return int(((self.ncc >= tau) & (self.snr >= COPY_SNR)).sum()) if self.major >= min_major else 0


def copies_at(img: npt.NDArray[Any], x: float, y: float, radius: int) -> Copies | None:
    """The copies in ``img`` (``[H,W]``) of the object at frame point ``(x, y)``, cut out within ``radius`` px;
    None when nothing there is lit."""
    import cv2

    from meteorfast.cam.refine import _streak_angle

    res, sig = _residual(img)
    h, w = res.shape
    xi, yi = int(np.clip(round(x - 0.5), 0, w - 1)), int(np.clip(round(y - 0.5), 0, h - 1))
    pad = cv2.copyMakeBorder(res, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0.0)
    tpl = pad[yi : yi + 2 * radius + 1, xi : xi + 2 * radius + 1].copy()
    n, lab = cv2.connectedComponents((tpl > LIT_SIGMA * sig).astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    ly, lx = np.nonzero(lab)
    j = int(np.argmin(np.hypot(lx - radius, ly - radius)))
    own = lab == lab[ly[j], lx[j]]
    oy, ox = np.nonzero(own)
    wts = np.maximum(tpl[oy, ox], 0) + 1e-9
    cov = np.cov(np.stack([ox, oy]).astype(np.float64), aweights=wts) if len(ox) > 2 else np.zeros((2, 2))
    ev = np.sort(np.linalg.eigvalsh(np.atleast_2d(cov)))[::-1]
    mask = cv2.dilate(own.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    t = tpl * mask
    ncc = np.nan_to_num(cv2.matchTemplate(pad, t, cv2.TM_CCOEFF_NORMED, mask=mask), nan=0.0, posinf=0.0, neginf=0.0)
    snr = cv2.matchTemplate(pad, t, cv2.TM_CCORR) / (sig * float(np.sqrt((t * t).sum())) + 1e-9)
    peaks = (ncc >= cv2.dilate(ncc, np.ones((radius + 1, radius + 1), np.uint8))) & (ncc >= min(TAUS))
    cy, cx = np.nonzero(peaks & (snr >= COPY_SNR))  # the padding's offset and the cut-out's half cancel
    # The object's own lit pixels over the whole frame: a long streak's own stretches match it.
    _, labf = cv2.connectedComponents((res > LIT_SIGMA * sig).astype(np.uint8), connectivity=8)
    gy, gx = min(max(yi + int(ly[j]) - radius, 0), h - 1), min(max(xi + int(lx[j]) - radius, 0), w - 1)
    ownf = cv2.dilate((labf == labf[gy, gx]).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    ang = _streak_angle(np.asarray(img, np.float32), x, y)
    dx, dy = cx - xi, cy - yi
    perp = np.abs(-dx * np.sin(ang) + dy * np.cos(ang))
    along = np.abs(dx * np.cos(ang) + dy * np.sin(ang))
    keep = ~ownf[cy, cx] & (perp > ON_OWN_LINE_PX + 0.03 * along)
    return Copies(int(own.sum()), float(4 * np.sqrt(max(ev[0], 0.0))), float(4 * np.sqrt(max(ev[-1], 0.0))),
                  ncc[cy, cx][keep].astype(np.float32), snr[cy, cx][keep].astype(np.float32))  # fmt: skip


@dataclass(frozen=True)
class Flatness:
    """A streak walked out from a point: its ``length`` (px), ``flatness`` (ends over middle, see the module
    docstring) and the median contrast over its noise, ``median_snr``."""

    length: int
    flatness: float
    median_snr: float


def flatness_at(img: npt.NDArray[Any], x: float, y: float, reach: int = 160) -> Flatness | None:
    """The streak through frame point ``(x, y)`` of ``img`` (``[H,W]``); None off the frame or off any line."""
    from meteorfast.cam.refine import _ACROSS, _NULL_SHIFT, _contrast, _inside, _median, _streak_angle, _strip, _walk

    f = np.asarray(img, np.float32)
    h, w = f.shape
    if not (0 <= x < w and 0 <= y < h):
        return None
    ang = _streak_angle(f, x, y)
    t0, t1 = _inside(x, y, ang, w, h, reach)
    box = np.ones(3, np.float32) / 3
    c = np.convolve(_contrast(_strip(f, x, y, ang, t0, t1, _ACROSS)), box, mode="same")
    null = np.convolve(_contrast(_strip(f, x, y, ang, t0, t1, _ACROSS + np.float32(_NULL_SHIFT))), box, mode="same")
    mid = _median(null)
    spread = max(1.4826 * _median(np.abs(null - np.float32(mid))), 1e-3)
    snr = (c - mid) / spread
    near = slice(max(-t0 - 3, 0), min(-t0 + 4, len(snr)))
    at = near.start + int(np.argmax(snr[near]))
    if snr[at] < LIT_SIGMA:
        return None
    lo, hi = _walk(snr >= 2.5, at, 3)
    prof = c[lo : hi + 1] - np.float32(mid)
    n = len(prof)

    def part(a: float, b: float) -> F32:
        i0 = round(a * n)
        return prof[i0 : max(round(b * n), i0 + 1)]

    median = float(np.median(part(0.1, 0.9)))
    ends = min(float(np.mean(part(0.08, 0.22))), float(np.mean(part(0.78, 0.92))))
    return Flatness(n, ends / max(median, 1e-3), median / spread)


def _counts(veto: npt.NDArray[np.bool_], det: npt.NDArray[np.bool_], label: npt.NDArray[Any],
            conf: npt.NDArray[Any]) -> dict[str, int]:  # fmt: skip
    return {"meteors_lost": int((veto & det & (label == 1)).sum()),
            "negatives_removed": int((veto & det & (label == 0)).sum()),
            "satellites_removed": int((veto & det & (conf == "satellite")).sum())}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from meteorfast.evaluate import predict, synthetic_items
    from meteorfast.io import emit_json

    items = synthetic_items(args.synthetic, args.seed)
    pred = predict("default", items, satellite_veto=False, rescue=False)  # the vetoes read here stand in for it
    label = np.array([it.label for it in items])
    conf = np.array([it.confounder or "" for it in items])
    det = pred.prob >= pred.threshold
    radius = int(np.ceil(24 * items[0].image.shape[0] / 720))  # a trailed star is up to 40 px at 720 px high
    looked = np.flatnonzero(pred.prob >= LOW_PROB)
    cop = {int(i): copies_at(items[i].image, float(pred.x[i]), float(pred.y[i]), radius) for i in looked}
    flat = {int(i): flatness_at(items[i].image, float(pred.x[i]), float(pred.y[i])) for i in looked}
    del items

    copy_rules = []
    for tau, m, major in product(TAUS, MIN_COPIES, MIN_MAJOR):
        veto = np.zeros(len(label), bool)
        for i, c in cop.items():
            veto[i] = c is not None and c.count(tau, major) >= m
        copy_rules.append({"tau": tau, "min_copies": m, "min_major_px": major, **_counts(veto, det, label, conf)})

    # Every satellite's own dash, at its middle, whatever the detector did there.
    from satellite_twins import ON_DASH, point_to_dash, satellite_stills  # this script's neighbour in benchmarks/

    index, images, views = satellite_stills(args.synthetic, args.seed)
    at_dash, passed_on_dash = [], []
    for i, im, v in zip(index, images, views, strict=True):
        half = v.length / 2
        middle = (v.start[0] + 0.5 + v.direction[0] * half, v.start[1] + 0.5 + v.direction[1] * half)
        at_dash.append(flatness_at(im, *middle))
        if pred.prob[i] >= LOW_PROB and point_to_dash(v, float(pred.x[i]), float(pred.y[i])) <= ON_DASH:
            passed_on_dash.append(flat[i])
    flat_rules = []
    for f0, lmax, s0 in product(FLAT, MAX_LEN, MIN_MEDIAN_SNR):

        def hit(f: Flatness | None, f0: float = f0, lmax: int = lmax, s0: float = s0) -> bool:
            return f is not None and f.length <= lmax and f.flatness >= f0 and f.median_snr >= s0

        veto = np.zeros(len(label), bool)
        for i, f in flat.items():
            veto[i] = hit(f)
        flat_rules.append({"min_flatness": f0, "max_length_px": lmax, "min_median_snr": s0,
                           **_counts(veto, det, label, conf),
                           "satellite_dashes_vetoed": sum(hit(f) for f in at_dash),
                           "satellites_on_dash_p03_vetoed": sum(hit(f) for f in passed_on_dash)})  # fmt: skip
    emit_json({
        "command": "python " + " ".join(sys.argv), "seed": args.seed, "n": args.synthetic,
        "threshold": pred.threshold, "detected_meteors": int((det & (label == 1)).sum()),
        "false_positives": int((det & (label == 0)).sum()),
        "satellites": len(index), "satellites_passed": int((det & (conf == "satellite")).sum()),
        "satellites_on_dash_p03": len(passed_on_dash), "copies": copy_rules, "flatness": flat_rules,
    }, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
