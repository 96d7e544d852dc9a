"""Fuzzing (README, "Bad inputs and faults"): arbitrary shapes, dtypes and values into ``Detector.classify`` and
every kernel entry point, and mutated bytes into the image and video loaders. Nothing may crash: every call
returns a well-formed result or raises a MeteorfastError. Example counts bound the time these take in CI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import meteorfast.cam as mc
from meteorfast.analysis.streak import fused_peaks, refine_points
from meteorfast.detector import Detector
from meteorfast.errors import MeteorfastError
from meteorfast.preprocess import to_uint8
from meteorfast.stream.flicker import suppress_flicker

HERE = Path(__file__).resolve().parent
DTYPES = [np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_,
          np.complex64]  # fmt: skip
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@st.composite
def any_array(draw: st.DrawFn, max_dims: int = 5, max_side: int = 9) -> np.ndarray:
    """Any dtype of DTYPES, 0..max_dims axes of 0..max_side, values anywhere in the type (NaN and Inf included)."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, max_side), max_size=max_dims)))
    return draw(hnp.arrays(dtype, shape))


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn``'s result, or None when it raised a MeteorfastError; anything else escapes and fails the test."""
    try:
        return fn(*args, **kwargs)
    except MeteorfastError:
        return None


@st.composite
def frame_batches(draw: st.DrawFn) -> object:
    """What a user might pass to classify: an array [N,H,W(,C)] of any dtype, or a list of ragged frames."""
    if draw(st.booleans()):
        return draw(any_array(max_dims=5, max_side=12))
    return draw(st.lists(any_array(max_dims=4, max_side=40), max_size=4))


@st.composite
def valid_frame(draw: st.DrawFn, max_side: int = 40) -> np.ndarray:
    """A frame meteorfast takes: uint8 or uint16, ``[H,W]`` or ``[H,W,1|3|4]``, any values."""
    dtype = np.dtype(draw(st.sampled_from([np.uint8, np.uint16])))
    shape: tuple[int, ...] = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    channels = draw(st.sampled_from([0, 1, 3, 4]))
    return draw(hnp.arrays(dtype, (*shape, channels) if channels else shape))


@st.composite
def classify_inputs(draw: st.DrawFn) -> tuple[bool, Any]:
    """``(well_formed, frames)``: three times in four frames classify must take (an array ``[N,H,W(,C)]`` or a
    list of ragged frames), else anything :func:`frame_batches` draws."""
    if draw(st.integers(0, 3)) == 0:
        return False, draw(frame_batches())
    if draw(st.booleans()):
        first = draw(valid_frame(max_side=24))
        rest = draw(st.lists(hnp.arrays(first.dtype, first.shape), max_size=3))
        return True, np.stack([first, *rest])
    return True, draw(st.lists(valid_frame(), min_size=1, max_size=4))


def check_classified(res: Any, frames: list[np.ndarray], threshold: float) -> None:
    """``res`` (a BatchResult of ``frames``) well formed: per-frame arrays of the right shapes and dtypes, points
    inside their frames, probabilities in [0, 1] and no higher than the brightest pixel allows (the spot model's
    probability is its input's brightest pixel / 255), exact on a constant frame, and ``is_meteor`` the threshold's
    verdict (no stills stage judges video frames)."""
    n = len(frames)
    for name in ("prob", "x", "y", "peak"):
        arr = getattr(res, name)
        assert arr.shape == (n,), name
        assert arr.dtype == np.float32, name
        assert np.isfinite(arr).all(), name
    assert res.is_meteor.shape == (n,)
    assert res.is_meteor.dtype == np.bool_
    assert res.cam.dtype == np.float32
    assert res.cam.ndim == 3
    assert res.cam.shape[0] == n
    assert ((res.cam >= 0) & (res.cam <= 1)).all()
    assert ((res.prob >= 0) & (res.prob <= 1)).all()
    np.testing.assert_array_equal(res.is_meteor, res.prob >= threshold)
    for i, frame in enumerate(frames):
        h, w = frame.shape[:2]
        assert 0 <= res.x[i] <= w, (i, frame.shape, res.x[i])
        assert 0 <= res.y[i] <= h, (i, frame.shape, res.y[i])
        u8 = to_uint8(frame)
        assert res.prob[i] * 255 <= int(u8.max()) + 1e-3, (i, res.prob[i], u8.max())
        if u8.min() == u8.max():
            assert res.prob[i] == pytest.approx(int(u8.max()) / 255, abs=1e-6)


def test_classify_returns_or_raises(spot_model: Path) -> None:
    """Every input either classifies or raises a MeteorfastError; every well-formed one classifies, with a
    well-formed result (:func:`check_classified`), and they are a good share of the examples run."""
    seen = {"well_formed": 0, "arbitrary": 0, "refused": 0}

    @FUZZ
    @given(drawn=classify_inputs(), tile=st.sampled_from([None, (16, 4)]))
    def run(drawn: tuple[bool, Any], tile: tuple[int, int] | None) -> None:
        well_formed, frames = drawn
        det = Detector(spot_model, batch_size=3, tile=tile)
        if well_formed:
            event("well-formed input")
            seen["well_formed"] += 1
            check_classified(det.classify(frames), [np.asarray(f) for f in frames], det.threshold)
            return
        event("arbitrary input")
        seen["arbitrary"] += 1
        res = outcome(det.classify, frames)
        if res is None:
            seen["refused"] += 1
            return
        check_classified(res, [np.asarray(f) for f in frames], det.threshold)

    run()
    total = sum(seen[k] for k in ("well_formed", "arbitrary"))
    assert total >= FUZZ.max_examples // 2, seen
    assert seen["well_formed"] >= total // 2, seen  # three in four are drawn well formed
    assert seen["refused"] > 0, seen  # and the arbitrary ones reach the refusals


@FUZZ
@given(features=any_array(), grad=any_array(), weights=any_array(max_dims=3))
def test_grad_cam_entry_points_return_or_raise(
    kernels: str, features: np.ndarray, grad: np.ndarray, weights: np.ndarray
) -> None:
    for call in (lambda: mc.pool_gradients(grad), lambda: mc.grad_cam(features, grad),
                 lambda: mc.grad_cam(features, weights=weights)):  # fmt: skip
        out = outcome(call)
        if out is not None:
            assert np.isfinite(out).all()


@FUZZ
@given(
    cam=any_array(max_dims=4), fmap=any_array(max_dims=4, max_side=30), grad=any_array(), geometry=any_array(3, 5),
    size=st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)), mode=st.sampled_from(["fused", "paper", "x"]),
    radius=st.integers(-3, 12),
)  # fmt: skip
def test_localize_and_postprocess_return_or_raise(
    kernels: str, cam: np.ndarray, fmap: np.ndarray, grad: np.ndarray, geometry: np.ndarray,
    size: tuple[float, float], mode: str, radius: int,
) -> None:  # fmt: skip
    for geo in (None, geometry):
        loc = outcome(mc.localize, cam, fmap, input_size=size, geometry=geo, mode=mode, radius=radius)
        if loc is not None:
            assert np.isfinite(np.concatenate([loc.x, loc.y, loc.peak])).all()
        res = outcome(mc.postprocess, cam, grad, fmap, input_size=size, geometry=geo, mode=mode, radius=radius)
        if res is not None:
            assert np.isfinite(np.concatenate([res.x, res.y, res.peak])).all()


@FUZZ
@given(frames=any_array(max_dims=4, max_side=6), extra=any_array(max_dims=3, max_side=6))
def test_stacking_returns_or_raises(kernels: str, frames: np.ndarray, extra: np.ndarray) -> None:
    res = outcome(mc.stack, frames)
    if res is not None:
        assert res.candidate.shape == frames.shape[1:]
        assert (res.candidate <= res.max).all()
    stacker = outcome(mc.Stacker, frames.shape[1:], frames.dtype)
    if stacker is not None:
        for frame in (*(frames[:3] if frames.ndim else ()), extra):
            outcome(stacker.add, frame)
        outcome(stacker.result)


@st.composite
def candidate_and_reference(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Any two arrays; half the time the reference has the candidate's shape, so the arithmetic is reached."""
    candidate = draw(any_array(max_dims=3, max_side=6))
    if draw(st.booleans()):
        return candidate, draw(any_array(max_dims=3, max_side=6))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    return candidate, draw(hnp.arrays(dtype, candidate.shape))


@FUZZ
@given(pair=candidate_and_reference(), k=st.floats(allow_nan=True, allow_infinity=True))
def test_flicker_suppression_returns_or_raises(pair: tuple[np.ndarray, np.ndarray], k: float) -> None:
    candidate, reference = pair
    res = outcome(suppress_flicker, candidate, reference, k)
    if res is not None:
        assert res.shape == candidate.shape
        assert res.dtype == candidate.dtype
        assert (res <= candidate).all()


@FUZZ
@given(frames=st.lists(any_array(max_dims=3, max_side=30), max_size=3), x=any_array(1, 4), y=any_array(1, 4),
       cell=any_array(2, 3))  # fmt: skip
def test_refine_points_returns_or_raises(
    frames: list[np.ndarray], x: np.ndarray, y: np.ndarray, cell: np.ndarray
) -> None:
    res = outcome(refine_points, frames, x, y, cell)
    if res is not None:
        assert res[0].shape == res[1].shape == (len(frames),)


@FUZZ
@given(frames=st.lists(any_array(max_dims=3, max_side=30), max_size=3), x=any_array(2, 4), y=any_array(2, 4),
       weight=any_array(2, 4), cell=any_array(2, 3))  # fmt: skip
def test_refine_candidates_returns_or_raises(
    frames: list[np.ndarray], x: np.ndarray, y: np.ndarray, weight: np.ndarray, cell: np.ndarray
) -> None:
    res = outcome(refine_points, frames, x, y, cell, weight=weight)
    if res is not None:
        assert res[0].shape == res[1].shape == (len(frames),)


@FUZZ
@given(cam=any_array(3, 9), fmap=any_array(3, 12), geo=any_array(2, 5), k=st.integers(-1, 20))
def test_fused_peaks_returns_or_raises(cam: np.ndarray, fmap: np.ndarray, geo: np.ndarray, k: int) -> None:
    res = outcome(fused_peaks, cam, fmap, geo, (224.0, 224.0), k)
    if res is not None:
        assert all(a.shape == (len(cam), k) for a in res)
        assert np.all(res[2] >= 0)


def test_mutated_image_and_video_files_never_crash_the_loaders(tmp_path: Path) -> None:
    """Byte mutations (flips, cuts, splices, repeats) of valid PNG, 16-bit TIFF, JPEG, MJPEG AVI and MP4 files,
    decoded through ``open_source`` and iterated (the videos by the PyAV decoder too, when it is installed). Runs in
    a child process so that a crash in a decoder shows up as this test failing with the input that caused it, not
    as a dead test run."""
    examples = 1500
    env = {**os.environ, "OPENCV_LOG_LEVEL": "FATAL", "OPENCV_FFMPEG_LOGLEVEL": "-8"}
    out = subprocess.run(
        [sys.executable, str(HERE / "fuzz_loaders.py"), str(tmp_path), str(examples)], capture_output=True,
        text=True, errors="replace",  # decoders echo the mutants' bytes in their warnings
        timeout=900, cwd=tempfile.gettempdir(), env=env,
    )  # fmt: skip
    last = tmp_path / "current"
    assert out.returncode == 0, (
        f"exit {out.returncode}; input: {last.read_text() if last.exists() else '?'}\n{out.stdout[-2000:]}"
        f"\n{out.stderr[-4000:]}"
    )
    stats = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    assert int(stats["examples"]) >= examples
    assert int(stats["decoded"]) > 0  # some mutants still decode: the fuzz reaches past the file headers
    assert int(stats["refused"]) > 0
    if importlib.util.find_spec("av") is not None:
        assert int(stats["pyav_decoded"]) > 0
        assert int(stats["pyav_refused"]) > 0
