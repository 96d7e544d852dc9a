"""Whether a still's detection has the shape of the frame's stars: a star smeared with all the others.

In a long exposure a shaken camera, or a sky drifting across a fixed one, smears every star alike, and the brightest
of them then looks like a short even streak. A meteor's streak has its own direction and length. So this module
measures shapes by second moments of the light above 30 % of an object's own peak (after a 3x3 median, because the
brightest unsaturated peaks of many skies are hot pixels, single pixels that would make every sky's stars look
round; then a Gaussian of 1 px, less the sky's 15 px median):

- :func:`frame_stars`: the 60 brightest unsaturated peaks at least 6 sigma above the sky, away from the border and
  from the detection, each as an object that stays inside a 61 px box. Their median length along the major axis,
  median elongation (length over width), and how coherently their major axes point one way;
- :func:`object_at`: the object at a detection's point (its brightest pixel within 3 px, at least 3 sigma above the
  sky), in a 121 px box.

:class:`~meteorfast.judges.stars.StarRule` turns the two into a veto. Its defaults were chosen on simulated stills
and checked on held-out ones: it lets fewer shaken frames through, but also turns down meteors whose located point
lies on a trailed star (``benchmarks/RESULTS.md``), so the detector leaves it off unless asked
(``Detector(star_veto="auto")``). Like :mod:`meteorfast.analysis.dash` it is for stills only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.image import grey, to_uint8

F32 = npt.NDArray[np.float32]

LEVEL = 0.3  # an object is its light above this share of its own peak
STAR_SIGMA = 6.0  # star peaks at least this many noise sigmas above the sky
STARS = 60  # the brightest this many are measured
STAR_BOX = 30  # px: half a star's box; one touching its box is not a star's shape
OBJECT_BOX = 60  # px: half the detection's box
AWAY_PX = 60  # px: stars this close to the detection are left out (they may be the detection)
SATURATED = 240  # DN of the 8-bit frame: flat-topped peaks have no shape to measure
OBJECT_SIGMA = 3.0  # the detection's object must stand this many noise sigmas above the sky (the dash fit's LIT)


@dataclass(frozen=True)
class Shape:
    """One object's second moments: ``length`` and ``width`` (px, sqrt(12 lambda), the extent of an even bar),
    ``angle`` of the major axis (radians, in (-pi/2, pi/2]), and whether it reached its box's edge."""

    length: float
    width: float
    angle: float
    clipped: bool


@dataclass(frozen=True)
class StarField:
    """The frame's stars: median ``length`` (px) and ``elongation`` (length / width) of ``n`` measured stars, their
    mean major-axis ``angle`` (radians) and its ``coherence`` (0-1: 1 when all point one way)."""

    length: float
    elongation: float
    angle: float
    coherence: float
    n: int


def _prepared(image: npt.NDArray[Any]) -> tuple[F32, F32, float]:
    """``(frame, light, noise)``: the grey frame in 8-bit DN (float32 [H, W]), its light above the sky after a 3x3
    median and a 1 px Gaussian (float32 [H, W]), and that light's noise sigma (robust)."""
    import cv2

    image = np.asarray(image)
    g = np.asarray(grey(to_uint8(image)), np.float32)
    u8 = np.clip(g, 0, 255).astype(np.uint8)
    sky = cv2.blur(cv2.medianBlur(u8, 15), (15, 15)).astype(np.float32)
    light = cv2.GaussianBlur(cv2.medianBlur(u8, 3).astype(np.float32), (0, 0), 1.0) - sky
    noise = 1.4826 * float(np.median(np.abs(light - np.median(light)))) + 1e-3
    return g, light, noise


def _shape(light: F32, y: int, x: int, half: int) -> Shape | None:
    """The shape of the object holding pixel ``(y, x)`` of ``light`` (float32 [H, W]) above ``LEVEL`` of that pixel's
    value, within ``half`` px of it; None where that pixel is not above the sky or the object is under 3 px."""
    import cv2

    h, w = light.shape
    y0, y1, x0, x1 = max(y - half, 0), min(y + half + 1, h), max(x - half, 0), min(x + half + 1, w)
    if light[y, x] <= 0:  # a level at or under the sky would take the whole box for the object
        return None
    level = LEVEL * float(light[y, x])
    box = light[y0:y1, x0:x1]
    _, labels = cv2.connectedComponents((box > level).astype(np.uint8), connectivity=8)
    label = labels[y - y0, x - x0]
    if label == 0:
        return None
    ys, xs = np.nonzero(labels == label)
    if len(ys) < 3:
        return None
    wts = box[ys, xs] - level
    total = float(wts.sum())
    my, mx = float((wts * ys).sum()) / total, float((wts * xs).sum()) / total
    cyy = float((wts * (ys - my) ** 2).sum()) / total
    cxx = float((wts * (xs - mx) ** 2).sum()) / total
    cxy = float((wts * (ys - my) * (xs - mx)).sum()) / total
    tr, det = cxx + cyy, cxx * cyy - cxy**2
    major = tr / 2 + np.sqrt(max(tr * tr / 4 - det, 0.0))
    minor = max(tr - major, 0.0)
    clipped = bool(ys.min() == 0 or xs.min() == 0 or ys.max() == box.shape[0] - 1 or xs.max() == box.shape[1] - 1)
    return Shape(float(np.sqrt(12 * major)), float(np.sqrt(12 * minor)), float(0.5 * np.arctan2(2 * cxy, cxx - cyy)),
                 clipped)  # fmt: skip


def frame_stars(image: npt.NDArray[Any], x: float, y: float) -> StarField | None:
    """The stars of ``image`` (grey or colour, uint8 or uint16 [H, W(, C)]) away from the point ``(x, y)`` (frame
    pixels), or None where fewer than 5 can be measured."""
    g, light, noise = _prepared(image)
    return _stars(g, light, noise, x, y)


def _stars(g: F32, light: F32, noise: float, x: float, y: float) -> StarField | None:
    import cv2

    h, w = light.shape
    peaks = np.argwhere((light == cv2.dilate(light, np.ones((9, 9), np.uint8))) & (light > STAR_SIGMA * noise))
    py, px = peaks[:, 0], peaks[:, 1]
    keep = (py > STAR_BOX) & (py < h - STAR_BOX) & (px > STAR_BOX) & (px < w - STAR_BOX)
    keep &= np.hypot(px - x, py - y) > AWAY_PX
    keep &= g[py, px] < SATURATED
    peaks = peaks[keep]
    peaks = peaks[np.argsort(-light[peaks[:, 0], peaks[:, 1]], kind="stable")[:STARS]]
    shapes = [s for yy, xx in peaks if (s := _shape(light, int(yy), int(xx), STAR_BOX)) is not None and not s.clipped]
    if len(shapes) < 5:
        return None
    length = np.array([s.length for s in shapes])
    elong = length / np.maximum([s.width for s in shapes], 0.5)
    weight = np.clip(elong - 1, 0, None)  # a round star has no direction to vote with
    z = (np.exp(2j * np.array([s.angle for s in shapes])) * weight).sum()
    return StarField(float(np.median(length)), float(np.median(elong)), float(np.angle(z) / 2),
                     float(abs(z) / (weight.sum() + 1e-9)), len(shapes))  # fmt: skip


def object_at(image: npt.NDArray[Any], x: float, y: float) -> Shape | None:
    """The shape of the object at ``(x, y)`` (frame pixels) of ``image`` (as :func:`frame_stars`): the one holding
    the brightest pixel of ``light`` within 3 px of the point."""
    _, light, noise = _prepared(image)
    return _object(light, noise, x, y)


def _object(light: F32, noise: float, x: float, y: float) -> Shape | None:
    h, w = light.shape
    xi, yi = min(max(round(x), 0), w - 1), min(max(round(y), 0), h - 1)
    y0, x0 = max(yi - 3, 0), max(xi - 3, 0)
    near = light[y0 : yi + 4, x0 : xi + 4]
    dy, dx = np.unravel_index(int(np.argmax(near)), near.shape)
    if near[dy, dx] < OBJECT_SIGMA * noise:  # nothing there to have a shape
        return None
    return _shape(light, int(y0 + dy), int(x0 + dx), OBJECT_BOX)


def measure(image: npt.NDArray[Any], x: float, y: float) -> tuple[StarField | None, Shape | None]:
    """The frame's stars (as :func:`frame_stars`) and the object at ``(x, y)`` (as :func:`object_at`), from one
    preparation of ``image``."""
    g, light, noise = _prepared(image)
    return _stars(g, light, noise, x, y), _object(light, noise, x, y)
