"""Streaming stacking (native CPU, and the NumPy streaming path) against the vectorised reference.

The native kernel uses the reference's exact integer accumulators and the same double-precision formulas, so every
output must match to the bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meteorfast.cam as mc
from meteorfast.cam import reference as ref
from meteorfast.errors import InputError


def assert_same(got: mc.StackResult, want: mc.StackResult) -> None:
    for field in ("max", "argmax", "mean", "std", "candidate"):
        a, b = getattr(got, field), getattr(want, field)
        assert a.dtype == b.dtype, field
        assert a.shape == b.shape, field
        np.testing.assert_array_equal(a, b, err_msg=field)
    assert got.frames == want.frames


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize(("t", "shape"), [(2, (1, 1)), (3, (7, 13)), (25, (72, 128)), (25, (31,)), (10, (4, 6, 3))])
def test_stack_matches_reference(rng: np.random.Generator, kernels: str, dtype: type, t: int, shape: tuple) -> None:
    frames = rng.integers(0, np.iinfo(dtype).max, (t, *shape), dtype=dtype, endpoint=True)
    assert_same(mc.stack(frames), ref.stack(frames))


def test_stack_full_hd_window_matches_reference(rng: np.random.Generator, use_native: None) -> None:
    frames = rng.integers(0, 256, (25, 720, 1280), dtype=np.uint8)
    assert_same(mc.stack(frames), ref.stack(frames))


def test_argmax_ties_keep_the_earliest_frame(kernels: str) -> None:
    frames = np.zeros((6, 1, 3), np.uint8)
    frames[:, 0, 1] = [1, 5, 9, 2, 9, 9]  # maximum first reached at frame 2
    frames[:, 0, 2] = 7  # constant: frame 0
    r = mc.stack(frames)
    assert r.argmax.tolist() == [[0, 2, 0]]
    assert r.max.tolist() == [[0, 9, 7]]


def test_mean_std_leave_the_maximum_out_and_candidate_rounds_half_up(kernels: str) -> None:
    frames = np.array([[10], [3], [4]], np.uint8)  # max 10; others 3, 4: mean 3.5, std 0.5
    r = mc.stack(frames)
    assert r.mean[0] == pytest.approx(3.5)
    assert r.std[0] == pytest.approx(0.5)
    assert r.candidate[0] == 7  # 10 - 3.5 = 6.5, rounded half up


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
def test_saturated_pixels_stay_exact(kernels: str, dtype: type, top: int) -> None:
    frames = np.full((300, 2, 2), top, dtype)
    r = mc.stack(frames)
    np.testing.assert_array_equal(r.mean, np.full((2, 2), top, np.float32))
    np.testing.assert_array_equal(r.std, 0)
    np.testing.assert_array_equal(r.candidate, 0)


def test_longest_uint8_window_does_not_overflow(use_native: None) -> None:
    """uint32 accumulators hold 255^2 * 65535: the longest window of full-scale frames is exact."""
    s = mc.Stacker((2,), np.uint8)
    frame = np.array([255, 0], np.uint8)
    for _ in range(ref.MAX_STACK_FRAMES):
        s.add(frame)
    r = s.result()
    assert r.mean.tolist() == [255.0, 0.0]
    assert r.std.tolist() == [0.0, 0.0]
    with pytest.raises(InputError, match="at most 65535 frames"):
        s.add(frame)


def test_stacker_reuses_its_accumulators(rng: np.random.Generator, kernels: str) -> None:
    frames = rng.integers(0, 256, (20, 9, 11), dtype=np.uint8)
    s = mc.Stacker((9, 11), np.uint8)
    for f in frames[:10]:
        s.add(f)
    first = s.result()
    s.reset()
    for f in frames[10:]:
        s.add(f)
    assert_same(first, ref.stack(frames[:10]))
    assert_same(s.result(), ref.stack(frames[10:]))


def test_native_and_numpy_streaming_agree(rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = rng.integers(0, 4096, (12, 40, 30), dtype=np.uint16)
    monkeypatch.setenv("METEORFAST_KERNELS", "native")
    native = mc.stack(frames)
    monkeypatch.setenv("METEORFAST_KERNELS", "reference")
    assert_same(native, mc.stack(frames))


def test_stacking_errors(kernels: str) -> None:
    s = mc.Stacker((4, 4), np.uint8)
    with pytest.raises(InputError, match="at least 2 frames"):
        s.result()
    s.add(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match=r"at least 2 frames .* got 1"):
        s.result()
    with pytest.raises(InputError, match=r"expected a uint8 frame of shape \(4, 4\), got uint16 \(4, 4\)"):
        s.add(np.zeros((4, 4), np.uint16))
    with pytest.raises(InputError, match=r"got uint8 \(4, 5\)"):
        s.add(np.zeros((4, 5), np.uint8))
    with pytest.raises(InputError, match="expected dtype uint8 or uint16, got float32"):
        mc.Stacker((4, 4), np.float32)
    with pytest.raises(InputError, match="expected uint8 or uint16 frames, got float32"):
        ref.stack(np.zeros((3, 2), np.float32))
    with pytest.raises(InputError, match="T >= 2"):
        mc.stack(np.zeros(5, np.uint8))


@settings(max_examples=80, deadline=None)
@given(
    st.integers(2, 40),
    st.lists(st.integers(1, 17), min_size=1, max_size=3),
    st.sampled_from([np.uint8, np.uint16]),
    st.integers(0, 2**32 - 1),
    st.sampled_from([2, 16, None]),
)
def test_property_stack(t: int, shape: list[int], dtype: type, seed: int, levels: int | None) -> None:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max if levels is None else levels - 1  # few levels: many ties
    frames = rng.integers(0, top, (t, *shape), dtype=dtype, endpoint=True)
    got = mc.stack(frames)
    assert_same(got, ref.stack(frames))
    assert (got.candidate <= got.max).all()
    assert (got.argmax < t).all()
