"""The simulator's scene, static per clip: sky, stars, the Moon, scenery, clouds and the sensor that finishes each
frame (see :mod:`meteorfast.synth`)."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from meteorfast.synth.config import F32, SimConfig
from meteorfast.synth.draw import TRAIL_MIN_EXPOSURE, _fractal, _noise_bank, _star_path, _trail, _upsample


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
