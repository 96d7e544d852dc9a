"""The simulator's renderer (see :mod:`meteorfast.synth`)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError

METEOR_KINDS = ("meteor", "fireball", "faint_meteor")
CONFOUNDERS = ("aircraft", "satellite", "bird", "lightning", "cloud", "fog", "shake")
NEGATIVE_KINDS = ("clean", *CONFOUNDERS)
KINDS = (*METEOR_KINDS, *NEGATIVE_KINDS)
METEOR_SHARES = (0.7, 0.1, 0.2)  # of meteor, fireball and faint_meteor among the meteors of a sample

Segment = tuple[float, float, float, float]
SKY_NOISE = 4.5  # a typical sky pixel's noise (ADU), the unit of meteor amplitudes
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SimConfig:
    """``size = (height, width)``; ``geometry``: ``wide`` or ``allsky`` (fisheye circle); ``bits``: 8 or 16;
    ``fps`` and the per-frame ``exposure`` (seconds) of clips; ``still_exposure``: the shutter time of single frames
    (long enough by default to hold a whole meteor, as all-sky stills do); ``compress``: H.264-like artefacts;
    ``trailed_stars``: the share of scenes exposed for a second or more whose stars trail along one path, as a
    long exposure's stars do when the sky drifts or the camera moves (video frames' stars never trail).
    ``meteor_length``: None, or ``(low, high)`` px on a 720 px high frame: each meteor's length is drawn uniformly
    from it instead of following from its speed and duration (its speed is drawn as usual, its duration follows,
    at most 3 s). Training uses it to show short meteors, which the usual draws make rare, more often."""

    size: tuple[int, int] = (720, 1280)
    geometry: str = "wide"
    bits: int = 8
    fps: float = 25.0
    exposure: float = 1 / 25
    still_exposure: float = 5.0
    compress: bool = True
    trailed_stars: float = 0.2
    meteor_length: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.geometry not in ("wide", "allsky"):
            raise InputError(f"synth: expected geometry 'wide' or 'allsky', got {self.geometry!r}")
        if self.bits not in (8, 16):
            raise InputError(f"synth: expected bits 8 or 16, got {self.bits}")
        if min(self.size) < 16:
            raise InputError(f"synth: expected a size of at least 16x16, got {self.size}")
        if not (self.fps > 0 and 0 < self.exposure <= 1 / self.fps + 1e-9 and self.still_exposure > 0):
            raise InputError(
                f"synth: expected fps > 0, 0 < exposure <= 1/fps, still_exposure > 0; got fps={self.fps}, "
                f"exposure={self.exposure}, still_exposure={self.still_exposure}"
            )
        if not 0 <= self.trailed_stars <= 1:
            raise InputError(f"synth: expected trailed_stars in [0, 1], got {self.trailed_stars}")
        if self.meteor_length is not None and not (
            len(self.meteor_length) == 2 and 0 < self.meteor_length[0] <= self.meteor_length[1] < np.inf
        ):
            raise InputError(
                f"synth: expected meteor_length None or (low, high) px with 0 < low <= high, got {self.meteor_length}"
            )


@dataclass(frozen=True)
class Truth:
    """``label`` 1 for a meteor; ``kind`` (one of :data:`KINDS`); ``confounder`` for labelled negatives; per frame,
    the meteor's visible ``segments`` ``(x0, y0, x1, y1)`` in frame coordinates (pixel centres at ``c + 0.5,
    r + 0.5``), None where that frame does not show it (out of view, or behind the scenery)."""

    label: int
    kind: str
    confounder: str | None
    segments: tuple[Segment | None, ...]


@dataclass(frozen=True)
class SimFrame:
    """``image``: uint8 or uint16 ``[H, W]``; ``exposure_s``: the shutter time of a single frame (a still's, or a
    video frame's), None for a stack of frames."""

    image: npt.NDArray[np.unsignedinteger]
    truth: Truth
    exposure_s: float | None = None


@dataclass(frozen=True)
class SimClip:
    """``frames``: uint8 or uint16 ``[T, H, W]`` at ``fps``."""

    frames: npt.NDArray[np.unsignedinteger]
    truth: Truth
    fps: float


# ---------------------------------------------------------------- drawing helpers


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


# ---------------------------------------------------------------- the scene (static per clip)


class _Scene:
    def __init__(self, rng: np.random.Generator, cfg: SimConfig, kind: str) -> None:
        import cv2

        h, w = cfg.size
        self.cfg = cfg
        self.rng = rng
        lh, lw = max(h // 8, 4), max(w // 8, 4)
        yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
        yy /= lh
        xx /= lw
        base = rng.uniform(6, 45)
        sky = base + rng.uniform(-10, 10) * (xx - 0.5) + rng.uniform(-10, 10) * (yy - 0.5)
        gx, gy = rng.uniform(0, 1), rng.uniform(0.7, 1.3)  # light-pollution dome near the horizon
        sky += rng.uniform(0, 60) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) * rng.uniform(2, 8))
        if rng.random() < 0.25:  # twilight: brighter towards the horizon
            sky += rng.uniform(10, 60) * np.clip(yy, 0, 1) ** 2
        r2 = ((xx - 0.5) / 0.5) ** 2 * (w / max(h, w)) ** 2 + ((yy - 0.5) / 0.5) ** 2 * (h / max(h, w)) ** 2
        sky *= 1 - rng.uniform(0.1, 0.35) * r2
        self.sky = _upsample(sky.astype(np.float32), cfg.size)
        self.mask: npt.NDArray[np.bool_] | None = None
        if cfg.geometry == "allsky":
            circle = np.zeros((h, w), np.uint8)
            cv2.circle(circle, (w // 2, h // 2), int(0.48 * min(h, w)), 1, -1)
            self.mask = circle.astype(bool)
        # Stars: counts climb towards the limiting magnitude; flux 10^(-0.4 m); magnitude ~1.5 saturates.
        count = int(rng.uniform(0.3, 1.2) * h * w / 1500)
        limit = rng.uniform(6.5, 9.5)
        mags = np.maximum(limit - rng.exponential(1.3, count), -1)
        flux = 3000 * 10 ** (-0.4 * (mags - 1.5))
        sx, sy = rng.uniform(0, w, count).astype(int), rng.uniform(0, h, count).astype(int)
        self.psf = float(rng.uniform(0.7, 1.5))
        self.star_path: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None
        self.scintillation = float(rng.uniform(0.0, 0.3))
        # The Moon and its halo.
        if rng.random() < 0.25:
            mx, my, mr = rng.uniform(0, w), rng.uniform(0, h * 0.7), rng.uniform(6, 20)
            d = np.hypot(xx * w - mx, yy * h - my).astype(np.float32)
            halo = rng.uniform(20, 120) * np.exp(-d / rng.uniform(30, 150))
            self.sky += _upsample(halo.astype(np.float32), cfg.size)
            cv2.circle(self.sky, (int(mx), int(my)), int(mr), float(rng.uniform(220, 400)), -1, cv2.LINE_AA)
        # Silhouettes: horizon, buildings, trees.
        self.silhouette: npt.NDArray[np.bool_] | None = None
        if rng.random() < 0.5:
            sil = np.zeros((h, w), np.uint8)
            hx = np.linspace(0, w, 24)
            hy = h * (1 - rng.uniform(0.02, 0.12)) + np.cumsum(rng.normal(0, h * 0.01, hx.size))
            pts = np.concatenate([np.stack([hx, hy], 1), [[w, h], [0, h]]]).astype(np.int32)
            cv2.fillPoly(sil, [pts], 1)
            for _ in range(rng.integers(0, 5)):
                bx, bw, bh = rng.uniform(0, w), rng.uniform(0.03, 0.15) * w, rng.uniform(0.05, 0.25) * h
                cv2.rectangle(sil, (int(bx), int(h - bh)), (int(bx + bw), h), 1, -1)
            for _ in range(rng.integers(0, 6)):
                tx, th = rng.uniform(0, w), rng.uniform(0.05, 0.2) * h
                tri = np.array([[tx - th / 3, h], [tx, h - th], [tx + th / 3, h]], np.int32)
                cv2.fillPoly(sil, [tri], 1)
            self.silhouette = sil.astype(bool)
            self.silhouette_level = float(rng.uniform(0.0, 0.4))
        # Lit structures: walls, roofs and masts in the field of view, with long straight bright edges (a real
        # station's camera often sees part of its housing or a neighbouring building) and lamps.
        self.lit: tuple[npt.NDArray[np.bool_], F32] | None = None
        if rng.random() < 0.25:
            self.lit = self._lit_structures(rng)
        n_hot = 40 + int(rng.integers(0, 80))
        self.hot = (rng.integers(0, h, n_hot), rng.integers(0, w, n_hot))
        self.hot_value = rng.uniform(60, 255, n_hot).astype(np.float32)
        self.overlay = rng.random() < 0.6
        self.station = f"{['CZ', 'ES', 'US', 'UK', 'AU'][int(rng.integers(0, 5))]}{int(rng.integers(1, 9999)):04d}"
        # The stamp's style comes from a spawned generator, which leaves the scene's own draws as they were. Half are
        # thin text on the sky; half are white on a black strip, larger and sometimes bold, at the bottom or the
        # top, as RMS videos, UFOCapture and most DVRs burn them in. The strip hides the sky behind it.
        style = rng.spawn(1)[0]
        boxed = bool(style.random() < 0.5)
        top = boxed and bool(style.random() < 0.3)
        self.stamp_scale = max(h / 1000, 0.3) * (float(style.uniform(0.8, 1.5)) if boxed else 1.0)
        self.stamp_thickness = int(style.integers(1, 3)) if boxed else 1
        (text_w, text_h), base = cv2.getTextSize(self._stamp(0.0), cv2.FONT_HERSHEY_SIMPLEX, self.stamp_scale,
                                                 self.stamp_thickness)  # fmt: skip
        self.stamp_y = text_h + 6 if top else h - 6
        self.stamp_box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) of the black strip
        strip = None
        if self.overlay and boxed and cfg.bits == 8:
            self.stamp_box = (0, max(self.stamp_y - text_h - 4, 0), min(text_w + 8, w), min(self.stamp_y + base + 2, h))
            strip = np.zeros((h, w), np.bool_)
            strip[self.stamp_box[1] : self.stamp_box[3], : self.stamp_box[2]] = True
        # Trailed stars, from a generator of their own spawned after the stamp's: scenes without them keep the
        # pixels they had before trails were drawn.
        # The star layer is drawn here, once its stars are known to be points or trails, and blurred by the PSF once.
        trails = rng.spawn(1)[0]
        if cfg.exposure >= TRAIL_MIN_EXPOSURE and trails.random() < cfg.trailed_stars:
            self.star_path = _star_path(trails, max(h / 720, 0.1))
            points = _trail(sx.astype(np.float64), sy.astype(np.float64), flux, self.star_path, (h, w))
        else:
            points = np.zeros((h, w), np.float32)
            np.add.at(points, (sy, sx), flux.astype(np.float32))
        self.stars = np.asarray(cv2.GaussianBlur(points, (0, 0), self.psf), np.float32)
        # Where nothing in the sky shows: a meteor behind these is not seen, so its truth must not claim it.
        hidden = [m for m in (self.silhouette, self.lit[0] if self.lit else None, strip) if m is not None]
        self.hidden: npt.NDArray[np.bool_] | None = functools.reduce(np.logical_or, hidden) if hidden else None
        self.gain = float(rng.uniform(0.5, 4.0))
        self.read = float(rng.uniform(1.0, 4.0))
        self.quality = int(rng.integers(55, 95))
        # Clouds: a drifting fractal layer (always for the 'cloud' confounder, sometimes as scenery).
        self.clouds: F32 | None = None
        if kind == "cloud" or rng.random() < 0.15:
            self.clouds = _fractal(rng, (lh * 2, lw * 2))
            self.cloud_cover = float(rng.uniform(0.3, 0.8))
            self.cloud_light = float(rng.uniform(5, 60 if kind == "cloud" else 25))
            speed = rng.uniform(20, 120) if kind == "cloud" else rng.uniform(0, 15)  # px/s of the low-res layer
            angle = rng.uniform(0, 2 * np.pi)
            self.cloud_velocity = (float(speed * np.cos(angle)) / 8, float(speed * np.sin(angle)) / 8)

    def _stamp(self, t: float) -> str:
        """The station's timestamp at ``t`` seconds into the item."""
        return f"{self.station} 2026/11/24 02:17:{int(t) % 60:02d}.{int((t % 1) * 1000):03d} UTC"

    def visibility(self, pts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """For each drawing-coordinate point ``float64 [N, 2]`` (pixel ``(r, c)``'s centre at ``(c, r)``): whether
        it is in view (in the frame and, for an all-sky lens, inside its circle), and whether it is visible (in view
        and not behind a silhouette or a lit structure): two ``bool [N]``."""
        h, w = self.cfg.size
        col, row = np.floor(pts[:, 0] + 0.5), np.floor(pts[:, 1] + 0.5)
        view = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        idx = np.flatnonzero(view)
        r, c = row[idx].astype(np.intp), col[idx].astype(np.intp)
        if self.mask is not None:
            inside = self.mask[r, c]
            view[idx] = inside
            idx, r, c = idx[inside], r[inside], c[inside]
        seen = view.copy()
        if self.hidden is not None:
            seen[idx] = ~self.hidden[r, c]
        return view, seen

    def _lit_structures(self, rng: np.random.Generator) -> tuple[npt.NDArray[np.bool_], F32]:
        """1-3 bright quadrilaterals reaching in from the frame's edges, with darker struts, plus a few lamps:
        ``(mask bool [H,W], value float32 [H,W])``."""
        import cv2

        h, w = self.cfg.size
        mask = np.zeros((h, w), np.uint8)
        value = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(1, 4))):
            edge = int(rng.integers(0, 4))
            depth = rng.uniform(0.05, 0.3)
            along = np.sort(rng.uniform(0, 1, 2))
            inner = np.sort(rng.uniform(0, 1, 2))
            corners = [(along[0], 0.0), (along[1], 0.0), (inner[1], depth), (inner[0], depth)]
            pts = []
            for a, d in corners:  # (along the edge, depth into the frame) in [0, 1] -> pixels
                x, y = ((a, d), (1 - d, a), (a, 1 - d), (d, a))[edge]
                pts.append((x * w, y * h))
            poly = np.round(np.array(pts)).astype(np.int32)
            part = np.zeros((h, w), np.uint8)
            cv2.fillPoly(part, [poly], 1)
            level = rng.uniform(60, 340)  # above 255: saturated, like a housing lit by the city
            shade = level * (1 - rng.uniform(0, 0.4) * np.linspace(0, 1, w, dtype=np.float32))[None, :]
            value = np.where(part > 0, shade, value).astype(np.float32)
            for _ in range(int(rng.integers(0, 4))):
                t = rng.uniform(0, 1)
                a = poly[0] + t * (poly[1] - poly[0])
                b = poly[3] + t * (poly[2] - poly[3])
                cv2.line(value, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)),
                         float(level * rng.uniform(0.2, 0.6)), int(rng.integers(1, 5)), cv2.LINE_AA)  # fmt: skip
            mask |= part
        for _ in range(int(rng.integers(0, 6))):
            lx, ly = int(rng.uniform(0, w)), int(rng.uniform(0.6, 1.0) * h)
            r = int(rng.integers(2, 6))
            cv2.circle(mask, (lx, ly), 3 * r, 1, -1)
            cv2.circle(value, (lx, ly), 3 * r, float(rng.uniform(40, 120)), -1, cv2.LINE_AA)
            cv2.circle(value, (lx, ly), r, 255.0, -1, cv2.LINE_AA)
        return mask.astype(bool), np.asarray(cv2.GaussianBlur(value, (0, 0), 0.8), np.float32)

    def _noise(self, frame_rng: np.random.Generator) -> F32:
        """Unit Gaussian noise for one frame: a window at a random offset, flipped at random, of one of four noise
        fields made once per frame size. Drawing 0.9 M fresh normals per 720p frame would cost more than the rest
        of the frame; 4 fields x 128^2 offsets x 4 flips give 262,144 distinct windows."""
        h, w = self.cfg.size
        bank = _noise_bank(h, w)
        k, oy, ox = int(frame_rng.integers(0, 4)), int(frame_rng.integers(0, 128)), int(frame_rng.integers(0, 128))
        flip = frame_rng.integers(0, 2, 2)
        field = bank[k, oy : oy + h, ox : ox + w]
        return field[:: -1 if flip[0] else 1, :: -1 if flip[1] else 1]

    def background(self, t: float, frame_rng: np.random.Generator) -> F32:
        """Sky + stars (with scintillation and clouds) at time ``t`` seconds."""
        cfg = self.cfg
        # Full-frame arithmetic is most of a still's cost, so each product below is made in a buffer that is
        # already fresh, never in a new temporary. The operations and their order are those of
        # sky + stars * twinkle and sky * (1 + 0.3 c) + stars * (1 - c) + light * c, so the pixels are too.
        stars = self.stars
        if self.scintillation > 0:
            shape = (max(cfg.size[0] // 32, 2), max(cfg.size[1] // 32, 2))
            twinkle = 1 + self.scintillation * frame_rng.standard_normal(shape, dtype=np.float32)
            stars = _upsample(twinkle, cfg.size)
            stars *= self.stars
        if self.clouds is None:
            if stars is self.stars:
                return self.sky + stars
            stars += self.sky
            return stars
        import cv2

        vx, vy = self.cloud_velocity
        shift = np.array([[1, 0, vx * t], [0, 1, vy * t]], np.float32)
        size = (self.clouds.shape[1], self.clouds.shape[0])
        layer = cv2.warpAffine(self.clouds, shift, size, borderMode=cv2.BORDER_WRAP)
        cover = np.clip((layer - (1 - self.cloud_cover)) / max(self.cloud_cover, 1e-3), 0, 1)
        cover = _upsample(np.asarray(cover, np.float32), cfg.size)
        img = cover * np.float32(0.3)
        img += np.float32(1)
        img *= self.sky
        clear = np.subtract(np.float32(1), cover)
        clear *= stars
        img += clear
        img += np.multiply(cover, np.float32(self.cloud_light), out=clear)
        return img

    def finish(self, img: F32, t: float, frame_rng: np.random.Generator) -> npt.NDArray[np.unsignedinteger]:
        """Silhouettes, sensor noise, hot pixels, overlay, quantisation and compression."""
        import cv2

        cfg = self.cfg
        if self.silhouette is not None:
            np.multiply(self.sky, np.float32(self.silhouette_level), out=img, where=self.silhouette)
        if self.lit is not None:
            np.copyto(img, self.lit[1], where=self.lit[0])
        # Shot and read noise: sigma^2 = signal / gain + read^2, in place to spare full-frame temporaries.
        sigma = np.maximum(img, 0)
        sigma *= np.float32(1 / self.gain)
        sigma += np.float32(self.read**2)
        np.sqrt(sigma, out=sigma)
        sigma *= self._noise(frame_rng)
        img += sigma
        img[self.hot] = np.maximum(img[self.hot], self.hot_value)
        if self.mask is not None:
            img[~self.mask] = frame_rng.standard_normal(int((~self.mask).sum()), dtype=np.float32) * self.read
        if cfg.bits == 16:
            img *= np.float32(257)
            return np.clip(img, 0, 65535, out=img).astype(np.uint16)
        out = np.clip(img, 0, 255, out=img).astype(np.uint8)
        if self.overlay:
            if self.stamp_box is not None:
                x0, y0, x1, y1 = self.stamp_box
                out[y0:y1, x0:x1] = 0
            cv2.putText(out, self._stamp(t), (4, self.stamp_y), cv2.FONT_HERSHEY_SIMPLEX, self.stamp_scale,
                        255 if self.stamp_box else 230, self.stamp_thickness, cv2.LINE_AA)  # fmt: skip
        if cfg.compress:
            ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if ok:
                out = np.asarray(cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE), np.uint8)
        return out


# ---------------------------------------------------------------- events


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


# ---------------------------------------------------------------- rendering


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


def _post(img: F32, scene: _Scene, kind: str, rng: np.random.Generator, t0: float, t1: float) -> F32:
    import cv2

    if kind == "fog":
        sigma = float(rng.uniform(2, 8))
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), np.float32) * np.float32(rng.uniform(0.5, 0.9))
        img += np.float32(rng.uniform(10, 60))
    elif kind == "shake":
        length = float(rng.uniform(4, 20)) * max(min(1.0, (t1 - t0) * 25), 0.3)
        angle = rng.uniform(0, np.pi)
        k = int(2 * np.ceil(length) + 1)
        kernel = np.zeros((k, k), np.float32)
        c = k // 2
        d = (np.cos(angle) * length / 2, np.sin(angle) * length / 2)
        cv2.line(kernel, (round(c - d[0]), round(c - d[1])), (round(c + d[0]), round(c + d[1])), 1.0, 1)
        kernel /= max(float(kernel.sum()), 1e-6)
        img = np.asarray(cv2.filter2D(img, -1, kernel), np.float32)
    return img


def _stable_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


#: Share of 8-bit compressed clips that go through the temporal codec model (the rest are like RMS's raw frames).
VIDEO_CODEC_SHARE = 0.75
BLOCK = 16


def _video_codec(frames: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Low-bitrate video coding in time, as in the H.264 / MPEG-4 streams of station cameras (``frames`` and the
    result: uint8 ``[T,H,W]``). An I-frame every ``gop`` frames is taken whole. In between, a 16x16 block is sent
    again only when it differs from the decoded previous frame by more than ``tau`` DN on average (1.2-2.5 times
    the clip's typical frame-to-frame difference); otherwise the decoder repeats it (a skip block). So static sky
    and scenery freeze between I-frames and jump at each one
    (which lights the edges of a bright housing in ``max - mean`` stacks), while moving things refresh their
    blocks and faint ones can be lost, as in real streams."""
    import cv2

    gop = int(rng.choice([10, 12, 15, 25, 50]))
    phase = int(rng.integers(0, gop))
    t, h, w = frames.shape
    hb, wb = -(-h // BLOCK), -(-w // BLOCK)

    def sad(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Mean absolute difference per 16x16 block, rounded, ``uint8 [hb, wb]`` (edge blocks padded with zeros)."""
        diff = cv2.absdiff(a, b)
        diff = cv2.copyMakeBorder(diff, 0, hb * BLOCK - h, 0, wb * BLOCK - w, cv2.BORDER_CONSTANT, value=(0,))
        return np.asarray(cv2.resize(diff, (wb, hb), interpolation=cv2.INTER_AREA), np.uint8)

    # Rate control spends the bits on what changes: the threshold sits above this clip's frame-to-frame noise,
    # so noisy sky is skipped as readily as clean sky.
    tau = float(np.median(sad(frames[min(1, t - 1)], frames[0]))) * float(rng.uniform(1.2, 2.5)) + 0.5
    out = np.empty_like(frames)
    ref = frames[0].copy()
    for i in range(t):
        frame = frames[i]
        if i and (i + phase) % gop:
            send = (sad(frame, ref) > tau).astype(np.uint8)
            mask = cv2.resize(send, (wb * BLOCK, hb * BLOCK), interpolation=cv2.INTER_NEAREST)[:h, :w]
            cv2.copyTo(frame, mask, ref)
        else:
            ref = frame.copy()
        out[i] = ref
    return out


def render_clip(
    seed: int, n_frames: int = 25, kind: str | None = None, config: SimConfig | None = None, *, lead: int = 0
) -> SimClip:
    """``n_frames`` video frames of one scene at ``config.fps``; ``kind`` None draws one at random. The meteor or flash
    is placed in the frames after the first ``lead`` (the sky a stream showed before it); a meteor that lasts longer
    than those frames is caught in mid-flight, so it may already show in the lead."""
    cfg = config or SimConfig()
    if n_frames < 1 or not 0 <= lead < n_frames:
        raise InputError(f"synth: expected n_frames >= 1 and 0 <= lead < n_frames, got {n_frames} and {lead}")
    rng = _stable_rng(seed, 0)
    kind = kind or str(rng.choice(KINDS))
    if kind not in KINDS:
        raise InputError(f"synth: expected kind one of {', '.join(KINDS)}, got {kind!r}")
    scene = _Scene(rng, cfg, kind)
    events = _events(rng, cfg, kind, lead / cfg.fps, n_frames / cfg.fps, scene)
    dtype = np.uint8 if cfg.bits == 8 else np.uint16
    frames = np.empty((n_frames, *cfg.size), dtype)
    segments: list[Segment | None] = []
    post_seed = int(rng.integers(0, 2**31))
    for i in range(n_frames):
        t0 = i / cfg.fps
        t1 = t0 + cfg.exposure
        frame_rng = _stable_rng(seed, 1, i)
        img = scene.background(t0, frame_rng)
        seg: Segment | None = None
        for ev in events:
            s = ev.draw(img, scene, t0, t1)
            seg = s if s is not None else seg
        img = _post(img, scene, kind, _stable_rng(post_seed, i), t0, t1)
        frames[i] = scene.finish(img, t0, frame_rng)
        segments.append(seg)
    codec_rng = _stable_rng(seed, 3)  # its own stream: the scene and events draw exactly what they did before
    if cfg.compress and cfg.bits == 8 and n_frames > 1 and codec_rng.random() < VIDEO_CODEC_SHARE:
        frames = _video_codec(frames, codec_rng)
    meteor = kind in METEOR_KINDS
    truth = Truth(int(meteor), kind, None if meteor or kind == "clean" else kind, tuple(segments))
    return SimClip(frames, truth, cfg.fps)


def render_frame(seed: int, kind: str | None = None, config: SimConfig | None = None) -> SimFrame:
    """One still of ``config.still_exposure`` seconds (a whole meteor fits); ``kind`` None draws one at random."""
    cfg = config or SimConfig()
    still = dataclasses.replace(cfg, fps=1 / cfg.still_exposure, exposure=cfg.still_exposure)
    clip = render_clip(seed, 1, kind, still)
    return SimFrame(clip.frames[0], clip.truth, cfg.still_exposure)


def render_stack(
    seed: int, n_frames: int = 25, kind: str | None = None, config: SimConfig | None = None, *, flicker: float = 0.0
) -> SimFrame:
    """A clip of ``n_frames`` stacked to its ``max - mean`` image by the stacking kernel (what
    ``Detector(mode="stack")`` classifies); its truth keeps the meteor's segment in each frame.

    With ``flicker`` > 0 the scene runs ``n_frames`` longer, with the meteor or flash placed in the last
    ``n_frames``, and that window is flicker-suppressed against the first window's noise, as the detector does from
    a stream's second window on (:mod:`meteorfast.stream.flicker`)."""
    from meteorfast.cam import stack
    from meteorfast.stream.flicker import suppress_flicker

    if flicker <= 0:
        clip = render_clip(seed, n_frames, kind, config)
        return SimFrame(stack(clip.frames).candidate, clip.truth)
    clip = render_clip(seed, 2 * n_frames, kind, config, lead=n_frames)
    before, now = stack(clip.frames[:n_frames]), stack(clip.frames[n_frames:])
    truth = dataclasses.replace(clip.truth, segments=clip.truth.segments[n_frames:])
    return SimFrame(suppress_flicker(now.candidate, before.std, flicker), truth)


def kind_shares(
    kinds: tuple[str, ...], weights: Mapping[str, float] | None, base: tuple[float, ...] | None = None
) -> npt.NDArray[np.float64]:
    """The probability of each of ``kinds``: ``base`` (equal shares if None) times ``weights`` (kind -> factor >= 0,
    1 for kinds it leaves out), normalised: ``float64 [len(kinds)]``."""
    weights = weights or {}
    unknown = set(weights) - set(KINDS)
    if unknown or any(not (np.isfinite(v) and v >= 0) for v in weights.values()):
        raise InputError(
            f"synth: expected kind weights >= 0 for kinds among {', '.join(KINDS)}, got {dict(weights)}; "
            "use those kind names with finite factors"
        )
    share = np.asarray(base if base is not None else np.ones(len(kinds)), np.float64)
    share = share * np.array([weights.get(k, 1.0) for k in kinds], np.float64)
    if share.sum() <= 0:
        raise InputError(f"synth: the kind weights {dict(weights)} leave none of {', '.join(kinds)} to draw")
    out: npt.NDArray[np.float64] = share / share.sum()
    return out


def sample(
    n: int,
    seed: int,
    *,
    meteor_fraction: float = 0.5,
    config: SimConfig | None = None,
    kinds: tuple[str, ...] | None = None,
    video_fraction: float = 0.0,
    weights: Mapping[str, float] | None = None,
) -> Iterator[SimFrame]:
    """``n`` single frames: a ``meteor_fraction`` of meteors (kinds weighted 70/10/20 % meteor/fireball/faint), the
    rest spread evenly over clean skies and the confounders; ``weights`` (kind -> factor, 1 for kinds it leaves out)
    scales each kind's share within the meteors or within the negatives, to show a classifier more of what it finds
    hard (``kinds``, when given, draws evenly from those kinds instead). A ``video_fraction`` of them are video
    frames (one ``config.exposure``, the meteor caught in mid-flight, as a video station's candidate frame), the
    others stills of ``config.still_exposure`` that hold the whole meteor. Item ``i`` depends only on
    ``(seed, i)``."""
    if not (0 <= meteor_fraction <= 1 and 0 <= video_fraction <= 1):
        raise InputError(
            f"synth: expected meteor_fraction and video_fraction in [0, 1], got {meteor_fraction}, {video_fraction}"
        )
    cfg = config or SimConfig()
    video = dataclasses.replace(cfg, still_exposure=cfg.exposure)
    rng = _stable_rng(seed, 2)
    # Without weights, the very shares drawn before weights existed, so that seeds keep their items.
    p_meteor = kind_shares(METEOR_KINDS, weights, METEOR_SHARES) if weights else list(METEOR_SHARES)
    p_negative = kind_shares(NEGATIVE_KINDS, weights) if weights else None
    for i in range(n):
        if kinds is not None:
            kind = str(kinds[int(rng.integers(0, len(kinds)))])
        elif rng.random() < meteor_fraction:
            kind = str(rng.choice(METEOR_KINDS, p=p_meteor))
        else:
            kind = str(rng.choice(NEGATIVE_KINDS, p=p_negative))
        item = _stable_rng(seed, 3, i)
        seed_i = int(item.integers(0, 2**31))
        yield render_frame(seed_i, kind, video if item.random() < video_fraction else cfg)
