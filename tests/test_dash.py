"""meteorfast.analysis.dash: on drawn frames, the satellite model explains an even dash (with or without a broad flare)
better than any meteor, a meteor's rise and fall is explained better by the meteor model, and a long streak is left
alone; the Detector's satellite veto turns down the dash and keeps the meteor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from meteorfast.analysis import dash
from meteorfast.analysis.dash import Fit, fit_at
from meteorfast.errors import InputError
from meteorfast.judges.satellite import DashRule, vetoed_probability

Streak = Callable[[np.ndarray, float, float, float, float, np.ndarray], None]  # the add_streak fixture
H, W = 360, 640
ANGLE = np.deg2rad(25)


def _frame(draw: Streak, light: np.ndarray, length: float, seed: int, shape: tuple[int, int] = (H, W),
           start: tuple[float, float] = (200.0, 150.0)) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """A noisy sky (sigma 3) with a streak drawn by ``draw`` (the add_streak fixture), ``length`` px at ``ANGLE``
    from ``start``, whose brightness follows ``light``; and the streak's middle (frame coordinates)."""
    img = (20 + np.random.default_rng(seed).normal(0, 3, shape)).astype(np.float32)
    draw(img, start[0], start[1], ANGLE, length, light)
    mid = np.array(start) + np.array([np.cos(ANGLE), np.sin(ANGLE)]) * length / 2 + 0.5
    return img, float(mid[0]), float(mid[1])


def test_an_even_dash_is_a_satellite_and_its_length_is_walked(add_streak: Streak) -> None:
    img, x, y = _frame(add_streak, np.full(50, 30.0), 50, 1)
    fit = fit_at(img, x, y)
    assert fit is not None
    assert fit.delta is not None
    assert abs(fit.length - 50) <= 6
    assert fit.delta >= 25
    assert DashRule(100, 25, float("inf")).vetoes(fit)
    assert not DashRule(40, 25, float("inf")).vetoes(fit)  # longer than the rule's dashes
    shorter_only = fit_at(img, x, y, 40)  # as the detector asks: no fit beyond the rule's length
    assert shorter_only is not None
    assert shorter_only.length == fit.length
    assert shorter_only.delta is None


def test_a_flaring_dash_is_still_a_satellite(add_streak: Streak) -> None:
    u = (np.arange(50) + 0.5) / 50
    img, x, y = _frame(add_streak, 30.0 * (1 + 4 * np.exp(-0.5 * ((u - 0.4) / 0.08) ** 2)), 50, 2)
    fit = fit_at(img, x, y)
    assert fit is not None
    assert fit.delta is not None
    assert fit.delta >= 10


@pytest.mark.parametrize("k", [0.7, 1.5])
def test_a_meteors_rise_and_fall_is_a_meteor(k: float, add_streak: Streak) -> None:
    u = (np.arange(50) + 0.5) / 50
    img, x, y = _frame(add_streak, 60.0 * np.sin(np.pi * u) ** k, 50, 3)
    fit = fit_at(img, x, y)
    assert fit is not None
    assert fit.delta is not None
    assert fit.delta <= -25
    assert not DashRule(100, 0, float("inf")).vetoes(fit)


def test_a_long_streak_and_an_empty_sky_are_left_alone(add_streak: Streak) -> None:
    img, x, y = _frame(add_streak, np.full(300, 12.0), 300, 4)
    fit = fit_at(img, x, y)
    assert fit is not None
    assert fit.length > dash.MAX_FIT_PX
    assert fit.delta is None
    assert not DashRule(10_000, -1e9, float("inf")).vetoes(fit)
    sky, _, _ = _frame(add_streak, np.zeros(10), 10, 5)
    assert fit_at(sky, 320.0, 60.0) is None


def test_the_rule_leaves_alone_what_neither_model_explains() -> None:
    fit = Fit(length=50, n=100, chi2_satellite=300.0, chi2_meteor=400.0)
    assert fit.delta == 100.0
    assert DashRule(100, 25, 3.0).vetoes(fit)
    assert not DashRule(100, 25, 2.0).vetoes(fit)  # 3 a sample: the satellite does not explain the light either
    assert not DashRule(100, 150, 3.0).vetoes(fit)
    assert not DashRule(49, 25, 3.0).vetoes(fit)


def test_the_default_rule_and_the_vetoed_probability() -> None:
    assert DashRule() == DashRule(100, 10.0, 2.0)  # as chosen on seeds 2026 and 4242 (benchmarks/RESULTS.md)
    assert vetoed_probability(0.99, 0.78, 10.0) == pytest.approx(0.78 * np.exp(-5))
    assert vetoed_probability(0.5, 0.78, 30.0) < vetoed_probability(0.5, 0.78, 10.0) < 0.78


def _dash_and_meteor(draw: Streak) -> list[np.ndarray]:
    """Two 720p uint8 frames: a 60 px even dash, and a 60 px meteor's rise and fall."""
    u = (np.arange(60) + 0.5) / 60
    return [_frame(draw, light, 60, seed, (720, 1280), (600.0, 330.0))[0].astype(np.uint8)
            for light, seed in ((np.full(60, 30.0), 6), (60.0 * np.sin(np.pi * u) ** 1.2, 7))]  # fmt: skip


def test_the_detectors_veto_turns_down_a_dash_and_keeps_a_meteor(add_streak: Streak) -> None:
    from meteorfast.detector import Detector

    frames = _dash_and_meteor(add_streak)
    # A threshold under every probability makes both frames detections, so the veto alone decides.
    with Detector(threshold=1e-9) as plain:
        kept = plain.classify(frames)
    with Detector(threshold=1e-9, satellite_veto=True) as vetoing:
        judged = vetoing.classify(frames)
        assert vetoing.times.items["satellite_veto"] == 2
    assert kept.is_meteor.all()
    assert not judged.is_meteor[0]  # the even dash
    assert judged.score[0] < 1e-9
    assert judged.decided_by[0] == "satellite_veto"
    assert judged.prob[0] == kept.prob[0]  # the model's probability stays what the model said
    assert judged.is_meteor[1]  # the meteor, at the probability the detector gave it
    assert judged.score[1] == kept.score[1]
    assert judged.decided_by[1] != "satellite_veto"
    np.testing.assert_array_equal(judged.x, kept.x)
    with Detector(threshold=1e-9, satellite_veto=True) as vetoing:  # a colour frame is judged on its grey
        colour = vetoing.classify([np.repeat(frames[0][..., None], 3, axis=2)])
    assert not colour.is_meteor[0]


def test_the_veto_is_for_stills() -> None:
    from meteorfast.detector import Detector

    with pytest.raises(InputError, match="stills"):
        Detector(mode="stack", satellite_veto=True)  # and the CLI: tests/test_rescue.py, for both stills stages
    from meteorfast.results import Item

    still = Item("s", 0, 0, 0, 0.0, 0.0, np.zeros((8, 8), np.uint8), np.zeros((1, 1, 8, 8), np.uint8),
                 np.zeros((1, 4), np.float32), still=True)  # fmt: skip
    # The default, "auto", judges a still in frame mode, and nothing in stack mode, where items are windows.
    for det, judged in ((Detector(), True), (Detector(mode="stack"), False), (Detector(satellite_veto=False), False)):
        with det:
            assert any(j.name == "satellite_veto" and j.applies(still) for j in det.judges) == judged
    with pytest.raises(InputError, match="True, False or 'auto'"):
        Detector(satellite_veto="yes")  # type: ignore[arg-type]


def test_the_automatic_veto_judges_stills_and_not_video_frames(add_streak: Streak, tmp_path: Path) -> None:
    import cv2

    from meteorfast.detector import Detector
    from meteorfast.stream.sources import ArraySource, ImageSource, open_source

    frames = _dash_and_meteor(add_streak)
    paths = []
    for i, f in enumerate(frames):
        paths.append(tmp_path / f"still{i}.png")
        cv2.imwrite(str(paths[-1]), f)
    assert open_source(str(tmp_path)).stills  # image files are stills; video files, cameras and arrays are not
    assert not ArraySource(frames).stills
    with Detector(threshold=1e-9) as det:  # the default, "auto"
        assert det.config.satellite_veto == "auto"
        video = det.classify(frames)
        assert det.times.items.get("satellite_veto", 0) == 0  # no frame judged
        stills = det.classify(frames, stills=True)
        assert det.times.items["satellite_veto"] == 2
        mixed = det.classify(frames, stills=[False, True])
        with pytest.raises(InputError, match="one stills flag per frame"):
            det.classify(frames, stills=[True])
        sources = [ImageSource(paths, source_id="photos"), ArraySource(frames, source_id="video"),
                   ImageSource(paths, source_id="exported", stills=False)]  # fmt: skip
        by_source = {r.source: r.is_meteor for r in det.stream(sources) if r.index == 0}
    assert video.is_meteor.all()
    assert not stills.is_meteor[0]  # the dash in a still is a satellite's
    assert stills.is_meteor[1]
    assert mixed.is_meteor.all()  # the dash as a video frame is kept
    assert by_source == {"photos": False, "video": True, "exported": True}


def test_eval_knows_its_stills_from_its_video_frames() -> None:
    from meteorfast.evaluate import synthetic_items
    from meteorfast.synth import SimConfig, sample

    items = synthetic_items(12, 5, (180, 320), video_fraction=0.5)
    frames = list(sample(12, 5, config=SimConfig(size=(180, 320)), video_fraction=0.5))
    exposures = {f.exposure_s for f in frames}
    assert exposures == {SimConfig().still_exposure, SimConfig().exposure}  # both kinds drawn
    assert [it.still for it in items] == [f.exposure_s == SimConfig().still_exposure for f in frames]
    assert not any(it.still for it in synthetic_items(2, 5, (180, 320), representation="stack"))


def test_the_fit_does_not_depend_on_the_pixels_scale_or_a_hair_of_noise() -> None:
    """An 8-bit still, its 16-bit copy (x 257) and a float copy hold the same light in noise units, so they get the
    same verdict; a millionth of a sigma more noise moves the fit by as little. (With hard-edged model samples the
    least squares stopped wherever their finite differences landed: this dash was once vetoed in 8 bits and kept in
    16.)"""
    import cv2

    img = (20 + np.random.default_rng(4).normal(0, 3, (120, 160))).clip(0, 255).astype(np.uint8)
    cv2.line(img, (100, 80), (110, 85), 230, 3)  # an even, bright dash
    fits = [fit_at(im, 105.5, 82.5) for im in (img, img.astype(np.uint16) * 257, img.astype(np.float32) * 3 + 7)]
    assert all(f is not None and f.delta is not None for f in fits)
    deltas = [f.delta for f in fits if f is not None and f.delta is not None]
    assert max(deltas) - min(deltas) < 0.01
    assert all(DashRule().vetoes(f) for f in fits)
    p = dash.profile_at(img, 105.5, 82.5)
    assert p is not None
    nudged = dash.Profile(p.light + np.random.default_rng(0).normal(0, 1e-6, p.light.shape), p.lo, p.hi)
    assert dash.chi2_satellite(nudged) == pytest.approx(dash.chi2_satellite(p), abs=0.01)
    assert dash.chi2_meteor(nudged) == pytest.approx(dash.chi2_meteor(p), abs=0.01)
