"""The shipped detector's outputs, pinned: recorded once from the code as it was, compared ever after.

The files in ``tests/data/pinned/`` hold what the shipped model, with its default stages, gives on fixed inputs:
``Detector.classify`` on simulated stills and video frames (each stage of the decision path has items to judge
there), on tiles, with the mirror images and with the star veto, and ``meteorfast detect`` on the bundled GMN clip
in both modes. A change that moves code around must leave every array and every event as it was. Re-record only for
a change that means to alter the detector's decisions, and say so in its commit:
``python tests/test_pinned.py --record``.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PINNED = Path(__file__).resolve().parent / "data" / "pinned"

# Each case: the Detector's options, and whether its frames are stills. Seeds and sizes are fixed so that the batch
# holds meteors, satellites, unsure stills for the second look and the proposal net, and video frames.
CASES: dict[str, tuple[dict[str, Any], bool]] = {
    "stills": ({}, True),
    "video_frames": ({}, False),
    "stills_star_veto_tta": ({"star_veto": "auto", "tta": True}, True),
    "tiles": ({"tile": (224, 32), "verifier": None}, False),
    "stack": ({"mode": "stack"}, False),
}
FRAME_FIELDS = ("index", "end_index", "score", "is_meteor", "x", "y", "peak")
BATCH_SEED = 4242
# The first 12 stills of the seed, and four later ones where the proposal net acts: it turns down a satellite's
# detection (18), and takes back a lightning flash (518), a fireball (582) and a meteor (595) the detector turned down.
STILLS = (*range(12), 18, 518, 582, 595)


@functools.lru_cache(maxsize=1)
def _stills() -> tuple[np.ndarray, ...]:
    from meteorfast.evaluate import synthetic_items

    items = synthetic_items(max(STILLS) + 1, BATCH_SEED)
    return tuple(items[i].image for i in STILLS)


def _frames(case: str) -> list[np.ndarray]:
    from meteorfast.evaluate import synthetic_items

    if case == "stack":
        return [it.image for it in synthetic_items(6, BATCH_SEED, representation="stack", flicker=4.0)]
    return list(_stills()[:4] if case == "tiles" else _stills())


def classify_case(case: str) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """The :class:`~meteorfast.results.BatchResult` arrays of one case: ``score`` (what decides), ``is_meteor``,
    ``x``, ``y``, ``peak`` and ``cam``; and each frame's ``decided_by`` (empty where results carried none)."""
    from meteorfast import Detector

    options, stills = CASES[case]
    with Detector(batch_size=8, **options) as det:
        res = det.classify(_frames(case), stills=stills)
    # "score" once results carry it; "prob" before that, when the two were one.
    score = getattr(res, "score", res.prob)
    arrays = {"score": score, "is_meteor": res.is_meteor, "x": res.x, "y": res.y, "peak": res.peak, "cam": res.cam}
    return arrays, tuple(getattr(res, "decided_by", ()))


def detect_clip(mode: str, out: Path) -> dict[str, Any]:
    """``meteorfast detect`` on the bundled clip in ``mode``: its events, and every item's record (``frames.jsonl``)
    without the fields that a restructure may add."""
    from meteorfast.data import SAMPLE_VIDEO

    cmd = [sys.executable, "-m", "meteorfast.cli", "detect", str(SAMPLE_VIDEO), "--mode", mode, "--json"]
    # Run outside the checkout: `-m` puts the working directory on sys.path, and the installed package is the one
    # under test.
    run = subprocess.run([*cmd, "--out", str(out), "--save-frames"], capture_output=True, text=True, check=True,
                         cwd=out.parent)  # fmt: skip
    events = json.loads(run.stdout)["events"]
    for ev in events:
        ev.pop("source")
    frames = []
    for line in (out / "frames.jsonl").read_text().splitlines():
        rec = json.loads(line)
        # The decision's value: "score" once results carry it, "prob" before that, when the two were one.
        frames.append([rec["index"], rec["end_index"], rec.get("score", rec["prob"]), rec["is_meteor"], rec["x"],
                       rec["y"], rec["peak"]])  # fmt: skip
    return {"events": events, "frames": frames}


@pytest.mark.parametrize("case", sorted(CASES))
def test_classify_gives_the_pinned_arrays(case: str) -> None:
    want = np.load(PINNED / f"classify_{case}.npz")
    got, decided_by = classify_case(case)
    for key in want.files:
        if want[key].dtype == np.bool_:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{case}: {key}")
        else:  # ONNX Runtime's threads may sum in another order from run to run: a few float32 ulps
            np.testing.assert_allclose(got[key], want[key], rtol=2e-5, atol=1e-6, err_msg=f"{case}: {key}")
    if case == "stills" and decided_by:
        # The pins would prove little if no stage acted: here the second look and the proposal net set scores.
        assert {"second_look", "proposal"} <= set(decided_by), decided_by


@pytest.mark.parametrize("mode", ["frame", "stack"])
def test_detect_on_the_bundled_clip_gives_the_pinned_events(mode: str, tmp_path: Path) -> None:
    want = json.loads((PINNED / f"detect_{mode}.json").read_text())
    got = detect_clip(mode, tmp_path / "out")
    _same(got["events"], want["events"], 0.011, "events")  # points are written to 0.01 px
    assert len(got["frames"]) == len(want["frames"])
    # index, end_index, score, is_meteor, x, y, peak: float32 ulps may round either way at the last written digit
    g, w = np.array(got["frames"], float), np.array(want["frames"], float)
    for col, (name, tol) in enumerate(zip(FRAME_FIELDS, (0, 0, 2e-5, 0, 0.011, 0.011, 2e-5), strict=True)):
        np.testing.assert_allclose(g[:, col], w[:, col], rtol=0, atol=tol, err_msg=f"frames.jsonl {name}")


@pytest.mark.slow
def test_eval_on_synthetic_stills_gives_the_pinned_metrics(tmp_path: Path) -> None:
    """``meteorfast eval --synthetic 300 --seed 44444 --json``, as recorded (the 3,000-still read of the same seed is
    recorded beside it, ``eval_synthetic_3000_44444.json``, and takes half an hour)."""
    want = json.loads((PINNED / "eval_synthetic_300_44444.json").read_text())
    got = _eval_300(tmp_path)
    for key in ("model", "verifier"):  # paths of this install
        got.pop(key), want.pop(key)
    _same(got, want, 1e-4, "eval")


def _eval_300(cwd: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "meteorfast.cli", "eval", "--synthetic", "300", "--seed", "44444", "--json"]
    out: dict[str, Any] = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd).stdout)
    return out


def _same(got: Any, want: Any, tol: float, where: str) -> None:
    """``got`` equals ``want`` (JSON values): exactly, except floats within ``tol``; a record may have gained keys
    (a field added since), but every recorded one keeps its value."""
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        assert got.keys() >= want.keys(), where
        for k in want:
            _same(got[k], want[k], tol, f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list), where
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, tol, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, int | float), where
        assert abs(got - want) <= tol, (where, got, want)
    else:
        assert got == want, (where, got, want)


def test_the_stills_stages_act_on_the_pinned_stills() -> None:
    # Recorded before results carried decided_by: the stills' decisions differ from their video-frame twins'.
    stills = np.load(PINNED / "classify_stills.npz")
    frames = np.load(PINNED / "classify_video_frames.npz")
    assert not np.array_equal(stills["is_meteor"], frames["is_meteor"])


def _record() -> None:
    import tempfile

    PINNED.mkdir(parents=True, exist_ok=True)
    for case in sorted(CASES):
        np.savez_compressed(PINNED / f"classify_{case}.npz", **classify_case(case)[0])
    for mode in ("frame", "stack"):
        with tempfile.TemporaryDirectory() as tmp:
            got = detect_clip(mode, Path(tmp) / "out")
        (PINNED / f"detect_{mode}.json").write_text(json.dumps(got, indent=1) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        (PINNED / "eval_synthetic_300_44444.json").write_text(json.dumps(_eval_300(Path(tmp)), indent=2) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_pinned.py --record")
    _record()
