"""meteorfast.rescue and the proposal net's scan of any still: the windows cover the still, the scan of a still of
any size is the highest logit over its windows, a drawn faint meteor is taken back and an even dash is not (by
either net's cells, or by the second net at the detector's point), and the Detector takes back the stills it turns
down only where it is asked to."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from meteorfast.data import PROPOSAL_NET, SECOND_PROPOSAL_NET
from meteorfast.errors import InputError
from meteorfast.evaluate import point_to_segment
from meteorfast.propose import CELL, ProposalScanner, window_origins
from meteorfast.rescue import (
    SECOND_RULE,
    PointRule,
    Rescue,
    Rescuer,
    RescueRule,
    grey_uint8,
    rescued_probability,
    shipped_rescuer,
)

Streak = Callable[[np.ndarray, float, float, float, float, np.ndarray], None]  # the add_streak fixture
STILL = (720, 1280)


def _still(draw: Streak, light: np.ndarray, seed: int, shape: tuple[int, int] = STILL) -> np.ndarray:
    """A noisy 8-bit sky (20, sigma 3) with a 60 px streak from (600, 330) at 25 degrees, its light ``light``."""
    img = (20 + np.random.default_rng(seed).normal(0, 3, shape)).astype(np.float32)
    draw(img, 600.0, 330.0, np.deg2rad(25), 60, light)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


U = (np.arange(60) + 0.5) / 60
FAINT_METEOR = 20.0 * np.sin(np.pi * U) ** 1.2  # peak 6.7 sigma of the sky's noise
EVEN_DASH = np.full(60, 30.0)
STREAK = ((600.0, 330.0), (600.0 + 60 * np.cos(np.deg2rad(25)), 330.0 + 60 * np.sin(np.deg2rad(25))))


def _off_streak(x: float, y: float) -> float:
    (x0, y0), (x1, y1) = STREAK
    return point_to_segment(x, y, (x0, y0, x1, y1))


@pytest.fixture(scope="module")
def scanner() -> ProposalScanner:
    return ProposalScanner(PROPOSAL_NET, threads=1)


@pytest.mark.parametrize("shape", [(720, 1280), (1920, 2880), (1088, 1920), (752, 1296)])
def test_the_windows_cover_the_still_in_whole_cells_and_overlap(shape: tuple[int, int]) -> None:
    origins = window_origins(shape, STILL)
    covered = np.zeros(shape, np.int32)
    for y0, x0 in origins:
        assert y0 % CELL == 0
        assert x0 % CELL == 0
        assert 0 <= y0 <= shape[0] - 720
        assert 0 <= x0 <= shape[1] - 1280
        covered[y0 : y0 + 720, x0 : x0 + 1280] += 1
    assert covered.min() >= 1
    for axis, span in ((0, 720), (1, 1280)):  # consecutive windows overlap by 10 cells or more; the last is flush
        starts = sorted({o[axis] for o in origins})
        assert starts[0] == 0
        assert starts[-1] == shape[axis] - span
        assert all(b - a <= span - 10 * CELL for a, b in itertools.pairwise(starts))


def test_the_windows_refuse_a_still_smaller_than_one_or_not_in_whole_cells() -> None:
    with pytest.raises(InputError, match="at least the window"):
        window_origins((704, 1280), STILL)
    with pytest.raises(InputError, match="whole 16 px cells"):
        window_origins((730, 1280), STILL)


def test_the_scanner_refuses_a_net_without_a_fixed_input_in_whole_cells(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    for dims, name in (([1, 1, "h", "w"], "dynamic"), ([1, 1, 720, 1270], "ragged")):
        graph = helper.make_graph([helper.make_node("Identity", ["frames"], ["logits"])], name,
                                  [helper.make_tensor_value_info("frames", TensorProto.UINT8, dims)],
                                  [helper.make_tensor_value_info("logits", TensorProto.UINT8, dims)])  # fmt: skip
        path = tmp_path / f"{name}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
        with pytest.raises(InputError, match="fixed input"):
            ProposalScanner(path)


def test_a_still_of_the_nets_size_runs_whole_and_any_other_takes_the_best_window(scanner: ProposalScanner) -> None:
    rng = np.random.default_rng(11)
    still = (20 + rng.normal(0, 3, (760, 1300))).clip(0, 255).astype(np.uint8)
    logits = scanner.logits(still)
    assert logits.shape == (48, 82)  # ceil(760 / 16), ceil(1300 / 16)
    # The specification: reflect to whole cells (768 x 1312), run each window, keep each cell's highest logit.
    padded = np.pad(still, ((0, 8), (0, 12)), mode="reflect")
    expected = np.full((48, 82), -np.inf, np.float32)
    for y0, x0 in window_origins(padded.shape, STILL):
        part = scanner.logits(np.ascontiguousarray(padded[y0 : y0 + 720, x0 : x0 + 1280]))
        assert part.shape == (45, 80)  # a window runs whole
        r0, c0 = y0 // CELL, x0 // CELL
        expected[r0 : r0 + 45, c0 : c0 + 80] = np.maximum(expected[r0 : r0 + 45, c0 : c0 + 80], part)
    np.testing.assert_array_equal(logits, expected)
    small = scanner.logits(still[:400, :600])  # smaller than a window: reflected out to one
    whole = scanner.logits(np.pad(still[:400, :600], ((0, 320), (0, 680)), mode="reflect"))
    np.testing.assert_array_equal(small, whole[:25, :38])


def test_a_faint_meteor_is_taken_back_on_its_streak_and_an_even_dash_is_not(add_streak: Streak) -> None:
    rescuer = Rescuer(PROPOSAL_NET, threads=1)
    try:
        found = rescuer(_still(add_streak, FAINT_METEOR, 7))
        assert isinstance(found, Rescue)
        assert found.logit >= 2.0
        assert found.delta <= 0.0
        assert _off_streak(found.x, found.y) <= 3.0
        assert rescuer(_still(add_streak, EVEN_DASH, 6)) is None
        assert rescuer(_still(add_streak, np.zeros(60), 8)) is None  # an empty sky
        # 16-bit and colour copies of the still are the same still to the net
        still = _still(add_streak, FAINT_METEOR, 7)
        assert rescuer(still.astype(np.uint16) * 257) == found
        assert rescuer(np.repeat(still[..., None], 3, axis=2)) == found
    finally:
        rescuer.close()


def test_the_second_net_and_the_point_rule_take_what_the_first_does_not(add_streak: Streak) -> None:
    meteor = _still(add_streak, FAINT_METEOR, 7)
    dash = _still(add_streak, EVEN_DASH, 6)
    sky = _still(add_streak, np.zeros(60), 8)
    mid = (627.0, 343.0, 0.5)  # the streak's middle, where the detector would have located it, and its probability
    never = RescueRule(min_logit=1e9)  # a stage that takes nothing, so that the next one decides
    shipped = shipped_rescuer(threads=1)
    second = Rescuer(PROPOSAL_NET, never, threads=1, second=SECOND_PROPOSAL_NET)
    point = Rescuer(PROPOSAL_NET, never, threads=1, second=SECOND_PROPOSAL_NET, second_rule=never)
    try:
        first = shipped(meteor, mid)
        assert first is not None
        assert first.stage == "first"
        assert first.bar == RescueRule().min_logit
        found = second(meteor, mid)
        assert found is not None
        assert found.stage == "second"
        assert found.logit >= found.bar == SECOND_RULE.min_logit
        assert found.delta is not None
        assert found.delta <= 0.0
        assert _off_streak(found.x, found.y) <= 3.0
        at = point(meteor, mid)
        assert at is not None
        assert at.stage == "point"
        assert at.delta is None
        assert (at.x, at.y) == mid[:2]  # the point stays where the detector put it
        assert at.logit >= at.bar == PointRule().min_logit
        assert point(meteor, (100.0, 100.0, 0.5)) is None  # the second net is sure of the streak, not of that corner
        assert point(meteor, (*mid[:2], 0.09)) is None  # the detector was too far from taking it
        assert point(meteor, (*mid[:2], 0.1)) is not None
        assert point(meteor) is None  # no point, no point rule
        for still in (dash, sky):  # the second net is far from sure of an even dash or an empty sky anywhere
            assert shipped(still, mid) is None
            assert second(still, mid) is None
            assert point(still, mid) is None
    finally:
        for rescuer in (shipped, second, point):
            rescuer.close()


def test_the_point_rule_reads_the_cells_around_the_point() -> None:
    assert PointRule() == PointRule(3.0, 1, 0.1)  # as fixed before its fresh read (benchmarks/RESULTS.md, stop 49)
    assert RescueRule(4.0, 0.0, 3, 7) == SECOND_RULE
    logits = np.full((45, 80), -5.0, np.float32)
    logits[10, 20] = 3.5  # the cell of pixels x 320-335, y 160-175
    rule = PointRule()
    assert rule.reach(logits, 328.0, 168.0) == 3.5
    assert rule.reach(logits, 343.0, 183.0) == 3.5  # the next cell on both axes: within one
    assert rule.reach(logits, 352.0, 168.0) == -5.0  # two cells off
    assert PointRule(radius=2).reach(logits, 352.0, 168.0) == 3.5
    assert PointRule(radius=0).reach(logits, 343.0, 168.0) == -5.0
    assert rule.reach(logits, -50.0, 5000.0) == -5.0  # clamped into the map, not an error
    assert rule.reach(logits, float("nan"), 168.0) == float("-inf")
    with pytest.raises(InputError, match="radius >= 0"):
        PointRule(radius=-1)
    with pytest.raises(InputError, match="finite min_logit"):
        PointRule(min_logit=float("inf"))
    with pytest.raises(InputError, match="min_probability in"):
        PointRule(min_probability=1.5)


def test_the_rule_and_the_rescued_probability() -> None:
    assert RescueRule() == RescueRule(2.0, 0.0, 3, 7)  # as chosen on seeds 2026 and 4242 (benchmarks/RESULTS.md)
    rule = RescueRule(2.0, 10.0)
    assert rule.takes(2.0, -10.0)
    assert not rule.takes(1.99, -100.0)  # the net is not sure enough
    assert not rule.takes(5.0, -9.9)  # the meteor does not beat the dash by enough
    assert not rule.takes(5.0, None)  # nothing walked, or too long to fit
    with pytest.raises(InputError, match="tau >= 0"):
        RescueRule(tau=-1.0)
    with pytest.raises(InputError, match="cells >= 1"):
        RescueRule(cells=0)
    assert rescued_probability(0.78, 2.0, 2.0) == pytest.approx(0.78)
    assert 0.78 <= rescued_probability(0.78, 5.0, -1000.0) <= 1.0  # no overflow at a far-off rule
    assert 0.78 < rescued_probability(0.78, 3.0, 2.0) < rescued_probability(0.78, 6.0, 2.0) < 1.0


def test_grey_uint8_takes_what_the_detector_takes() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    np.testing.assert_array_equal(grey_uint8(grey), grey)
    np.testing.assert_array_equal(grey_uint8(grey.astype(np.uint16) * 257), grey)
    np.testing.assert_array_equal(grey_uint8(np.repeat(grey[..., None], 4, axis=2)), grey)
    with pytest.raises(InputError, match="uint8 or uint16"):
        grey_uint8(grey.astype(np.float32))


def test_the_detector_takes_back_a_turned_down_still_only_where_asked(add_streak: Streak) -> None:
    from meteorfast.detector import Detector

    meteor = _still(add_streak, FAINT_METEOR, 7)
    # A threshold over any probability the detector gives makes it turn the meteor down, so the rescue alone decides.
    high = 1 - 1e-7
    with Detector(threshold=high, rescue=False) as plain:
        turned_down = plain.classify([meteor, meteor], stills=True)
    assert not turned_down.is_meteor.any()
    with Detector(threshold=high) as auto:
        res = auto.classify([meteor, meteor], stills=[True, False])  # a still, and a video frame
        assert auto.times.items["rescue"] == 1
    assert res.is_meteor.tolist() == [True, False]
    assert res.prob[0] >= high
    assert res.prob[1] == turned_down.prob[1]
    assert _off_streak(float(res.x[0]), float(res.y[0])) <= 3.0
    with Detector(threshold=high, rescue=True) as every:
        assert every.classify([meteor]).is_meteor.all()  # an array is no still, but True judges every frame
    with pytest.raises(InputError, match="rescue=False or 'auto' in mode 'stack'"):
        Detector(mode="stack", rescue=True)
    with pytest.raises(InputError, match="expected rescue True, False or 'auto'"):
        Detector(rescue="always")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flag", "name"), [("--rescue", "rescue"), ("--satellite-veto", "satellite_veto"), ("--star-veto", "star_veto")]
)
def test_the_cli_refuses_a_stills_stage_in_stack_mode(flag: str, name: str) -> None:
    # in one line on stderr, with exit code 2
    out = subprocess.run([sys.executable, "-m", "meteorfast.cli", "detect", "none.mp4", "--mode", "stack", flag],
                         capture_output=True, text=True, timeout=120,
                         cwd=tempfile.gettempdir())  # the installed package, not the source tree  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert f"{name}=False or 'auto' in mode 'stack'" in out.stderr
