"""benchmarks/eval_real.py's measures of a MeteorFinder point: inside its box (widened by a margin), and outside
it, the line of the meteor inside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

Load = Callable[[str], ModuleType]  # the benchmark_script fixture


def test_the_box_streak_line_runs_through_the_meteor_beyond_the_box(benchmark_script: Load) -> None:
    rng = np.random.default_rng(3)
    sky = np.clip(rng.normal(20, 2, (400, 600)), 0, 255).astype(np.uint8)
    cv2.line(sky, (40, 60), (560, 340), 90, 2)  # a meteor, slope 280/520
    box = (300, 180, 420, 280)  # encloses only its middle
    script = benchmark_script("eval_real")
    line = script.box_streak_line(sky, box)
    assert line is not None
    on_meteor = (100.0, 60 + 60 * 280 / 520)  # 200 px beyond the box, on the streak
    assert script.distance_to_line(line, *on_meteor) < 1.5
    assert script.distance_to_box(box, *on_meteor) == np.hypot(200, 180 - on_meteor[1])
    assert script.distance_to_box(box, 350.0, 200.0) == 0  # inside
    # A star off the streak: 107.7 px below it, so 107.7 * cos(atan(280 / 520)) from its line.
    assert abs(script.distance_to_line(line, 100.0, 200.0) - (200 - on_meteor[1]) * 520 / np.hypot(520, 280)) < 1.5
    empty = np.clip(rng.normal(20, 2, (400, 600)), 0, 255).astype(np.uint8)
    assert script.box_streak_line(empty, box) is None


def test_a_boxed_frame_holds_points_in_its_boxes_widened_by_the_margin() -> None:
    from meteorfast.datasets import BoxedFrame

    frame = BoxedFrame(Path("x.jpg"), np.zeros((10, 10), np.uint8), [(100, 50, 140, 60), (300, 300, 310, 320)])
    assert frame.holds(120.0, 55.0)
    assert frame.holds(92.0, 68.0)  # 8 px out on both axes: the corner of the widened box
    assert not frame.holds(91.9, 55.0)
    assert not frame.holds(120.0, 68.1)
    assert frame.holds(305.0, 321.0)  # the second box
    assert not frame.holds(92.0, 68.0, margin=0.0)
