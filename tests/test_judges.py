"""The judges' protocol: a stage is one class and one entry in the list, it sees only the items it applies to, it is
timed by its name, and what it decides shows in the results without touching the model's probability."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from meteorfast.detector import Detector
from meteorfast.detector_config import DetectorConfig
from meteorfast.judges import CHAIN, Judge, Setup, Verdict, View
from meteorfast.results import Item


class LeftHalfVeto(Judge):
    """A stage defined here: turns down every detection located in the left half of its frame, for stills only."""

    name = "left_half_veto"

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    @classmethod
    def build(cls, setup: Setup) -> LeftHalfVeto:
        return cls(setup.threshold)

    def applies(self, item: Item) -> bool:
        return item.still

    def __call__(self, view: View, verdict: Verdict) -> Verdict:
        if verdict.score >= self.threshold and verdict.x < view.item.image.shape[1] / 2:
            return verdict.decided(self.name, 0.25 * self.threshold)
        return verdict


def _spots() -> list[np.ndarray]:
    """Four skies, each with one bright spot: left, right, left, right."""
    frames = []
    for x in (100, 1100, 300, 900):
        f = np.full((720, 1280), 12, np.uint8)
        f[392:408, x : x + 16] = 250  # big enough to stay bright in the model's shrunk input
        frames.append(f)
    return frames


def test_a_stage_is_one_class_and_one_entry_in_the_list(spot_model: Path) -> None:
    frames = _spots()
    stills = [True, True, False, False]
    with Detector(spot_model, verifier=None) as plain:
        before = plain.classify(frames, stills=stills)
    with Detector(spot_model, verifier=None, judges=(*CHAIN, LeftHalfVeto)) as det:
        assert [j.name for j in det.judges][-1] == "left_half_veto"
        after = det.classify(frames, stills=stills)
        assert det.times.items["left_half_veto"] == 2  # the stills only
        assert det.times.seconds["left_half_veto"] > 0
    assert before.is_meteor.all()
    # The left still is turned down; the right still and both video frames (the stage is for stills) are kept.
    assert after.is_meteor.tolist() == [False, True, True, True]
    assert after.decided_by[0] == "left_half_veto"
    assert after.score[0] == pytest.approx(0.25 * det.threshold)
    # The model's probability and the located point are what they were: the stage decided, it did not measure.
    np.testing.assert_array_equal(after.prob, before.prob)
    np.testing.assert_array_equal(after.x, before.x)
    np.testing.assert_array_equal(after.score[1:], before.score[1:])


def test_the_chain_is_declared_in_one_order_and_the_config_leaves_stages_out(spot_model: Path) -> None:
    assert [j.name for j in CHAIN] == ["refine", "second_look", "walk", "satellite_veto", "star_veto", "proposal"]
    with Detector(spot_model, verifier=None) as det:
        assert [j.name for j in det.judges] == ["refine", "walk", "satellite_veto", "proposal"]
    with Detector(spot_model, verifier=None, refine=False, satellite_veto=False, rescue=False) as det:
        assert det.judges == []
    with Detector(spot_model, verifier=None, mode="stack") as det:
        assert [j.name for j in det.judges] == ["refine", "walk"]  # the stills' stages have no stills to judge
    with Detector(spot_model, verifier=None, judges=()) as det:
        assert det.judges == []


def test_a_verdict_is_immutable_and_kept_in_float32() -> None:
    v = Verdict(0.9, 0.9, 10.0, 20.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.score = 0.1  # type: ignore[misc]
    moved = v.moved(1 / 3, 2 / 3)
    assert moved.x == float(np.float32(1 / 3))
    assert (v.x, v.y) == (10.0, 20.0)
    decided = v.decided("a_stage", 0.1)
    assert (decided.prob, decided.score, decided.decided_by) == (0.9, float(np.float32(0.1)), "a_stage")
    assert v.decided_by == "first_look"


def test_the_config_checks_itself() -> None:
    from meteorfast.errors import InputError

    with pytest.raises(InputError, match="batch_size"):
        DetectorConfig(batch_size=0)
    with pytest.raises(InputError, match="stills"):
        DetectorConfig(mode="stack", rescue=True)
    with pytest.raises(InputError, match="threshold"):
        DetectorConfig().but(threshold=2.0)
    c = DetectorConfig(window=10)
    assert (c.stride_frames, c.depth) == (10, 64)
    assert Detector(config=c, batch_size=4).config == DetectorConfig(window=10, batch_size=4)
