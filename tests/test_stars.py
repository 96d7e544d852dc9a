"""The star-shape veto for stills (meteorfast.cam.stars): frames drawn here with OpenCV, the shipped detector."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from meteorfast.cam.stars import StarRule, frame_stars, object_at, vetoed_probability
from meteorfast.detector import Detector
from meteorfast.errors import InputError
from meteorfast.stream.pipeline import Item

H, W = 540, 960


def _sky(seed: int, smear_px: float, angle_deg: float) -> tuple[np.ndarray, tuple[float, float]]:
    """A uint8 still: 120 Gaussian stars on a noisy sky, all smeared along ``angle_deg`` by a line of
    ``smear_px`` (as a shaken camera smears them), a few hot pixels, and the brightest star's position."""
    rng = np.random.default_rng(seed)
    img = np.zeros((H, W), np.float32)
    ys = rng.uniform(40, H - 40, 120)
    xs = rng.uniform(40, W - 40, 120)
    amp = rng.uniform(20, 90, 120)
    amp[0] = 160.0
    yy, xx = np.mgrid[0:H, 0:W]
    for y, x, a in zip(ys, xs, amp, strict=True):
        y0, y1, x0, x1 = int(y) - 6, int(y) + 7, int(x) - 6, int(x) + 7
        img[y0:y1, x0:x1] += a * np.exp(-((yy[y0:y1, x0:x1] - y) ** 2 + (xx[y0:y1, x0:x1] - x) ** 2) / (2 * 1.2**2))
    if smear_px > 0:
        k = int(2 * math.ceil(smear_px) + 1)
        kernel = np.zeros((k, k), np.float32)
        c, t = k // 2, math.radians(angle_deg)
        d = (math.cos(t) * smear_px / 2, math.sin(t) * smear_px / 2)
        cv2.line(kernel, (round(c - d[0]), round(c - d[1])), (round(c + d[0]), round(c + d[1])), 1.0, 1)
        img = cv2.filter2D(img, -1, kernel / kernel.sum())
    img += 30 + rng.normal(0, 2.0, img.shape).astype(np.float32)
    hot = rng.integers(0, [H, W], (200, 2))
    img[hot[:, 0], hot[:, 1]] = 200  # single pixels, brighter than any smeared star
    return np.clip(img, 0, 255).astype(np.uint8), (float(xs[0]), float(ys[0]))


def _streak(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], level: int = 90) -> np.ndarray:
    out = img.copy()
    line = np.zeros_like(img)
    cv2.line(line, p0, p1, level, 2, cv2.LINE_AA)
    return np.clip(out.astype(np.int32) + cv2.GaussianBlur(line, (0, 0), 0.8), 0, 255).astype(np.uint8)


def test_smeared_stars_are_measured_past_the_hot_pixels() -> None:
    img, _ = _sky(1, 16.0, 30.0)
    stars = frame_stars(img, -1000.0, -1000.0)
    assert stars is not None
    assert stars.n >= 20
    assert stars.elongation > 3.0
    assert stars.coherence > 0.95
    # The stars' major axis: 30 degrees in image axes (x right, y down), as the kernel was drawn.
    assert abs(math.degrees(stars.angle) - 30.0) < 4.0
    assert 12.0 < stars.length < 24.0
    round_stars = frame_stars(_sky(1, 0.0, 0.0)[0], -1000.0, -1000.0)
    # Round stars, although 200 hot pixels outshine every one of them.
    assert round_stars is not None
    assert round_stars.elongation < 1.3
    assert round_stars.length < 6.0


def test_the_rule_turns_down_a_smeared_star_and_keeps_a_meteor() -> None:
    rule = StarRule()
    img, (bx, by) = _sky(2, 14.0, 120.0)
    assert rule.vetoes(img, bx, by)
    obj = object_at(img, bx, by)
    assert obj is not None
    assert abs(math.degrees(obj.angle) % 180 - 120.0) < 6.0
    # A meteor in the same shaken frame: across the smear, or along it but far longer than a star's smear.
    across = _streak(img, (200, 300), (330, 240))
    assert not rule.vetoes(across, 265.0, 270.0)
    along = _streak(img, (700, 100), (650, 187))
    assert not rule.vetoes(along, 675.0, 143.5)
    # The same star in a steady frame (round stars): nothing to match.
    steady, (sx, sy) = _sky(2, 0.0, 0.0)
    assert not rule.vetoes(steady, sx, sy)


def test_rule_bounds_and_probability() -> None:
    rule = StarRule()
    img, (bx, by) = _sky(3, 14.0, 60.0)
    stars, obj = frame_stars(img, bx, by), object_at(img, bx, by)
    assert rule.matches(stars, obj)
    assert not StarRule(min_elongation=50.0).matches(stars, obj)
    assert not StarRule(min_stars=10_000).matches(stars, obj)
    assert not StarRule(length_ratio=(3.0, 4.0)).matches(stars, obj)
    dark = np.full((200, 200), 30, np.uint8)
    dark[80:120, 80:120] = 10  # a patch under the sky (a roof): a point there has no object, not the whole box
    assert object_at(dark, 100.0, 100.0) is None
    assert not rule.matches(None, obj)
    assert not rule.matches(stars, None)
    assert vetoed_probability(0.9, 0.6) == pytest.approx(0.3)
    assert vetoed_probability(0.7, 0.8) < 0.8


def _item(img: np.ndarray) -> Item:
    return Item("s", 0, 0, 0, 0.0, 0.0, img, np.zeros((1, 1, 8, 8), np.uint8), np.zeros((1, 4), np.float32),
                still=True)  # fmt: skip


def test_the_detectors_stage_turns_down_a_smeared_star() -> None:
    img, (bx, by) = _sky(4, 14.0, 45.0)
    final = np.array([0.9, 0.9, 0.3], np.float32)
    px, py = np.array([bx, bx + 200, bx], np.float32), np.array([by, by, by], np.float32)
    with Detector(threshold=0.5, star_veto=True) as det:
        out = det._veto_stars([_item(img)] * 3, final, px, py, np.array([True, True, True]))
        assert det.times.items["stars"] == 2  # the two detections; the third is under the threshold already
    assert out[0] == pytest.approx(0.25)  # the star: half of min(prob, threshold)
    assert out[1] == pytest.approx(0.9)  # 200 px off it, on the sky
    assert out[2] == pytest.approx(0.3)
    # End to end, a detection in this frame is kept exactly where the rule does not match it.
    with Detector(threshold=1e-9, rescue=False, satellite_veto=False, star_veto=True) as det:
        res = det.classify([img], stills=True)
        assert det.times.items["stars"] == 1
    assert bool(res.is_meteor[0]) == (not StarRule().vetoes(img, float(res.x[0]), float(res.y[0])))


def test_the_star_veto_is_for_stills() -> None:
    still = _item(np.zeros((8, 8), np.uint8))
    cases = ((Detector(star_veto="auto"), True), (Detector(mode="stack", star_veto="auto"), False), (Detector(), False))
    for det, judged in cases:
        assert det._judged([still], det.star_veto).tolist() == [judged]
    with pytest.raises(InputError, match="star_veto"):
        Detector(star_veto="yes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="star_veto"):
        Detector(mode="stack", star_veto=True)
