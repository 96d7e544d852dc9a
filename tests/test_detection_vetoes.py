"""benchmarks/detection_vetoes.py: on drawn frames, a trailed star's shape is found again at the frame's other stars
while a lone streak among point stars has no copy; a satellite's even dash reads flat and a meteor's rise and fall
does not."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

Load = Callable[[str], ModuleType]  # the benchmark_script fixture
Streak = Callable[[np.ndarray, float, float, float, float, np.ndarray], None]  # the add_streak fixture
H, W = 360, 640


def _sky(seed: int) -> np.ndarray:
    return (20 + np.random.default_rng(seed).normal(0, 3, (H, W))).astype(np.float32)


def test_a_trailed_stars_shape_repeats_and_a_lone_streaks_does_not(benchmark_script: Load, add_streak: Streak) -> None:
    script = benchmark_script("detection_vetoes")
    rng = np.random.default_rng(7)
    trailed = _sky(1)
    starts = rng.uniform([40, 40], [W - 60, H - 60], (40, 2))
    for (x, y), flux in zip(starts, rng.uniform(40, 80, 40), strict=True):
        add_streak(trailed, x, y, np.deg2rad(30), 14, np.full(14, flux))
    x0, y0 = starts[0]
    at = (x0 + 7 * np.cos(np.deg2rad(30)) + 0.5, y0 + 7 * np.sin(np.deg2rad(30)) + 0.5)
    found = script.copies_at(trailed, *at, radius=12)
    assert found is not None
    assert found.major >= 12
    assert found.count(0.9, 12) >= 20  # most of the other 39 stars

    # The same stars trailing every which way: only the few that happen to share the heading match.
    scattered = _sky(1)
    for (x, y), flux, heading in zip(starts, rng.uniform(40, 80, 40), rng.uniform(0, np.pi, 40), strict=True):
        add_streak(scattered, x, y, np.deg2rad(30) if (x, y) == (x0, y0) else heading, 14, np.full(14, flux))
    found = script.copies_at(scattered, *at, radius=12)
    assert found is not None
    assert found.count(0.9, 12) <= 10

    lone = _sky(2)
    stars = np.zeros((H, W), np.float32)
    for x, y in rng.uniform([10, 10], [W - 10, H - 10], (40, 2)).astype(int):
        stars[y, x] = rng.uniform(200, 400)
    lone += cv2.GaussianBlur(stars, (0, 0), 1.0)
    add_streak(lone, 200, 150, np.deg2rad(20), 60, np.full(60, 60.0))
    found = script.copies_at(lone, 200 + 30 * np.cos(np.deg2rad(20)) + 0.5, 150 + 30 * np.sin(np.deg2rad(20)) + 0.5,
                             radius=12)  # fmt: skip
    assert found is not None
    assert found.count(0.85, 12) == 0


def test_an_even_dash_reads_flat_and_a_rise_and_fall_does_not(benchmark_script: Load, add_streak: Streak) -> None:
    script = benchmark_script("detection_vetoes")
    u = (np.arange(40) + 0.5) / 40
    angle = np.deg2rad(-35)
    mid = (300 + 20 * np.cos(angle) + 0.5, 200 + 20 * np.sin(angle) + 0.5)
    dash = _sky(3)
    add_streak(dash, 300, 200, angle, 40, np.full(40, 40.0))
    meteor = _sky(3)
    add_streak(meteor, 300, 200, angle, 40, 60 * np.sin(np.pi * u))
    flat, peaked = script.flatness_at(dash, *mid), script.flatness_at(meteor, *mid)
    assert flat is not None
    assert peaked is not None
    assert 36 <= flat.length <= 50
    assert flat.flatness > 0.8
    assert peaked.flatness < 0.7
    assert script.flatness_at(_sky(4), *mid) is None  # no line there
