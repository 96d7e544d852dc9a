"""benchmarks/eval_real.py, run as a program on MeteorFinder-style frames drawn here: a point inside a burned-in box
(widened by a margin) is counted inside it; outside, it is measured from the box and from the line of the meteor
inside the box, which runs on beyond the box. And the margin of ``BoxedFrame.holds``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

H, W = 448, 896
# name: (the meteor inside the box or None, the box drawn around it, another meteor outside the box or None)
Segment = tuple[int, int, int, int]
FRAMES: dict[str, tuple[Segment | None, Segment, Segment | None]] = {
    # a long meteor the box encloses only a stretch of: the point lands on it far beyond the box
    "a.JPG": ((60, 60, 840, 400), (640, 280, 760, 380), None),
    # a meteor wholly inside its box
    "b.JPG": ((420, 200, 520, 250), (380, 170, 560, 280), None),
    # a faint meteor in the box and a brighter one elsewhere, off its line
    "c.JPG": ((420, 200, 480, 230), (380, 170, 520, 260), (100, 400, 300, 300)),
    # an empty box (a meteor the inpainting took away with it) and a meteor elsewhere: no line to measure from
    "d.JPG": (None, (380, 170, 520, 260), (100, 400, 300, 300)),
}


def _line_distance(seg: Segment, x: float, y: float) -> float:
    x0, y0, x1, y1 = seg
    return abs((x - x0) * (y1 - y0) - (y - y0) * (x1 - x0)) / float(np.hypot(x1 - x0, y1 - y0))


@pytest.fixture(scope="module")
def report(run_benchmark: Callable[..., dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("meteorfinder")
    rng = np.random.default_rng(3)
    for name, (meteor, box, other) in FRAMES.items():
        sky = np.clip(rng.normal(20, 2, (H, W)), 0, 255).astype(np.uint8)
        if meteor is not None:
            cv2.line(sky, meteor[:2], meteor[2:], 70 if other else 110, 2, cv2.LINE_AA)
        if other is not None:
            cv2.line(sky, other[:2], other[2:], 120, 2, cv2.LINE_AA)
        cv2.rectangle(sky, box[:2], box[2:], 255, 3)  # the burned-in box, inpainted by the loader
        cv2.imwrite(str(folder / name), sky, [cv2.IMWRITE_JPEG_QUALITY, 95])
    # Threshold 0: every frame counts as detected, wherever its point lands.
    return run_benchmark("eval_real", "--meteorfinder", str(folder), "--no-gmn", "--threshold", "0")


def test_points_are_counted_in_their_box_or_measured_from_it_and_from_its_meteors_line(report: dict[str, Any]) -> None:
    assert "gmn_frames" not in report
    mf = report["meteorfinder"]
    assert (mf["frames"], mf["detected"]) == (4, 4)
    assert mf["located_inside_box"] == 1  # b
    rows = {r["frame"]: r for r in mf["outside_box"]}
    assert sorted(rows) == ["a.JPG", "c.JPG", "d.JPG"]
    for name, row in rows.items():
        meteor, drawn, other = FRAMES[name]
        x, y = row["point"]
        on = other if other is not None else meteor
        assert on is not None
        assert _line_distance(on, x, y) < 3  # the point lies on a meteor outside the box
        assert np.abs(np.subtract(row["box"], drawn)).max() <= 3  # the box found where it was drawn
        x0, y0, x1, y1 = row["box"]
        assert row["from_box_px"] == pytest.approx(np.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)), abs=1)
        assert row["from_box_px"] > 100
        # The boxed meteor's line, fitted inside the box, extends beyond it: on it for a, far off it for c.
        if meteor is None:
            assert row["from_streak_line_px"] is None
        else:
            assert row["from_streak_line_px"] == pytest.approx(_line_distance(meteor, x, y), abs=1.5)
    assert rows["a.JPG"]["from_streak_line_px"] < 2
    assert rows["c.JPG"]["from_streak_line_px"] > 200


def test_a_boxed_frame_holds_points_in_its_boxes_widened_by_the_margin() -> None:
    from meteorfast.datasets import BoxedFrame

    frame = BoxedFrame(Path("x.jpg"), np.zeros((10, 10), np.uint8), [(100, 50, 140, 60), (300, 300, 310, 320)])
    assert frame.holds(120.0, 55.0)
    assert frame.holds(92.0, 68.0)  # 8 px out on both axes: the corner of the widened box
    assert not frame.holds(91.9, 55.0)
    assert not frame.holds(120.0, 68.1)
    assert frame.holds(305.0, 321.0)  # the second box
    assert not frame.holds(92.0, 68.0, margin=0.0)
