"""Synthetic night-sky frames, deterministic by seed.

This is the first, small part of the simulator: a sky glow with a gradient, stars with a magnitude distribution
and a Gaussian PSF, shot and read noise, and optionally one meteor per frame, a streak with a Gaussian cross-section
and a brightening-then-fading light curve. It serves INT8 calibration and tests, where a representative spread of
pixel statistics matters more than realism of each confounder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError


@dataclass(frozen=True)
class SkyFrame:
    """``image``: uint8 ``[H,W]``; ``meteor``: whether a streak was drawn; ``segment``: its ``(x0, y0, x1, y1)``
    in pixels (NaN without a meteor)."""

    image: npt.NDArray[np.uint8]
    meteor: bool
    segment: tuple[float, float, float, float]


def night_sky(
    n: int, size: tuple[int, int] = (720, 1280), *, seed: int = 0, meteor_fraction: float = 0.5
) -> list[SkyFrame]:
    """``n`` frames of ``size = (height, width)``."""
    import cv2

    if n < 0 or min(size) < 8:
        raise InputError(f"night_sky: expected n >= 0 and a size of at least 8x8, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames: list[SkyFrame] = []
    for _ in range(n):
        base = rng.uniform(8, 60)
        gx, gy = rng.uniform(-20, 20, 2)
        cx, cy = rng.uniform(0, w), rng.uniform(h * 0.6, h * 1.4)
        glow = rng.uniform(0, 50) * np.exp(-(((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2) * rng.uniform(1, 4))
        sky = base + gx * (xx / w - 0.5) + gy * (yy / h - 0.5) + glow
        # Stars: counts rise steeply towards faint magnitudes (limit ~9); flux 10^(-0.4 m), magnitude 2 saturates.
        stars = np.zeros((h, w), np.float32)
        count = int(rng.uniform(0.2, 1.0) * h * w / 2000)
        mags = np.maximum(9 - rng.exponential(1.2, count), 1)
        flux = 20000 * 10 ** (-0.4 * (mags - 2))
        np.add.at(stars, (rng.integers(0, h, count), rng.integers(0, w, count)), flux.astype(np.float32))
        img = sky + cv2.GaussianBlur(stars, (0, 0), rng.uniform(0.7, 1.5))
        meteor = bool(rng.random() < meteor_fraction)
        segment = (float("nan"),) * 4
        if meteor:
            length = rng.uniform(0.05, 0.5) * min(h, w)
            angle = rng.uniform(0, np.pi)
            x0, y0 = rng.uniform(0.1 * w, 0.9 * w), rng.uniform(0.1 * h, 0.9 * h)
            x1 = float(np.clip(x0 + length * np.cos(angle), 0, w - 1))
            y1 = float(np.clip(y0 + length * np.sin(angle), 0, h - 1))
            streak = np.zeros((h, w), np.float32)
            steps = max(int(np.hypot(x1 - x0, y1 - y0)), 2)
            t = np.linspace(0, 1, steps)
            light = rng.uniform(15, 200) * np.sin(np.pi * t) ** rng.uniform(0.5, 2)
            np.add.at(
                streak, (np.round(y0 + t * (y1 - y0)).astype(int), np.round(x0 + t * (x1 - x0)).astype(int)), light
            )
            img = img + cv2.GaussianBlur(streak, (0, 0), rng.uniform(0.6, 1.6))
            segment = (float(x0), float(y0), x1, y1)
        gain = rng.uniform(0.5, 2.0)
        noisy = img + rng.standard_normal((h, w)).astype(np.float32) * np.sqrt(
            np.maximum(img, 0) / gain + rng.uniform(1, 9)
        )
        frames.append(SkyFrame(np.clip(noisy, 0, 255).astype(np.uint8), meteor, segment))
    return frames
