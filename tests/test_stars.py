"""The star-shape veto for stills (meteorfast.analysis.stars): frames drawn here with OpenCV, the shipped detector."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteorfast.analysis.stars import frame_stars, object_at
from meteorfast.detector import Detector
from meteorfast.errors import InputError
from meteorfast.judges import Verdict, View
from meteorfast.judges.stars import StarRule, StarVeto, vetoed_probability
from meteorfast.results import Item

H, W = 540, 960


def _stars_smeared(xs: np.ndarray, ys: np.ndarray, amp: np.ndarray, smear_px: float, angle_deg: float) -> np.ndarray:
    """A float32 [H, W] image of Gaussian stars (sigma 1.2 px) at ``(xs, ys)`` of peaks ``amp``, all smeared along
    ``angle_deg`` by a line of ``smear_px`` (as a shaken camera smears them)."""
    img = np.zeros((H, W), np.float32)
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
        img = np.asarray(cv2.filter2D(img, -1, kernel / kernel.sum()), np.float32)
    return img


def _sky(seed: int, smear_px: float, angle_deg: float) -> tuple[np.ndarray, tuple[float, float]]:
    """A uint8 still: 120 Gaussian stars on a noisy sky, all smeared along ``angle_deg`` by a line of
    ``smear_px`` (as a shaken camera smears them), a few hot pixels, and the brightest star's position."""
    rng = np.random.default_rng(seed)
    ys = rng.uniform(40, H - 40, 120)
    xs = rng.uniform(40, W - 40, 120)
    amp = rng.uniform(20, 90, 120)
    amp[0] = 160.0
    img = _stars_smeared(xs, ys, amp, smear_px, angle_deg)
    img += 30 + rng.normal(0, 2.0, img.shape).astype(np.float32)
    hot = rng.integers(0, [H, W], (200, 2))
    img[hot[:, 0], hot[:, 1]] = 200  # single pixels, brighter than any smeared star
    return np.clip(img, 0, 255).astype(np.uint8), (float(xs[0]), float(ys[0]))


def _spaced_sky(seed: int, smear_px: float, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 still whose only objects are stars smeared alike: 112 of them on a 60 px grid jittered by up to
    12 px (so no two merge into one longer object), peaks 40-90 DN and one of 160 over a sky of 30 with noise sigma
    2; and the stars' positions (float [112, 2], x and y)."""
    rng = np.random.default_rng(seed)
    gy, gx = np.mgrid[70 : H - 40 : 60, 70 : W - 40 : 60]
    xs = gx.ravel() + rng.uniform(-12, 12, gx.size)
    ys = gy.ravel() + rng.uniform(-12, 12, gy.size)
    amp = rng.uniform(40, 90, xs.size)
    amp[rng.integers(xs.size)] = 160.0
    img = _stars_smeared(xs, ys, amp, smear_px, angle_deg)
    img += 30 + rng.normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), np.stack([xs, ys], axis=1)


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


def test_the_star_judge_turns_down_a_detection_on_a_smeared_star() -> None:
    img, (bx, by) = _sky(4, 14.0, 45.0)
    judge = StarVeto(True, threshold=0.5)
    view = View(_item(img), *(np.zeros(2, np.float32) for _ in range(4)))
    on_star, on_sky, quiet = (Verdict(p, p, x, float(by)) for p, x in ((0.9, bx), (0.9, bx + 200), (0.3, bx)))
    out = judge.judge_all([view] * 3, [on_star, on_sky, quiet])
    assert out[0].score == pytest.approx(0.25)  # the star: half of min(prob, threshold)
    assert out[0].decided_by == "star_veto"
    assert out[0].prob == pytest.approx(0.9)  # the model's probability is kept
    assert out[1] == on_sky  # 200 px off it, on the sky
    assert out[2] == quiet  # under the threshold already: not judged


def _off_segment(x: float, y: float, p0: tuple[int, int], p1: tuple[int, int]) -> float:
    """Distance (px) of ``(x, y)`` from the segment ``p0``-``p1``."""
    a, b, p = np.array(p0, float), np.array(p1, float), np.array([x, y])
    t = float(np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0))
    return float(np.hypot(*(p - a - t * (b - a))))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), smear=st.floats(10.0, 20.0), angle=st.floats(0.0, 180.0),
       across=st.booleans())  # fmt: skip
def test_the_detector_turns_down_a_star_smeared_like_the_rest_and_keeps_a_streak(
    spot_model: Path, seed: int, smear: float, angle: float, across: bool
) -> None:
    """End to end on the spot model (which locates the brightest light), every frame a detection (threshold
    1e-9): in a still whose only objects are stars all smeared alike, the located point lies on a star and the
    star veto turns the detection down, while without the veto it is kept at the same point with the same
    probability; a 200 px streak drawn into that frame, across the smear or along it but ten times a star's
    length, is located on the streak and kept with the veto on."""
    img, stars = _spaced_sky(seed, smear, angle)
    opts: dict[str, Any] = {"threshold": 1e-9, "rescue": False, "satellite_veto": False}
    with Detector(spot_model, star_veto=True, **opts) as on, Detector(spot_model, star_veto=False, **opts) as off:
        vetoed, kept = on.classify([img], stills=True), off.classify([img], stills=True)
        assert on.times.items["star_veto"] == 1
        assert off.times.items.get("star_veto", 0) == 0
        t = math.radians(angle + (90.0 if across else 0.0))
        p0 = (round(480 - 100 * math.cos(t)), round(270 - 100 * math.sin(t)))
        p1 = (round(480 + 100 * math.cos(t)), round(270 + 100 * math.sin(t)))
        streak = on.classify([_streak(img, p0, p1)], stills=True)
    x, y = float(vetoed.x[0]), float(vetoed.y[0])
    assert np.hypot(*(stars - [x, y]).T).min() < smear  # on a star's smear
    assert not vetoed.is_meteor[0]
    assert vetoed.score[0] < 1e-9
    assert vetoed.decided_by[0] == "star_veto"
    assert kept.is_meteor[0]
    assert kept.prob[0] > 0.1
    assert (float(kept.x[0]), float(kept.y[0])) == (x, y)
    assert _off_segment(float(streak.x[0]), float(streak.y[0]), p0, p1) < 3.0
    assert streak.is_meteor[0]
    assert streak.prob[0] > 0.1


def test_the_star_veto_is_for_stills() -> None:
    still = _item(np.zeros((8, 8), np.uint8))
    cases = ((Detector(star_veto="auto"), True), (Detector(mode="stack", star_veto="auto"), False), (Detector(), False))
    for det, judged in cases:
        with det:
            assert any(j.name == "star_veto" and j.applies(still) for j in det.judges) == judged
    with pytest.raises(InputError, match="star_veto"):
        Detector(star_veto="yes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="star_veto"):
        Detector(mode="stack", star_veto=True)
