"""benchmarks/dash_likelihood.py: on drawn frames, the satellite model explains an even dash (with or without a broad
flare) better than any meteor, a meteor's rise and fall is explained better by the meteor model, and a long streak is
left alone."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("scipy")  # the [test] extra has it; a bare install may not

Load = Callable[[str], ModuleType]  # the benchmark_script fixture
H, W = 360, 640
ANGLE = np.deg2rad(25)


@pytest.fixture(scope="module")
def script(benchmark_script: Load) -> ModuleType:
    return benchmark_script("dash_likelihood")


def _frame(light: np.ndarray, length: float, seed: int) -> tuple[np.ndarray, float, float]:
    """A noisy sky (sigma 3) with a streak of ``length`` px at ``ANGLE`` whose brightness follows ``light`` (one
    value per 1 px step), blurred by sigma 1 px; and the streak's middle (frame coordinates)."""
    img = (20 + np.random.default_rng(seed).normal(0, 3, (H, W))).astype(np.float32)
    x0, y0 = 200.0, 150.0
    d = np.array([np.cos(ANGLE), np.sin(ANGLE)])
    layer = np.zeros_like(img)
    for k, v in enumerate(light):
        a = np.array([x0, y0]) + d * length * k / len(light)
        b = np.array([x0, y0]) + d * length * (k + 1) / len(light)
        cv2.line(layer, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)), float(v), 1,
                 cv2.LINE_AA, 4)  # fmt: skip
    img += cv2.GaussianBlur(layer, (0, 0), 1.0) * 2.5
    mid = np.array([x0, y0]) + d * length / 2 + 0.5
    return img, float(mid[0]), float(mid[1])


def test_an_even_dash_is_a_satellite_and_its_length_is_walked(script: ModuleType) -> None:
    img, x, y = _frame(np.full(50, 30.0), 50, 1)
    fit = script.fit_at(img, x, y)
    assert fit is not None
    assert fit.delta is not None
    assert abs(fit.length - 50) <= 6
    assert fit.delta >= 25
    assert script.vetoes(fit, 100, 25)
    assert not script.vetoes(fit, 40, 25)  # longer than the rule's dashes


def test_a_flaring_dash_is_still_a_satellite(script: ModuleType) -> None:
    u = (np.arange(50) + 0.5) / 50
    img, x, y = _frame(30.0 * (1 + 4 * np.exp(-0.5 * ((u - 0.4) / 0.08) ** 2)), 50, 2)
    fit = script.fit_at(img, x, y)
    assert fit is not None
    assert fit.delta is not None
    assert fit.delta >= 10


@pytest.mark.parametrize("k", [0.7, 1.5])
def test_a_meteors_rise_and_fall_is_a_meteor(script: ModuleType, k: float) -> None:
    u = (np.arange(50) + 0.5) / 50
    img, x, y = _frame(60.0 * np.sin(np.pi * u) ** k, 50, 3)
    fit = script.fit_at(img, x, y)
    assert fit is not None
    assert fit.delta is not None
    assert fit.delta <= -25
    assert not script.vetoes(fit, 100, 0)


def test_a_long_streak_and_an_empty_sky_are_left_alone(script: ModuleType) -> None:
    img, x, y = _frame(np.full(300, 12.0), 300, 4)
    fit = script.fit_at(img, x, y)
    assert fit is not None
    assert fit.length > script.MAX_FIT_PX
    assert fit.delta is None
    assert not script.vetoes(fit, 10_000, -1e9)
    sky, _, _ = _frame(np.zeros(10), 10, 5)
    assert script.fit_at(sky, 320.0, 60.0) is None


def test_the_rule_leaves_alone_what_neither_model_explains(script: ModuleType) -> None:
    fit = script.Fit(length=50, n=100, chi2_satellite=300.0, chi2_meteor=400.0)
    assert fit.delta == 100.0
    assert script.vetoes(fit, 100, 25, 3.0)
    assert not script.vetoes(fit, 100, 25, 2.0)  # 3 a sample: the satellite does not explain the light either
    assert not script.vetoes(fit, 100, 150, 3.0)
    assert not script.vetoes(fit, 49, 25, 3.0)
