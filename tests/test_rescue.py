"""meteorfast.judges.proposal and the proposal net's scan of any still: the windows cover the still, the scan of a
still of any size is the highest logit over its windows, a drawn faint meteor is taken back on its streak and an even
dash or an empty sky is not, the score never falls as the detector's probability rises and the bar decides on it, the
veto turns down a detection only where the net sees no streak at its point, and the Detector asks for this second
opinion only where told to."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from meteorfast.analysis.image import grey_uint8
from meteorfast.data import PROPOSAL_NET
from meteorfast.errors import InputError
from meteorfast.evaluate import point_to_segment
from meteorfast.judges.proposal import (
    Rescue,
    Rescuer,
    RescueRule,
    VetoRule,
    detector_logit,
    rescued_probability,
    vetoed_probability,
)
from meteorfast.odds import EPS
from meteorfast.proposals import CELL, ProposalScanner, window_origins

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


MID = (627.0, 343.0)  # the streak's middle, where the detector would have located it


@pytest.fixture(scope="module")
def rescuer() -> Iterator[Rescuer]:
    r = Rescuer(PROPOSAL_NET, threads=1)
    yield r
    r.close()


def test_a_faint_meteor_is_taken_back_on_its_streak_and_an_even_dash_is_not(
    add_streak: Streak, rescuer: Rescuer
) -> None:
    still = _still(add_streak, FAINT_METEOR, 7)
    found = rescuer(still, 0.05)
    assert isinstance(found, Rescue)
    assert found.score >= found.bar == RescueRule().bar
    assert found.delta is not None
    assert found.delta <= 0.0
    assert _off_streak(found.x, found.y) <= 3.0
    for prob in (0.0, 0.5, 0.99):  # however near the detector came, the net sees no streak in these
        assert rescuer(_still(add_streak, EVEN_DASH, 6), prob) is None
        assert rescuer(_still(add_streak, np.zeros(60), 8), prob) is None  # an empty sky
    # 16-bit and colour copies of the still are the same still to the net
    assert rescuer(still.astype(np.uint16) * 257, 0.05) == found
    assert rescuer(np.repeat(still[..., None], 3, axis=2), 0.05) == found


PROBS = (1e-12, 0.05, 0.3, 0.99)  # from a first look that saw nothing to one that all but accepted


def _rescue(still: np.ndarray, prob: float, rule: RescueRule) -> Rescue | None:
    r = Rescuer(PROPOSAL_NET, rule, threads=1)
    try:
        return r(still, prob)
    finally:
        r.close()


def test_the_rescue_takes_a_meteor_back_at_any_probability_and_an_empty_sky_under_no_bar(
    add_streak: Streak, rescuer: Rescuer
) -> None:
    meteor = _still(add_streak, FAINT_METEOR, 7)
    for prob in PROBS:  # however sure the first look was that there is nothing
        found = rescuer(meteor, prob)
        assert found is not None, prob
        assert _off_streak(found.x, found.y) <= 3.0
    empty = _still(add_streak, np.zeros(60), 8)
    for prob in (1e-12, 0.99):  # no cell of an empty sky reaches the floor: nowhere to put a point, under any bar
        assert _rescue(empty, prob, RescueRule(bar=-50.0)) is None


def test_a_higher_probability_never_lowers_the_score_nor_undoes_a_rescue(add_streak: Streak, rescuer: Rescuer) -> None:
    """Under a bar every score clears the rescue reports each still's score: it never falls as the detector's
    probability rises, and rises over the sweep (the detector's logit counts); the point does not depend on the
    probability. Under the default bar, a still taken back at one probability is taken back at every higher one, and
    the faint meteor, which the net alone does not carry, is taken back only from some probability on."""
    taken: dict[str, list[bool]] = {}
    for name, light, seed in (("meteor", FAINT_METEOR, 7), ("faint", 0.6 * FAINT_METEOR, 9)):
        still = _still(add_streak, light, seed)
        reported = [_rescue(still, p, RescueRule(bar=-50.0)) for p in PROBS]
        assert all(r is not None for r in reported), name
        scores = [r.score for r in reported if r is not None]
        assert all(b >= a for a, b in itertools.pairwise(scores)), (name, scores)
        assert scores[-1] > scores[0], (name, scores)
        assert len({(r.x, r.y) for r in reported if r is not None}) == 1, name
        taken[name] = [rescuer(still, p) is not None for p in PROBS]
        assert taken[name] == sorted(taken[name]), (name, taken[name])  # False..., then True...
    assert all(taken["meteor"])
    assert not taken["faint"][0]
    assert taken["faint"][-1]


def test_the_bar_decides_on_the_score_the_rescue_reports(add_streak: Streak) -> None:
    """The meteor's score, read under a bar every score clears, does not depend on the bar: bars at and under it take
    the still back with that score, bars over it do not; a fit that passes never lowers the score."""
    meteor = _still(add_streak, FAINT_METEOR, 7)
    prob = 0.05
    reported = _rescue(meteor, prob, RescueRule(bar=-50.0))
    assert reported is not None
    assert reported.delta is not None
    assert reported.delta <= 0.0  # a meteor's light curve
    score = reported.score
    for step in (-0.5, -0.01, 0.0, 0.01, 0.5):
        bar = score + step
        found = _rescue(meteor, prob, RescueRule(bar=bar))
        assert (found is not None) == (step <= 0.0), step
        if found is not None:
            assert found.bar == bar
            assert found.score == pytest.approx(score)
            assert (found.x, found.y) == (reported.x, reported.y)
    unfitted = _rescue(meteor, prob, RescueRule(bar=-50.0, fit_bonus=0.0))
    assert unfitted is not None
    assert unfitted.score < score


def test_the_veto_turns_down_a_detection_only_where_the_net_sees_no_streak_at_its_point(
    add_streak: Streak, rescuer: Rescuer
) -> None:
    meteor = _still(add_streak, FAINT_METEOR, 7)
    dash = _still(add_streak, EVEN_DASH, 6)
    for prob in (0.8, 0.9):  # unsure detections: the net decides
        assert not rescuer.vetoes(meteor, *MID, prob)
        assert rescuer.vetoes(meteor, 100.0, 100.0, prob)  # located in an empty corner of the same still
        assert rescuer.vetoes(dash, *MID, prob)
    for prob in (0.999, 1.0):  # sure ones: the detector's logit alone clears the bar
        assert not rescuer.vetoes(dash, *MID, prob)
    assert not rescuer.vetoes(dash, float("nan"), 343.0, 0.8)  # no point, no judgement
    assert rescuer.vetoes(dash.astype(np.uint16) * 257, *MID, 0.9)


def test_the_veto_reads_the_cells_around_the_point() -> None:
    logits = np.full((45, 80), -5.0, np.float32)
    logits[10, 20] = 3.5  # the cell of pixels x 320-335, y 160-175
    rule = VetoRule()
    assert rule.reach(logits, 328.0, 168.0) == 3.5
    assert rule.reach(logits, 343.0, 183.0) == 3.5  # the next cell on both axes: within one
    assert rule.reach(logits, 352.0, 168.0) == -5.0  # two cells off
    assert VetoRule(radius=2).reach(logits, 352.0, 168.0) == 3.5
    assert VetoRule(radius=0).reach(logits, 343.0, 168.0) == -5.0
    assert rule.reach(logits, -50.0, 5000.0) == -5.0  # clamped into the map, not an error
    assert rule.score(logits, 328.0, 168.0, 0.5) == pytest.approx(0.25 * 3.5)
    assert rule.score(logits, 352.0, 168.0, 0.9) == pytest.approx(np.log(9.0) - 1.25)


def test_the_rules_and_the_probabilities() -> None:
    # as fixed before their fresh read (benchmarks/RESULTS.md)
    assert RescueRule() == RescueRule(2.5, 0.25, 1.0, 0.5, 3, 7, (-10.0, 4.0))
    assert VetoRule() == VetoRule(1.5, 0.25, 1, (-10.0, 12.0))
    assert detector_logit(0.5, -10, 4) == 0.0
    assert detector_logit(0.9, -10, 4) == pytest.approx(np.log(9.0))
    assert detector_logit(1.0, -10, 4) == 4.0
    # 1 is read as 1 - EPS, as meteorfast.odds.logit reads every probability
    assert detector_logit(1.0, -10, 30) == pytest.approx(np.log((1 - EPS) / EPS), abs=1e-6)
    assert detector_logit(0.0, -10, 4) == -10.0
    with pytest.raises(InputError, match="low < high"):
        RescueRule(clip=(4.0, -10.0))
    with pytest.raises(InputError, match="finite rescue"):
        RescueRule(bar=float("nan"))
    with pytest.raises(InputError, match="cells >= 1"):
        RescueRule(cells=0)
    with pytest.raises(InputError, match="fit_bonus >= 0"):
        RescueRule(fit_bonus=-1.0)
    with pytest.raises(InputError, match="radius >= 0"):
        VetoRule(radius=-1)
    with pytest.raises(InputError, match="finite veto"):
        VetoRule(weight=float("inf"))
    assert rescued_probability(0.78, 2.5, 2.5) == pytest.approx(0.78)
    assert 0.78 <= rescued_probability(0.78, 5.0, -1000.0) <= 1.0  # no overflow at a far-off rule
    assert 0.78 < rescued_probability(0.78, 3.0, 2.5) < rescued_probability(0.78, 6.0, 2.5) < 1.0
    assert vetoed_probability(0.9, 0.78) == pytest.approx(0.39)


def test_grey_uint8_takes_what_the_detector_takes() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    np.testing.assert_array_equal(grey_uint8(grey), grey)
    np.testing.assert_array_equal(grey_uint8(grey.astype(np.uint16) * 257), grey)
    np.testing.assert_array_equal(grey_uint8(np.repeat(grey[..., None], 4, axis=2)), grey)
    with pytest.raises(InputError, match="uint8 or uint16"):
        grey_uint8(grey.astype(np.float32))


def test_the_detector_asks_for_a_second_opinion_on_stills_only_where_asked(add_streak: Streak) -> None:
    from meteorfast.detector import Detector

    meteor = _still(add_streak, FAINT_METEOR, 7)
    # A threshold over any probability the detector gives makes it turn the meteor down, so the rescue alone decides.
    high = 1 - 1e-7
    with Detector(threshold=high, rescue=False) as plain:
        turned_down = plain.classify([meteor, meteor], stills=True)
    assert not turned_down.is_meteor.any()
    with Detector(threshold=high) as auto:
        res = auto.classify([meteor, meteor], stills=[True, False])  # a still, and a video frame
        assert auto.times.items["proposal"] == 1
    assert res.is_meteor.tolist() == [True, False]
    assert res.score[0] >= high
    assert res.decided_by[0] == "proposal"
    assert res.prob.tolist() == turned_down.prob.tolist()  # the model's probability is kept
    assert res.score[1] == turned_down.score[1]
    assert _off_streak(float(res.x[0]), float(res.y[0])) <= 3.0
    with Detector(threshold=high, rescue=True) as every:
        assert every.classify([meteor]).is_meteor.all()  # an array is no still, but True judges every frame
    # A threshold under any probability makes the detector accept everything, so the veto alone decides (the
    # satellite veto, which would turn the dash down first, is off).
    dash = _still(add_streak, EVEN_DASH, 6)
    low = 1e-30
    with Detector(threshold=low, rescue=False, satellite_veto=False) as plain:
        accepted = plain.classify([meteor, dash, dash], stills=True)
    assert accepted.is_meteor.all()
    with Detector(threshold=low, satellite_veto=False) as auto:
        res = auto.classify([meteor, dash, dash], stills=[True, True, False])
    assert res.is_meteor.tolist() == [True, False, True]  # the dash in a video frame is not judged
    assert res.score[0] == accepted.score[0]
    assert res.score[1] == pytest.approx(0.5 * low)
    assert res.decided_by[1] == "proposal"
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
