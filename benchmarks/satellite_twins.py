"""Whether the satellites a still detector lets through have meteor twins in the simulator's own priors.

For each satellite still of ``meteorfast eval --synthetic N --seed S``: where the detector's located point lies (on
the dash or elsewhere in the frame), and the meteor the simulator could draw (a non-fireball meteor's light curve,
length, brightness and flares within their prior ranges, on the satellite's own line, with its width) that comes
closest to the satellite's noise-free dash, with their separation ``d'``: the root of the sum over the visible
pixels of (satellite - twin)^2 / that pixel's noise variance, with the noise the simulator then adds. ``d'`` is what
an ideal observer that knew both noise-free pictures would reach (deciding between the two errs with probability
``Phi(-d'/2)``); a detector that does not know them does worse. So a satellite whose twin lies at ``d'`` 2-4 is one
that no still detector can reliably tell from that meteor. Whether that sets a floor under the satellites' false
positive rate depends on how often the prior draws such meteors; ``--meteors`` measures it from the other side: for
each short meteor still (path at most 90 px), the closest satellite the prior could draw, and whether the detector
finds the meteor.

Both are compared as continuous profiles along the line (the light curve times a Gaussian cross-section, blurred by
the PSF), not as the drawn pixels: the simulator draws a path as anti-aliased segments between vertices 1.5-2 px
apart, and an exact comparison of the drawings would separate any two streaks by those drawing artefacts (a 0.5 px
shift of a bright streak's vertices alone gives ``d'`` of 20-40), which no camera shows. The profiles' own SNR is
within a quarter of the drawn dash's (the anti-aliasing varies with the line's angle), and that is the scale of
``d'``'s uncertainty; the search (random, then evolution, for each heading and number of flares) returns an upper
bound on the closest twin's ``d'``, stable to about 2 % between runs. A meteor's fragments, wake and slight
curvature are left out of its profile. The stills are the very ones ``meteorfast eval`` renders, and the detector is
the one it runs, at its stored threshold.

This reads the simulator's internals, so it is a benchmark, not an API.

    python benchmarks/satellite_twins.py [--synthetic 3000] [--seed 2026] [--model default] [--verifier auto]
        [--no-twins | --meteors] [--json benchmarks/results/satellite_twins_2026.json]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
STEP = 0.25  # px along the line, for the 1-D fit
PAD = 40.0  # px either side of the dash that a twin may reach
# The prior ranges of a non-fireball meteor at 720 px high (meteorfast.synth.render._Meteor; a fireball's peak is
# ten times any satellite's): length = speed x duration, speed 100-800 px/s, duration 0.25-1.5 s; peak 1.5-40 sky
# noise sigmas (faint ones from 1.5); light sin(pi tau)^shape; 0-2 flares (at, gain, width).
LENGTH = (25.0, 1200.0)
SHAPE = (0.5, 2.5)
FLARE_AT, FLARE_GAIN, FLARE_WIDTH = (0.2, 0.95), (0.5, 3.0), (0.01, 0.05)
ON_DASH = 10.0  # px: a located point this close to the dash's segment is on it


@dataclass(frozen=True)
class SatelliteView:
    """One satellite still's noise-free dash and noise, cropped around the dash: ``signal`` and ``var`` float32
    ``[h, w]``, ``seen`` bool ``[h, w]``; ``origin`` the crop's (x, y) in the frame; ``start`` the dash's first
    point (x, y, drawing coordinates), ``direction`` its unit vector, ``length`` px; ``level`` its even brightness
    (ADU), ``flare`` (at, gain) or None; ``sigma`` its cross-section (px)."""

    signal: npt.NDArray[np.float32]
    var: npt.NDArray[np.float32]
    seen: npt.NDArray[np.bool_]
    origin: tuple[int, int]
    start: tuple[float, float]
    direction: tuple[float, float]
    length: float
    level: float
    flare: tuple[float, float] | None
    sigma: float


def _visible_and_variance(scene: Any, img: Any, box: Any) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """Within ``box`` of a frame about to be finished: which pixels the scenery leaves visible (``finish`` paints
    silhouettes and lit structures over them, and an all-sky lens's mask), and the noise variance ``finish`` adds
    (shot and read noise, and 8-bit quantisation)."""
    seen = np.ones(img.shape, bool)
    for hidden in (scene.silhouette, None if scene.lit is None else scene.lit[0]):
        if hidden is not None:
            seen &= ~hidden
    if scene.mask is not None:
        seen &= scene.mask
    var = np.maximum(img[box], 0) / scene.gain + scene.read**2 + 1 / 12
    return seen[box].copy(), var.astype(np.float32)


@contextmanager
def record_satellites() -> Iterator[list[SatelliteView | None]]:
    """While active, every rendered frame appends the :class:`SatelliteView` of its satellite, or None."""
    from meteorfast.synth import render

    out: list[SatelliteView | None] = []
    pending: dict[str, Any] = {}
    draw, finish = render._Mover.draw, render._Scene.finish

    def mover_draw(self: Any, img: Any, scene: Any, t0: float, t1: float) -> Any:
        if self.kind != "satellite":
            return draw(self, img, scene, t0, t1)
        signal = np.zeros_like(img)
        seg = draw(self, signal, scene, t0, t1)
        img += signal
        pending["sat"] = (self, t0, t1, signal)
        return seg

    def scene_finish(self: Any, img: Any, t: float, frame_rng: Any) -> Any:
        sat = pending.pop("sat", None)
        if sat is None:
            out.append(None)
            return finish(self, img, t, frame_rng)
        mover, t0, t1, signal = sat
        start = mover.p0 + t0 * mover.v
        ys, xs = np.nonzero(signal > 1e-3 * float(signal.max()))
        if not xs.size:  # a dash drawn wholly outside the frame: the crop around where it starts
            xs, ys = np.array([int(start[0])]), np.array([int(start[1])])
        h, w = img.shape
        x0, y0 = max(int(xs.min()) - int(PAD) - 8, 0), max(int(ys.min()) - int(PAD) - 8, 0)
        x1, y1 = min(int(xs.max()) + int(PAD) + 9, w), min(int(ys.max()) + int(PAD) + 9, h)
        box = np.s_[y0:y1, x0:x1]
        seen, var = _visible_and_variance(self, img, box)
        speed = float(np.hypot(*mover.v))
        out.append(SatelliteView(
            signal[box].copy(), var, seen, (x0, y0), (float(start[0]), float(start[1])),
            (float(mover.v[0] / speed), float(mover.v[1] / speed)), speed * (t1 - t0), float(mover.level),
            None if mover.flare is None else (float(mover.flare[0]), float(mover.flare[1])), float(mover.sigma),
        ))  # fmt: skip
        return finish(self, img, t, frame_rng)

    with patch.object(render._Mover, "draw", mover_draw), patch.object(render._Scene, "finish", scene_finish):
        yield out


def stills_of(kinds: tuple[str, ...], n: int, seed: int) -> Iterator[tuple[int, Any]]:
    """``(index, SimFrame)`` for the stills of ``kinds`` among ``meteorfast eval --synthetic n --seed seed``'s items,
    only they rendered (the others' kinds and seeds are drawn as ``sample`` draws them, so the indices are eval's)."""
    from meteorfast.synth import SimConfig, render

    real = render.render_frame

    def only(seed_i: int, kind: str | None = None, config: Any = None) -> Any:
        return real(seed_i, kind, config) if kind in kinds else None

    with patch.object(render, "render_frame", only):
        for i, frame in enumerate(render.sample(n, seed, config=SimConfig())):
            if frame is not None:
                yield i, frame


def satellite_stills(n: int, seed: int) -> tuple[list[int], list[npt.NDArray[np.uint8]], list[SatelliteView]]:
    """The satellite stills among ``meteorfast eval --synthetic n --seed seed``'s items: their indices, images and
    views. Only they are rendered (see :func:`stills_of`)."""
    index, images = [], []
    with record_satellites() as views:
        for i, frame in stills_of(("satellite",), n, seed):
            index.append(i)
            images.append(frame.image)
    found = [v for v in views if v is not None]
    if len(found) != len(index):
        raise RuntimeError(f"expected one recorded dash per satellite still, got {len(found)} for {len(index)}")
    return index, images, found


def _blur(rows: F64, sigma: float) -> F64:
    import cv2

    k = int(2 * np.ceil(4 * sigma / STEP) + 1)
    return np.asarray(cv2.GaussianBlur(rows, (k, 1), sigma / STEP, sigmaY=0, borderType=cv2.BORDER_CONSTANT))


def _light(tau: F64, shape: F64, flares: F64) -> F64:
    """``_Meteor.light`` for many candidates at once: ``tau`` [C, S], ``shape`` [C], ``flares`` [C, 2, 3] (at, gain,
    width; gain 0 for none)."""
    curve = np.sin(np.pi * np.clip(tau, 0, 1)) ** shape[:, None]
    for j in range(flares.shape[1]):
        at, gain, width = (flares[:, j, q][:, None] for q in range(3))
        curve = curve * (1 + gain * np.exp(-0.5 * ((tau - at) / width) ** 2))
    return np.where((tau >= 0) & (tau <= 1), curve, 0.0)


@dataclass(frozen=True)
class Line:
    """A dash's line as the fit sees it: ``s`` float64 ``[S]``, positions along it (px, 0 at the dash's first point,
    :data:`STEP` apart); ``weight`` float64 ``[S]``, each position's 1 / noise variance (0 where the scenery hides
    it) times the area a unit of profile covers there; ``length`` the dash's (px); ``sigma`` the cross-section's."""

    s: F64
    weight: F64
    length: float
    sigma: float


def line_of(view: SatelliteView) -> Line:
    """The :class:`Line` of ``view``'s dash. A streak of profile ``p(s)`` and Gaussian cross-section peaking at 1
    covers ``p(s)^2 * sigma * sqrt(pi)`` of squared signal per px of its length, hence the weight."""
    s = np.arange(-PAD, view.length + PAD + STEP, STEP)
    px = view.start[0] + s * view.direction[0] - view.origin[0]
    py = view.start[1] + s * view.direction[1] - view.origin[1]
    c = np.clip(np.floor(px + 0.5).astype(int), 0, view.var.shape[1] - 1)
    r = np.clip(np.floor(py + 0.5).astype(int), 0, view.var.shape[0] - 1)
    weight = view.seen[r, c] / view.var[r, c].astype(np.float64) * (STEP * view.sigma * np.sqrt(np.pi))
    return Line(s, weight, view.length, view.sigma)


def satellite_profile(line: Line, level: float, flare: tuple[float, float] | None) -> F64:
    """``_Mover.draw``'s satellite on ``line``, as a continuous profile blurred by its PSF: float64 ``[S]``."""
    frac = line.s / max(line.length, 1e-6)
    sat = np.where((line.s >= 0) & (line.s <= line.length), 0.5 * level, 0.0)
    if flare is not None:
        sat = sat * (1 + flare[1] * np.exp(-0.5 * ((frac - flare[0]) / 0.08) ** 2))
    return _blur(sat[None, :], line.sigma)[0]


def meteor_profiles(line: Line, p: F64) -> F64:
    """``_Meteor``'s light curve at unit peak for candidates ``p`` float64 ``[C, 10]`` (start along the line, length,
    shape, two flares' at, gain and width with gain 0 for none, heading +1 along the line or -1 from its far end),
    blurred by the PSF: float64 ``[C, S]``."""
    along = np.where(p[:, 9:10] > 0, line.s[None, :] - p[:, 0:1], (line.length - line.s)[None, :] - p[:, 0:1])
    return _blur(_light(along / p[:, 1:2], p[:, 2], p[:, 3:9].reshape(-1, 2, 3)), line.sigma)


def twin_distance(line: Line, target: F64, p: F64) -> tuple[F64, F64]:
    """For candidates ``p`` (see :func:`meteor_profiles`): ``d'^2`` between ``target`` and each candidate at its best
    peak within the prior, and that peak: two float64 ``[C]``."""
    from meteorfast.synth.render import SKY_NOISE

    m = meteor_profiles(line, p)
    w = line.weight[None, :]
    peak = np.clip((m * target * w).sum(1) / np.maximum((m * m * w).sum(1), 1e-12), 1.5 * SKY_NOISE, 40 * SKY_NOISE)
    return ((target[None, :] - peak[:, None] * m) ** 2 * w).sum(1), peak


def fit_twin(line: Line, target: F64, rng: np.random.Generator) -> dict[str, Any]:
    """The meteor within the prior closest to the profile ``target`` float64 ``[S]`` on ``line``: its parameters,
    peak and ``dprime``. For each heading and number of flares (0-2), a random search of 8,000 candidates and 60
    rounds of evolution; the best of the six. A search can miss the global optimum, so ``dprime`` is an upper bound
    on the closest twin's."""
    span = (-PAD, line.length)
    length = (LENGTH[0], min(LENGTH[1], line.length + 2 * PAD))
    scale = np.array([6.0, 8.0, 0.4, 0.1, 0.5, 0.01, 0.1, 0.5, 0.01, 0.0])
    best: tuple[float, F64, float] | None = None
    for heading in (1.0, -1.0):
        for n_flares in (0, 1, 2):
            on = (n_flares >= 1, n_flares >= 2)

            def settle(p: F64, on: tuple[bool, bool] = on, heading: float = heading) -> F64:
                p[:, 0] = np.clip(p[:, 0], *span)
                p[:, 1] = np.clip(p[:, 1], *length)
                p[:, 2] = np.clip(p[:, 2], *SHAPE)
                for j, flare in zip((3, 6), on, strict=True):
                    p[:, j] = np.clip(p[:, j], *FLARE_AT)
                    p[:, j + 1] = np.clip(p[:, j + 1], *FLARE_GAIN) if flare else 0.0
                    p[:, j + 2] = np.clip(p[:, j + 2], *FLARE_WIDTH)
                p[:, 9] = heading
                return p

            k = 8000
            pool = np.empty((k, 10))
            pool[:, 0] = rng.uniform(*span, k)
            pool[:, 1] = np.exp(rng.uniform(np.log(length[0]), np.log(length[1]), k))
            pool[:, 2] = rng.uniform(*SHAPE, k)
            for j in (3, 6):
                pool[:, j] = rng.uniform(*FLARE_AT, k)
                pool[:, j + 1] = rng.uniform(*FLARE_GAIN, k)
                pool[:, j + 2] = rng.uniform(*FLARE_WIDTH, k)
            pool = settle(pool)
            elite = pool[np.argsort(twin_distance(line, target, pool)[0])[:16]]
            for it in range(60):
                kids = np.repeat(elite, 32, axis=0)
                kids += rng.normal(0, 1, kids.shape) * scale * 0.92**it * (rng.random(kids.shape) < 0.5)
                cand = np.concatenate([elite, settle(kids)])
                elite = cand[np.argsort(twin_distance(line, target, cand)[0])[:16]]
            d2, peak = twin_distance(line, target, elite[:1])
            if best is None or d2[0] < best[0]:
                best = (float(d2[0]), elite[0], float(peak[0]))
    if best is None:
        raise RuntimeError("fit_twin: no configuration searched")
    d2, p, peak = best
    return {"start": float(p[0]), "length": float(p[1]), "shape": float(p[2]), "heading": int(p[9]),
            "flares": [[float(p[j]), float(p[j + 1]), float(p[j + 2])] for j in (3, 6) if p[j + 1] > 0],
            "peak": peak, "dprime": float(np.sqrt(d2))}  # fmt: skip


# The satellite prior of ``_Mover`` at 720 px high, for the turned-round search: 1.5-12 px/s over a 5 s still, half
# of a level of 40-160 ADU, and 30 % with one flare (at 0.2-0.8 of the dash, gain 2-6, width 0.08 of it).
SAT_LENGTH, SAT_HALF_LEVEL, SAT_AT, SAT_GAIN = (7.5, 60.0), (20.0, 80.0), (0.2, 0.8), (2.0, 6.0)
SHORT_METEOR = 90.0  # px: meteors this short or shorter are compared with satellites (which are at most 60 px)


def satellite_distance(line: Line, target: F64, p: F64) -> F64:
    """``d'^2`` between ``target`` and each satellite ``p`` float64 ``[C, 4]`` (start along the line, length, flare's
    at and gain, gain 0 for none) at its best level within the prior: float64 ``[C]``."""
    frac = (line.s[None, :] - p[:, 0:1]) / p[:, 1:2]
    dash = ((frac >= 0) & (frac <= 1)) * (1 + p[:, 3:4] * np.exp(-0.5 * ((frac - p[:, 2:3]) / 0.08) ** 2))
    m = _blur(dash.astype(np.float64), line.sigma)
    w = line.weight[None, :]
    amp = np.clip((m * target * w).sum(1) / np.maximum((m * m * w).sum(1), 1e-12), *SAT_HALF_LEVEL)
    out: F64 = ((target[None, :] - amp[:, None] * m) ** 2 * w).sum(1)
    return out


def fit_satellite(line: Line, target: F64, rng: np.random.Generator) -> float:
    """The ``d'`` of the satellite within the prior closest to the profile ``target`` on ``line`` (an upper bound, as
    :func:`fit_twin`'s), with and without a flare."""
    lo = np.array([-PAD, SAT_LENGTH[0], SAT_AT[0], SAT_GAIN[0]])
    hi = np.array([line.length, SAT_LENGTH[1], SAT_AT[1], SAT_GAIN[1]])
    scale = np.array([4.0, 4.0, 0.05, 0.4])
    best = np.inf
    for flare in (False, True):
        pool = rng.uniform(lo, hi, (6000, 4))
        pool[:, 3] *= flare
        elite = pool[np.argsort(satellite_distance(line, target, pool))[:16]]
        for it in range(50):
            kids = np.repeat(elite, 32, axis=0)
            kids += rng.normal(0, 1, kids.shape) * scale * 0.92**it * (rng.random(kids.shape) < 0.5)
            kids = np.clip(kids, lo, hi)
            kids[:, 3] *= flare
            cand = np.concatenate([elite, kids])
            elite = cand[np.argsort(satellite_distance(line, target, cand))[:16]]
        best = min(best, float(satellite_distance(line, target, elite[:1])[0]))
    return float(np.sqrt(best))


def short_meteor_stills(
    n: int, seed: int
) -> tuple[list[int], list[npt.NDArray[np.uint8]], list[tuple[SatelliteView, F64, float]]]:
    """The meteor stills (not fireballs) among ``meteorfast eval --synthetic n --seed seed``'s items whose path is at
    most :data:`SHORT_METEOR` px: indices, images, and for each a view of its line (its ``level`` the meteor's peak;
    no drawn signal), its light curve as :func:`meteor_profiles`' parameters ``float64 [1, 10]`` and its peak. The
    fragments and wake a fifth and a third of meteors have are left out of the light curve."""
    from meteorfast.synth import render

    pending: dict[str, Any] = {}
    draw, finish = render._Meteor.draw, render._Scene.finish

    def meteor_draw(self: Any, img: Any, scene: Any, t0: float, t1: float) -> Any:
        pending["meteor"] = self
        return draw(self, img, scene, t0, t1)

    def scene_finish(self: Any, img: Any, t: float, frame_rng: Any) -> Any:
        m = pending.pop("meteor", None)
        if m is not None and m.kind != "fireball" and m.length <= SHORT_METEOR:
            a, b = m.p0, m.p0 + m.length * m.dir
            h, w = img.shape
            reach = int(PAD) + 20
            x0, y0 = max(int(min(a[0], b[0])) - reach, 0), max(int(min(a[1], b[1])) - reach, 0)
            x1, y1 = min(int(max(a[0], b[0])) + reach + 1, w), min(int(max(a[1], b[1])) + reach + 1, h)
            box = np.s_[y0:y1, x0:x1]
            seen, var = _visible_and_variance(self, img, box)
            view = SatelliteView(np.zeros_like(var), var, seen, (x0, y0), (float(a[0]), float(a[1])),
                                 (float(m.dir[0]), float(m.dir[1])), float(m.length), float(m.peak), None,
                                 float(m.sigma))  # fmt: skip
            flares = [*m.flares, *[(0.5, 0.0, 0.03)] * (2 - len(m.flares))]
            light = np.array([[0.0, m.length, m.shape, *flares[0], *flares[1], 1.0]])
            pending["view"] = (view, light, float(m.peak))
        return finish(self, img, t, frame_rng)

    index, images, views = [], [], []
    with patch.object(render._Meteor, "draw", meteor_draw), patch.object(render._Scene, "finish", scene_finish):
        for i, frame in stills_of(("meteor", "faint_meteor"), n, seed):
            got = pending.pop("view", None)
            if got is not None:
                index.append(i)
                images.append(frame.image)
                views.append(got)
    return index, images, views


def point_to_dash(view: SatelliteView, x: float, y: float) -> float:
    """The distance (px) from frame point ``(x, y)`` (meteorfast's convention: pixel (r, c)'s centre at
    (c + 0.5, r + 0.5)) to the dash's segment."""
    a = np.array(view.start) + 0.5
    d = np.array(view.direction) * view.length
    t = float(np.clip(np.dot(np.array([x, y]) - a, d) / max(float(np.dot(d, d)), 1e-12), 0, 1))
    return float(np.hypot(*(np.array([x, y]) - a - t * d)))


def signal_snr(view: SatelliteView) -> float:
    """The dash's own matched-filter SNR over its visible pixels, on the simulator's drawn picture."""
    return float(np.sqrt((np.where(view.seen, view.signal, 0).astype(np.float64) ** 2 / view.var).sum()))


def eval_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser with ``meteorfast eval``'s options that this script and ``recall_by_snr.py`` share: ``--synthetic``,
    ``--seed``, ``--model``, ``--verifier`` and ``--json``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--model", default="default")
    parser.add_argument("--verifier", default="auto")
    parser.add_argument("--json", default=None)
    return parser


def main() -> int:
    parser = eval_parser(__doc__)
    parser.add_argument("--no-twins", action="store_true", help="only the detector and where its points lie (fast)")
    parser.add_argument(
        "--meteors", action="store_true", help="each short meteor's closest satellite, and whether it is found"
    )
    args = parser.parse_args()

    from meteorfast.evaluate import EvalItem, predict
    from meteorfast.io import emit_json

    if args.meteors:
        index, images, meteors = short_meteor_stills(args.synthetic, args.seed)
        found = predict(args.model, [EvalItem(im, 1, None, (), "", "meteor") for im in images],
                        verifier=None if args.verifier == "none" else args.verifier, satellite_veto=False,
                        rescue=False)  # fmt: skip
        rng = np.random.default_rng([args.seed, 0x5A7])
        rows = []
        for i, (view, light, peak), prob in zip(index, meteors, found.prob, strict=True):
            line = line_of(view)
            target = peak * meteor_profiles(line, light)[0]
            rows.append({"item": i, "length": view.length, "found": bool(prob >= found.threshold), "prob": float(prob),
                         "snr": float(np.sqrt((target**2 * line.weight).sum())),
                         "dprime_satellite": fit_satellite(line, target, rng)})  # fmt: skip
        dps = np.array([r["dprime_satellite"] for r in rows])
        emit_json({
            "command": "python " + " ".join(sys.argv), "seed": args.seed, "n": args.synthetic,
            "short_meteors": len(rows), "found": sum(r["found"] for r in rows),
            "dprime_satellite_min": float(dps.min()), "dprime_satellite_median": float(np.median(dps)),
            "dprime_satellite_under": {str(t): int((dps < t).sum()) for t in (2, 3, 4, 6, 8)}, "rows": rows,
        }, args.json)  # fmt: skip
        return 0

    index, images, views = satellite_stills(args.synthetic, args.seed)
    items = [
        EvalItem(im, 0, "satellite", (), f"synthetic-{args.seed}-{i}", "satellite")
        for i, im in zip(index, images, strict=True)
    ]
    pred = predict(
        args.model,
        items,
        verifier=None if args.verifier == "none" else args.verifier,
        satellite_veto=False,
        rescue=False,
    )  # as recorded: the detector before the veto
    rng = np.random.default_rng([args.seed, 0x7715])
    rows = []
    for i, view, prob, x, y in zip(index, views, pred.prob, pred.x, pred.y, strict=True):
        line = line_of(view)
        target = satellite_profile(line, view.level, view.flare)
        twin = None if args.no_twins else fit_twin(line, target, rng)
        d, snr = None if twin is None else twin["dprime"], signal_snr(view)
        # The profile model's own SNR, against the drawn picture's: how well the model stands for the picture.
        model_snr = float(np.sqrt((target**2 * line.weight).sum()))
        rows.append({"item": i, "prob": float(prob), "passed": bool(prob >= pred.threshold), "length": view.length,
                     "level": view.level, "flare": view.flare, "sigma": view.sigma, "snr": snr,
                     "model_snr": model_snr, "dprime": d, "twin": twin,
                     "point_to_dash": point_to_dash(view, float(x), float(y))})  # fmt: skip
    passed = [r for r in rows if r["passed"]]
    summary: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv), "seed": args.seed, "n": args.synthetic, "satellites": len(rows),
        "threshold": pred.threshold, "passed": len(passed),
        # Where the detector's point is off the dash, what it took for a meteor is something else in the frame.
        "passed_on_dash": sum(r["point_to_dash"] <= ON_DASH for r in passed),
        "passed_rows": [{k: r[k] for k in ("item", "prob", "point_to_dash", "length", "flare", "snr", "dprime")}
                        for r in passed],
    }  # fmt: skip
    if not args.no_twins:
        dp = np.array([r["dprime"] for r in rows])
        summary["dprime_under"] = {str(t): int((dp < t).sum()) for t in (2, 3, 4, 6, 8)}
        # What the ideal observer would let through if each satellite's twin were as likely a draw as the satellite:
        # the mean of Phi(-d'/2), a floor for any still detector under that assumption.
        summary["twin_error_mean"] = float(np.mean([0.5 * math.erfc(v / 2 / math.sqrt(2)) for v in dp]))
    summary["rows"] = rows
    emit_json(summary, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
