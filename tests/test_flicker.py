"""Flicker suppression in stack mode: the formula, which windows serve as a window's noise reference, and the
images the detector classifies: a pixel that flickers in every window fades, a meteor in one window does not."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from meteorfast.detector import Detector
from meteorfast.errors import InputError
from meteorfast.stream.flicker import FlickerReference, suppress_flicker


def test_suppression_takes_k_times_the_excess_over_the_median_pixel() -> None:
    ref = np.ones((8, 8), np.float32)  # typical noise 1
    ref[2, 3] = 5.0  # 4 above typical
    ref[4, 4] = 1.5
    ref[0, 0] = 0.2  # quieter than typical: left alone
    cand = np.full((8, 8), 20, np.uint8)
    cand[4, 4] = 0
    out = suppress_flicker(cand, ref, 2.0)
    want = np.full((8, 8), 20, np.uint8)
    want[2, 3] = 12  # 20 - 2 * 4
    want[4, 4] = 0  # floored at 0, not wrapped round
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, want)
    deep = suppress_flicker(cand.astype(np.uint16) * 1000, ref * 1000, 1.5)
    assert deep.dtype == np.uint16
    assert deep[2, 3] == 20000 - 6000
    assert deep[1, 1] == 20000
    np.testing.assert_array_equal(suppress_flicker(cand, ref, 0.0), cand)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_suppression_matches_its_formula_on_random_maps(rng: np.random.Generator, dtype: type) -> None:
    """The formula in NumPy is the specification; OpenCV's rounding may differ by 1 where k * excess ends in .5."""
    top = 255 if dtype == np.uint8 else 65535
    cand = rng.integers(0, top + 1, (90, 160)).astype(dtype)
    ref = (rng.gamma(2.0, 1.0, (90, 160)) * top / 40).astype(np.float32)
    for k in (0.5, 2.0, 4.0):
        excess = np.maximum(ref - np.median(ref[::4, ::4]), 0)
        want = np.rint(np.maximum(cand.astype(np.float64) - k * excess, 0)).astype(dtype)
        got = suppress_flicker(cand, ref, k)
        assert got.dtype == dtype
        assert np.abs(got.astype(np.int64) - want).max() <= 1
        assert (got != want).mean() < 1e-3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_extreme_references_and_k_saturate_without_warnings(dtype: type) -> None:
    """Float32's extremes in the reference, and a k beyond float32, take whole pixels or nothing, with no overflow
    or NaN on the way (a fuzz run once printed both)."""
    cand = np.full((8, 8), 200, dtype)
    garbage = np.full((8, 8), -np.finfo(np.float32).max, np.float32)  # its median -3.4e38, so max - median is Inf
    garbage[1, 1] = np.finfo(np.float32).max
    faint = np.zeros((8, 8), np.float32)
    faint[1, 1] = 1e-30  # barely above the typical 0: only a k beyond float32 makes it a whole pixel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = [suppress_flicker(cand, garbage, 1.0), suppress_flicker(cand, faint, 1e300)]
    for out in outs:
        assert out[1, 1] == 0
        out[1, 1] = 200
        np.testing.assert_array_equal(out, cand)


@pytest.mark.parametrize(("shape", "k"), [((8, 9), 1.0), ((8, 8), -1.0), ((8, 8), float("nan"))])
def test_bad_arguments_are_refused(shape: tuple[int, int], k: float) -> None:
    with pytest.raises(InputError, match="flicker"):
        suppress_flicker(np.zeros((8, 8), np.uint8), np.zeros(shape, np.float32), k)


def references(window: int, stride: int, starts: list[int]) -> dict[int, float | None]:
    """Feed windows whose std maps are filled with their start; return, per window, its reference's value."""
    held: FlickerReference[int] = FlickerReference(window, stride)
    got: dict[int, float | None] = {}
    order: list[int] = []
    for s in starts:
        for start, ref in held.add(s, s + window - 1, np.full((2, 2), float(s), np.float32), s):
            order.append(start)
            got[start] = None if ref is None else float(ref[0, 0])
    for start, ref in held.finish():
        order.append(start)
        got[start] = None if ref is None else float(ref[0, 0])
    assert order == starts  # released in order, every one
    return got


def test_each_window_is_judged_against_windows_that_share_no_frame_with_it() -> None:
    # Back to back: the first waits for the second; later ones take the quieter of the two before them.
    assert references(25, 25, [0, 25, 50, 75, 100]) == {0: 25, 25: 0, 50: 0, 75: 25, 100: 50}
    # Overlapping (stride 12): never a window that shares a frame.
    got = references(25, 12, list(range(0, 121, 12)))
    for start, ref in got.items():
        assert ref is not None
        assert ref + 24 < start or ref > start + 24, (start, ref)
    assert got[0] == 36
    assert got[12] == 48
    assert got[24] == 60
    assert got[36] == 0
    assert got[60] == 12
    # A source with one window has nothing to compare with.
    assert references(25, 25, [0]) == {0: None}


def test_release_waits_only_at_the_start_of_a_source() -> None:
    held: FlickerReference[str] = FlickerReference(4, 4)
    std = np.ones((2, 2), np.float32)
    assert held.add(0, 3, std, "a") == []
    assert [p for p, _ in held.add(4, 7, std, "b")] == ["a", "b"]
    assert [p for p, _ in held.add(8, 11, std, "c")] == ["c"]
    assert held.finish() == []


@pytest.mark.parametrize(("window", "stride", "steady"), [(25, 25, 2), (25, 12, 4), (25, 5, 6)])
def test_memory_stays_bounded(window: int, stride: int, steady: int) -> None:
    held: FlickerReference[int] = FlickerReference(window, stride)
    std = np.ones((2, 2), np.float32)
    released = 0
    for start in range(0, 300 * stride, stride):
        released += len(held.add(start, start + window - 1, std, start))
        if start >= 3 * window:
            assert held.retained == steady  # ceil(window / stride) + 1
    assert released == 300  # none held back once the start is over
    assert held.finish() == []


def clip(meteor_window: int, rng: np.random.Generator) -> np.ndarray:
    """100 frames of 96x96 sky (noise 2 DN); a diagonal edge whose pixels jump by up to +-20 DN in every frame (a
    housing edge under a video codec); a meteor, a bright dot moving 2 px per frame, in one 25-frame window."""
    frames = rng.normal(30, 2, (100, 96, 96))
    edge = np.arange(10, 60)
    frames[:, edge, edge - 5] += rng.uniform(-20, 20, (100, len(edge)))
    for i in range(25):
        t = meteor_window * 25 + i
        frames[t, 20 + i : 22 + i, 40 + 2 * i : 42 + 2 * i] += 120
    return np.clip(frames, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("meteor_window", [0, 2])
def test_the_detector_fades_flicker_and_keeps_the_meteor(
    spot_model: Path, rng: np.random.Generator, meteor_window: int
) -> None:
    frames = clip(meteor_window, rng)
    edge = np.arange(10, 60)
    track_rows = np.array([20 + i for i in range(25)])
    track_cols = np.array([40 + 2 * i for i in range(25)])

    def windows(k: float) -> list[np.ndarray]:
        det = Detector(spot_model, mode="stack", window=25, flicker=k, refine=False)
        results = list(det.stream(frames))
        assert [r.index for r in results] == [0, 25, 50, 75]
        return [r.image for r in results]

    plain, suppressed = windows(0.0), windows(4.0)
    for w in range(4):
        assert np.median(plain[w][edge, edge - 5]) >= 15  # the edge is there to be suppressed
        assert np.median(suppressed[w][edge, edge - 5]) <= 3, w
    meteor_plain = plain[meteor_window][track_rows, track_cols].astype(int)
    meteor_kept = suppressed[meteor_window][track_rows, track_cols].astype(int)
    assert meteor_plain.min() >= 90
    assert np.all(meteor_kept >= meteor_plain - 3)
