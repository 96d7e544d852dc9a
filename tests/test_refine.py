"""Sub-cell refinement of a located point on the frame itself."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from meteorfast.cam.refine import refine_points
from meteorfast.errors import InputError
from meteorfast.evaluate import point_to_segment


def scene(seed: int, segment: tuple[float, float, float, float], star: tuple[int, int] | None) -> np.ndarray:
    """A noisy 720p sky with a 2 px wide streak on ``segment`` (frame coordinates) and an optional bright star."""
    rng = np.random.default_rng(seed)
    img = rng.normal(30, 4, (720, 1280)).astype(np.float32)
    streak = np.zeros_like(img)
    x0, y0, x1, y1 = (round((v - 0.5) * 16) for v in segment)  # cv2 draws pixel centres at integers
    cv2.line(streak, (x0, y0), (x1, y1), 1.0, 1, cv2.LINE_AA, 4)
    img += cv2.GaussianBlur(streak, (0, 0), 1.0) * 60
    if star is not None:  # four times the streak's peak, but a point
        dot = np.zeros_like(img)
        dot[star[1], star[0]] = 1.0
        img += cv2.GaussianBlur(dot, (0, 0), 1.0) / 0.159 * 100
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_refined_point_lands_on_the_streak_not_the_star(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cx, cy = rng.uniform(100, 1180), rng.uniform(100, 620)
    angle = rng.uniform(0, np.pi)
    seg = (cx - 15 * np.cos(angle), cy - 15 * np.sin(angle), cx + 15 * np.cos(angle), cy + 15 * np.sin(angle))
    star = (int(cx + 9), int(cy - 6))
    frame = scene(seed, seg, star)
    cell = (1280 / 112, 720 / 112)  # a stride-2 stem at 224 px on a 720p frame
    # The coarse point: 8 px off the streak, as the first-layer map's cell leaves it.
    ux, uy = cx + 8 * np.sin(angle), cy - 8 * np.cos(angle)
    x, y = refine_points([frame], [ux], [uy], cell)
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.0


def test_colour_uint16_and_batches() -> None:
    seg = (600.5, 300.5, 640.5, 330.5)
    grey = scene(1, seg, None)
    colour = np.repeat(grey[..., None], 3, axis=2)
    deep = grey.astype(np.uint16) * 257
    cell = np.array([[11.4, 6.4]] * 3)
    x, y = refine_points([grey, colour, deep], [615.0] * 3, [322.0] * 3, cell)
    assert x.dtype == np.float32
    assert np.allclose(x, x[0])
    assert np.allclose(y, y[0])
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.0


def test_flat_window_nan_point_and_edges_keep_the_point() -> None:
    flat = np.full((100, 200), 40, np.uint8)
    x, y = refine_points([flat, flat, flat], [50.0, np.nan, -500.0], [20.0, 10.0, 10.0], (10.0, 10.0))
    assert x[0] == 50.0
    assert y[0] == 20.0
    assert np.isnan(x[1])
    assert x[2] == -500.0  # its window lies outside the frame: nothing to look at


def test_bad_arguments() -> None:
    frame = np.zeros((50, 50), np.uint8)
    with pytest.raises(InputError, match=r"x and y of shape \(1,\)"):
        refine_points([frame], [1.0, 2.0], [1.0], (4.0, 4.0))
    with pytest.raises(InputError, match="positive finite cell"):
        refine_points([frame], [1.0], [1.0], (0.0, 4.0))
    with pytest.raises(InputError, match=r"frame \[H,W\]"):
        refine_points([np.zeros((2, 50, 50, 2))], [1.0], [1.0], (4.0, 4.0))
