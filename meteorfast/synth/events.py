"""The simulator's moving and flashing objects, drawn into each frame for its part of the exposure: meteors and the
confounders that move (aircraft, satellites, birds) or flash (lightning), and their placement in a scene (see
:mod:`meteorfast.synth`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from meteorfast.synth.config import F32, METEOR_KINDS, SKY_NOISE, Segment, SimConfig
from meteorfast.synth.draw import _dot, _draw_path
from meteorfast.synth.scene import _Scene


class _Event:
    """Something moving or flashing, drawn into each frame for its part of [t0, t1]."""

    def draw(self, img: F32, scene: _Scene, t0: float, t1: float) -> Segment | None:
        raise NotImplementedError


def _random_point(rng: np.random.Generator, cfg: SimConfig, margin: float = 0.1) -> tuple[float, float]:
    h, w = cfg.size
    if cfg.geometry == "allsky":
        r = 0.48 * min(h, w) * np.sqrt(rng.uniform(0, 0.8))
        a = rng.uniform(0, 2 * np.pi)
        return float(w / 2 + r * np.cos(a)), float(h / 2 + r * np.sin(a))
    return float(rng.uniform(margin * w, (1 - margin) * w)), float(rng.uniform(margin * h, (1 - margin) * h))


class _Meteor(_Event):
    def __init__(self, rng: np.random.Generator, cfg: SimConfig, kind: str, start: float) -> None:
        self.kind = kind
        self.start = start
        scale = min(cfg.size) / 720  # speeds below are for a 720 px high frame
        self.speed = float(rng.uniform(100, 800) * scale)  # px/s: 7-55 deg/s on a GMN-like 15 px/deg camera
        self.duration = float(rng.uniform(0.25, 1.5) if kind != "fireball" else rng.uniform(1.0, 3.0))
        if cfg.meteor_length is not None:  # an extra draw only here, so the usual items keep their pixels
            length = float(rng.uniform(*cfg.meteor_length)) * scale
            self.duration = min(length / self.speed, 3.0)
            self.speed = length / self.duration
        self.length = self.speed * self.duration
        self.p0 = np.array(_random_point(rng, cfg, 0.15))
        angle = rng.uniform(0, 2 * np.pi)
        self.dir = np.array([np.cos(angle), np.sin(angle)])
        self.normal = np.array([-self.dir[1], self.dir[0]])
        # Slight curvature: the chord between the endpoints (the ground truth) stays within ~1 % of the length.
        self.curve = float(rng.uniform(-0.01, 0.01)) * self.length
        noise = SKY_NOISE
        if kind == "faint_meteor":
            self.peak = float(rng.uniform(1.5, 4.0) * noise)
        elif kind == "fireball":
            self.peak = float(rng.uniform(400, 1500))
        else:
            self.peak = float(rng.uniform(4, 40) * noise)
        self.shape = float(rng.uniform(0.5, 2.5))
        self.flares = [(float(rng.uniform(0.2, 0.95)), float(rng.uniform(0.5, 3.0)), float(rng.uniform(0.01, 0.05)))
                       for _ in range(int(rng.integers(0, 3)))]  # fmt: skip
        self.sigma = float(rng.uniform(0.7, 1.6))
        self.fragments = [(float(rng.uniform(-3, 3)), float(rng.uniform(0.02, 0.1)), float(rng.uniform(0.2, 0.6)))
                          for _ in range(int(rng.integers(1, 4)) if rng.random() < 0.2 else 0)]  # fmt: skip
        self.wake = float(rng.uniform(0.05, 0.2)) if rng.random() < 0.3 else 0.0

    def shown(self, scene: _Scene, t0: float, t1: float) -> float:
        """The share of the meteor's lit path in view during ``[t0, t1]`` that the scenery does not hide (0 when
        none of it is in view)."""
        a = max(t0 - self.start, 0.0) / self.duration
        b = min(t1 - self.start, self.duration) / self.duration
        if b <= a:
            return 0.0
        tau = np.linspace(a, b, 256)
        pts = self.position(tau)
        lit = self.light(tau) > 0.05
        view, seen = scene.visibility(pts)
        framed = lit & view
        return float((seen & lit).sum() / framed.sum()) if framed.any() else 0.0

    def light(self, tau: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        curve = np.sin(np.pi * np.clip(tau, 0, 1)) ** self.shape
        for at, gain, width in self.flares:
            curve = curve * (1 + gain * np.exp(-0.5 * ((tau - at) / width) ** 2))
        return np.where((tau >= 0) & (tau <= 1), curve, 0.0)

    def position(self, tau: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        along = tau[:, None] * self.length * self.dir[None, :]
        bend = (4 * self.curve * tau * (1 - tau))[:, None] * self.normal[None, :]
        out: npt.NDArray[np.float64] = self.p0[None, :] + along + bend
        return out

    def draw(self, img: F32, scene: _Scene, t0: float, t1: float) -> Segment | None:
        a = max(t0 - self.start, 0.0) / self.duration
        b = min(t1 - self.start, self.duration) / self.duration
        if b <= a:
            if self.wake and 0 < t0 - self.start - self.duration < 0.5:  # the wake outlives the meteor briefly
                tau = np.linspace(0, 1, 32)
                _draw_path(img, self.position(tau), 0.2 * self.peak * self.wake * np.ones(32), self.sigma * 2)
            return None
        steps = max(int((b - a) * self.length / 2), 2)
        tau = np.linspace(a, b, steps)
        # Image brightness per pixel: luminosity times the dwell time on that pixel, ~ 1 / speed.
        values = self.peak * self.light(tau)
        pts = self.position(tau)
        _draw_path(img, pts, values, self.sigma)
        for offset, lag, share in self.fragments:
            frag = self.position(np.clip(tau - lag, 0, 1)) + offset * self.normal
            _draw_path(img, frag, values * share, self.sigma)
        if self.wake:
            back = np.linspace(max(a - 0.3, 0), a, 16)
            _draw_path(img, self.position(back), self.peak * self.wake * np.linspace(0, 1, 16), self.sigma * 1.5)
        if self.kind == "fireball":
            img += np.float32(0.03 * self.peak * float(self.light(np.array([0.5 * (a + b)]))[0]))
        inside = scene.visibility(pts)[1] & (values > 0.05 * self.peak)
        if not inside.any():
            return None
        # Drawing puts pixel (r, c)'s centre at (c, r); ground truth uses meteorfast's frame coordinates, where it
        # is at (c + 0.5, r + 0.5), the convention of cv2.resize and of every located point.
        seen = pts[inside] + 0.5
        return (float(seen[0, 0]), float(seen[0, 1]), float(seen[-1, 0]), float(seen[-1, 1]))


class _Mover(_Event):
    """Aircraft, satellites, birds and insects: a point or blob on a straight path."""

    def __init__(self, rng: np.random.Generator, cfg: SimConfig, kind: str) -> None:
        self.kind = kind
        self.p0 = np.array(_random_point(rng, cfg, 0.1))
        angle = rng.uniform(0, 2 * np.pi)
        scale = min(cfg.size) / 720
        # Angular speeds at ~8 px/degree: satellites 0.2-1.5 deg/s (LEO overhead is ~1 deg/s), aircraft 0.4-4 deg/s
        # (cruise altitude to approach), near-field birds and insects hundreds of px/s. Meteors are 10-60 deg/s.
        speed = {"aircraft": rng.uniform(3, 32), "satellite": rng.uniform(1.5, 12), "bird": rng.uniform(300, 2000)}[
            kind
        ] * scale
        self.v = speed * np.array([np.cos(angle), np.sin(angle)])
        self.level = float(rng.uniform(40, 160)) if kind != "bird" else float(rng.uniform(-25, 40))
        self.sigma = float(rng.uniform(0.8, 1.4)) if kind != "bird" else float(rng.uniform(4, 20))
        self.strobe_period = float(rng.uniform(0.9, 1.6))
        self.strobe_phase = float(rng.uniform(0, 1))
        self.flare = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(2, 6))) if rng.random() < 0.3 else None
        self.lights = float(rng.uniform(3, 8))

    def draw(self, img: F32, scene: _Scene, t0: float, t1: float) -> Segment | None:
        ts = np.linspace(t0, t1, max(int((t1 - t0) * np.hypot(*self.v) / 1.5), 2))
        pts = self.p0[None, :] + ts[:, None] * self.v[None, :]
        if self.kind == "satellite":
            values = np.full(ts.size, self.level * 0.5)
            if self.flare is not None:
                span = max(ts[-1] - ts[0], 1e-3)
                values *= 1 + self.flare[1] * np.exp(-0.5 * (((ts - ts[0]) / span - self.flare[0]) / 0.08) ** 2)
            _draw_path(img, pts, values, self.sigma)
        elif self.kind == "aircraft":
            side = np.array([-self.v[1], self.v[0]]) / max(np.hypot(*self.v), 1e-6) * self.lights
            _draw_path(img, pts + side, np.full(ts.size, self.level * 0.4), self.sigma)
            _draw_path(img, pts - side, np.full(ts.size, self.level * 0.4), self.sigma)
            on = ((ts / self.strobe_period + self.strobe_phase) % 1) < 0.05
            for p in pts[on][:: max(1, int(on.sum() // 30) + 1)]:
                _dot(img, float(p[0]), float(p[1]), self.level * 3, self.sigma * 1.5)
        else:
            _draw_path(img, pts, np.full(ts.size, abs(self.level)), self.sigma)
            if self.level < 0:  # a dark bird against a lit sky: subtract what was drawn twice over
                roi_img = np.zeros_like(img)
                _draw_path(roi_img, pts, np.full(ts.size, 2 * abs(self.level)), self.sigma)
                img -= roi_img
        return None


class _Flash(_Event):
    def __init__(self, rng: np.random.Generator, cfg: SimConfig, start: float) -> None:
        self.start = start
        self.length = float(rng.uniform(0.05, 0.3))
        self.gain = float(rng.uniform(0.5, 4.0))
        self.bolt: npt.NDArray[np.float64] | None = None
        if rng.random() < 0.6:
            h, w = cfg.size
            steps = int(rng.integers(20, 60))
            x = rng.uniform(0.1 * w, 0.9 * w) + np.cumsum(rng.normal(0, w * 0.01, steps))
            y = np.linspace(rng.uniform(0, 0.4) * h, h * rng.uniform(0.6, 1.0), steps)
            self.bolt = np.stack([x, y], 1)

    def draw(self, img: F32, scene: _Scene, t0: float, t1: float) -> Segment | None:
        overlap = max(0.0, min(t1, self.start + self.length) - max(t0, self.start))
        if overlap <= 0:
            return None
        share = overlap / max(t1 - t0, 1e-6)
        img += scene.sky * np.float32(self.gain * min(share * 4, 1.0))
        if self.bolt is not None:
            _draw_path(img, self.bolt, np.full(len(self.bolt), 250.0), 1.5)
        return None


# A meteor item shows at least this share of its path in view; placements that hide more behind the scenery are
# drawn again (a frame labelled meteor whose streak lies behind a roof would teach a classifier to fire on roofs).
MIN_SHOWN = 0.5
_PLACEMENTS = 200


def _events(
    rng: np.random.Generator, cfg: SimConfig, kind: str, t_start: float, t_end: float, scene: _Scene
) -> list[_Event]:
    if kind in METEOR_KINDS:
        span = t_end - t_start
        meteor = _Meteor(rng, cfg, kind, start=0.0)
        # A window longer than the meteor holds it whole; a shorter one (a video frame, a short clip) catches it
        # in mid-flight, away from the faint first and last tenth of its light curve.
        if span >= meteor.duration:
            meteor.start = t_start + rng.uniform(0, span - meteor.duration)
        else:
            meteor.start = t_start - (meteor.duration - span) * rng.uniform(0.1, 0.9)
        # Where the camera sees it: a start in the frame for a whole meteor, its mid-window point for one caught in
        # mid-flight. The first placement draws what it drew before hidden meteors were placed again, so items that
        # showed their meteor keep their pixels.
        mid = np.array([(t_start + span / 2 - meteor.start) / meteor.duration])
        to_mid = meteor.position(mid)[0] - meteor.p0
        for attempt in range(_PLACEMENTS):
            if span < meteor.duration:
                meteor.p0 = np.array(_random_point(rng, cfg, 0.05)) - to_mid
            elif attempt:
                meteor.p0 = np.array(_random_point(rng, cfg, 0.15))
            if meteor.shown(scene, t_start, t_end) >= MIN_SHOWN:
                break
        return [meteor]
    if kind in ("aircraft", "satellite", "bird"):
        return [_Mover(rng, cfg, kind)]
    if kind == "lightning":
        return [_Flash(rng, cfg, start=t_start + rng.uniform(0, max(t_end - t_start - 0.1, 0)))]
    return []
