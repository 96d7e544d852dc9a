"""Native CPU Grad-CAM kernels against the NumPy reference, their specification.

Tolerances: pooling and the CAM accumulate in float32 in the kernels and float64 in the reference; the CAM is
min-max scaled to [0, 1], so an absolute 2e-5 on it (and 1e-5 relative on alpha) bounds float32 rounding over
K <= 1280 channels. Localisation runs the same float32 operations in the same order as the reference and must
match to the bit on the coordinates' inputs; frame coordinates get 1e-4 px for the final double->float rounding.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meteorfast.cam as mc
from meteorfast.cam import reference as ref
from meteorfast.errors import InputError, MeteorfastError, NonFiniteError

pytestmark = pytest.mark.usefixtures("use_native")


def make_batch(rng: np.random.Generator, n: int, k: int, h: int, w: int, dtype: type = np.float32):
    """Post-ReLU-like features and small signed gradients, as a real CAM layer gives."""
    feat = np.maximum(rng.standard_normal((n, k, h, w)), 0).astype(dtype)
    grad = (rng.standard_normal((n, k, h, w)) * 1e-3).astype(dtype)
    return feat, grad


def geometry(rng: np.random.Generator, n: int) -> np.ndarray:
    geo = np.empty((n, 4), np.float32)
    geo[:, :2] = rng.uniform(0.5, 6.0, (n, 2))
    geo[:, 2:] = rng.uniform(-50, 400, (n, 2))
    return geo


SHAPES = [(1, 1, 1, 1), (1, 3, 7, 7), (3, 64, 7, 7), (17, 1280, 7, 7), (64, 32, 7, 7), (5, 40, 3, 5), (2, 9, 13, 11)]


def test_native_kernels_are_built() -> None:
    info = mc.native_info()
    assert info.cpu, info.reason
    assert info.threads >= 1


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_pool_gradients_matches_reference(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> None:
    _, grad = make_batch(rng, *shape, dtype=dtype)
    alpha = mc.pool_gradients(grad)
    assert alpha.dtype == np.float32
    assert alpha.shape == shape[:2]
    expected = ref.pool_gradients(grad)
    np.testing.assert_allclose(alpha, expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("gdt", "fdt"), [(np.float32, np.float32), (np.float16, np.float32), (np.float16, np.float16)])
def test_grad_cam_matches_reference(rng: np.random.Generator, shape: tuple[int, ...], gdt: type, fdt: type) -> None:
    feat, grad = make_batch(rng, *shape)
    feat, grad = feat.astype(fdt), grad.astype(gdt)
    cam = mc.grad_cam(feat, grad)
    assert cam.dtype == np.float32
    assert cam.shape == (shape[0], *shape[2:])
    np.testing.assert_allclose(cam, ref.grad_cam(feat, grad), rtol=0, atol=2e-5)
    assert cam.min() >= 0.0
    assert cam.max() <= 1.0


def test_grad_cam_with_precomputed_weights_equals_gradient_path(rng: np.random.Generator) -> None:
    feat, grad = make_batch(rng, 8, 96, 7, 7)
    alpha = ref.pool_gradients(grad)
    np.testing.assert_allclose(mc.grad_cam(feat, weights=alpha), mc.grad_cam(feat, grad), atol=2e-5)
    np.testing.assert_allclose(mc.grad_cam(feat, weights=alpha), ref.weighted_cam(feat, alpha), atol=2e-5)


def test_grad_cam_is_pytorch_grad_cam_contract(rng: np.random.Generator) -> None:
    """Written out independently of the reference: mean-pooled gradients, weighted sum, ReLU, min-max + 1e-7."""
    feat, grad = make_batch(rng, 4, 16, 7, 7)
    weights = grad.mean(axis=(2, 3))
    raw = np.maximum((weights[:, :, None, None] * feat).sum(axis=1), 0)
    expected = np.stack([(c - c.min()) / (1e-7 + (c - c.min()).max()) for c in raw])
    np.testing.assert_allclose(mc.grad_cam(feat, grad), expected, atol=2e-5)


@pytest.mark.parametrize("fill", ["zero_grad", "constant_features", "negative_only"])
def test_degenerate_cams_are_zero_not_nan(rng: np.random.Generator, fill: str) -> None:
    feat, grad = make_batch(rng, 3, 32, 7, 7)
    if fill == "zero_grad":
        grad[:] = 0
    elif fill == "constant_features":
        feat[:] = 2.5
    else:
        feat[:] = 1.0
        grad[:] = -1.0
    cam = mc.grad_cam(feat, grad)
    assert np.isfinite(cam).all()
    np.testing.assert_array_equal(cam, np.zeros_like(cam))
    np.testing.assert_array_equal(ref.grad_cam(feat, grad), cam)
    # A flat CAM still localises, deterministically: the first fine cell wins the tie.
    fmap = np.zeros((3, 56, 56), np.float32)
    for mode in ("paper", "fused"):
        loc = mc.localize(cam, fmap, input_size=(224, 224), mode=mode)
        assert np.isfinite(loc.x).all()
        assert np.isfinite(loc.y).all()
        np.testing.assert_array_equal(loc.peak, 0)


LOC_CASES = [
    # (n, h, w, H1, W1): the paper's 7x7 -> 56x56, EfficientNet-Lite0's 7x7 -> 112x112, odd and smaller grids.
    (4, 7, 7, 56, 56),
    (64, 7, 7, 112, 112),
    (3, 7, 7, 50, 37),
    (2, 5, 9, 13, 27),
    (2, 7, 7, 5, 3),
    (1, 1, 1, 1, 1),
]


@pytest.mark.parametrize(("n", "h", "w", "big_h", "big_w"), LOC_CASES)
@pytest.mark.parametrize("mode", ["paper", "fused"])
@pytest.mark.parametrize("radius", [0, 1, 2])
def test_localize_matches_reference(
    rng: np.random.Generator, n: int, h: int, w: int, big_h: int, big_w: int, mode: str, radius: int
) -> None:
    cam = ref.grad_cam(*make_batch(rng, n, 16, h, w))
    fmap = rng.random((n, big_h, big_w)).astype(np.float32) * 5
    geo = geometry(rng, n)
    got = mc.localize(cam, fmap, input_size=(224, 192), geometry=geo, mode=mode, radius=radius)  # type: ignore[arg-type]
    want = ref.localize(cam, fmap, geo, (224, 192), mode, radius)  # type: ignore[arg-type]
    np.testing.assert_allclose(got.x, want.x, rtol=0, atol=1e-4)
    np.testing.assert_allclose(got.y, want.y, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(got.peak, want.peak)


def test_reference_upsample_is_cv2_inter_linear(rng: np.random.Generator) -> None:
    for h, w, big_h, big_w in [(7, 7, 56, 56), (7, 7, 112, 112), (7, 7, 50, 37), (5, 9, 13, 27), (3, 4, 3, 4)]:
        cam = rng.random((2, h, w)).astype(np.float32)
        ours = ref.upsample(cam, (big_h, big_w))
        cv = np.stack([cv2.resize(c, (big_w, big_h), interpolation=cv2.INTER_LINEAR) for c in cam])
        np.testing.assert_allclose(ours, cv, rtol=0, atol=1e-6)


def test_paper_mode_known_answer() -> None:
    """One hot CAM cell and one hot fine pixel inside it: the result is that pixel's centre, in frame pixels."""
    cam = np.zeros((1, 7, 7), np.float32)
    cam[0, 2, 5] = 1.0
    fmap = np.zeros((1, 56, 56), np.float32)
    fmap[0, 2 * 8 + 3, 5 * 8 + 6] = 4.0  # row 19, col 46: inside cell (2, 5), whose block is rows 16-23, cols 40-47
    fmap[0, 50, 1] = 9.0  # brighter, but outside the region of interest
    geo = np.array([[2.0, 3.0, 10.0, 20.0]], np.float32)
    loc = mc.localize(cam, fmap, input_size=(224, 224), geometry=geo, mode="paper")
    # fine cell centre (46.5, 19.5) * 4 input px per cell = (186, 78); frame = (186*2+10, 78*3+20)
    assert loc.x[0] == pytest.approx(382.0)
    assert loc.y[0] == pytest.approx(254.0)
    assert loc.peak[0] == pytest.approx(4.0 / 9.0, rel=1e-6)


def test_fused_mode_centroid_is_subpixel() -> None:
    """Two equal neighbouring fine pixels: the centroid lands between them, finer than the grid."""
    cam = np.ones((1, 7, 7), np.float32)
    fmap = np.zeros((1, 56, 56), np.float32)
    fmap[0, 30, 20] = 1.0
    fmap[0, 30, 21] = 1.0
    loc = mc.localize(cam, fmap, input_size=(224, 224), mode="fused", radius=1)
    assert loc.x[0] == pytest.approx(21.0 * 4)  # between centres 20.5 and 21.5, in input pixels
    assert loc.y[0] == pytest.approx(30.5 * 4)
    np.testing.assert_array_equal(ref.localize(cam, fmap, np.array([[1, 1, 0, 0]], np.float32), (224, 224)).x, loc.x)


@pytest.mark.parametrize("mode", ["paper", "fused"])
def test_ties_go_to_the_first_row_major_index(mode: str) -> None:
    cam = np.ones((1, 7, 7), np.float32)  # every CAM cell ties: the ROI is cell (0, 0)
    fmap = np.zeros((1, 56, 56), np.float32)
    fmap[0, 3, 6] = 1.0  # two equal maxima; (3, 6) comes first in row-major order
    fmap[0, 5, 2] = 1.0
    loc = mc.localize(cam, fmap, input_size=(56, 56), mode=mode, radius=0)
    assert (loc.x[0], loc.y[0]) == (6.5, 3.5)
    want = ref.localize(cam, fmap, np.array([[1, 1, 0, 0]], np.float32), (56, 56), mode, 0)  # type: ignore[arg-type]
    assert (want.x[0], want.y[0]) == (6.5, 3.5)


def test_postprocess_equals_grad_cam_then_localize(rng: np.random.Generator) -> None:
    feat, grad = make_batch(rng, 9, 128, 7, 7)
    fmap = rng.random((9, 112, 112)).astype(np.float32)
    geo = geometry(rng, 9)
    for mode in ("paper", "fused"):
        res = mc.postprocess(feat, grad, fmap, input_size=(224, 224), geometry=geo, mode=mode)  # type: ignore[arg-type]
        cam = mc.grad_cam(feat, grad)
        loc = mc.localize(cam, fmap, input_size=(224, 224), geometry=geo, mode=mode)  # type: ignore[arg-type]
        np.testing.assert_array_equal(res.cam, cam)
        np.testing.assert_array_equal(res.x, loc.x)
        np.testing.assert_array_equal(res.y, loc.y)
        np.testing.assert_array_equal(res.peak, loc.peak)


def test_empty_batch_gives_empty_results(rng: np.random.Generator) -> None:
    feat, grad = make_batch(rng, 0, 8, 7, 7)
    res = mc.postprocess(feat, grad, np.zeros((0, 56, 56), np.float32), input_size=(224, 224))
    assert res.cam.shape == (0, 7, 7)
    assert res.x.shape == (0,)


def test_reference_and_native_dispatch_agree(rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    feat, grad = make_batch(rng, 5, 64, 7, 7)
    fmap = rng.random((5, 56, 56)).astype(np.float32)
    native = mc.postprocess(feat, grad, fmap, input_size=(224, 224))
    monkeypatch.setenv("METEORFAST_KERNELS", "reference")
    reference = mc.postprocess(feat, grad, fmap, input_size=(224, 224))
    np.testing.assert_allclose(native.cam, reference.cam, atol=2e-5)
    np.testing.assert_allclose(native.x, reference.x, atol=1e-3)


# ---- NaN / Inf ----

BAD_VALUES = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("where", ["grad", "features"])
def test_nonfinite_cam_inputs_raise(rng: np.random.Generator, kernels: str, bad: float, where: str) -> None:
    feat, grad = make_batch(rng, 4, 8, 7, 7)
    (grad if where == "grad" else feat)[2, 3, 1, 1] = bad
    with pytest.raises(NonFiniteError, match=r"expected finite values, got NaN or Inf in batch item 2"):
        mc.grad_cam(feat, grad)
    fmap = np.zeros((4, 56, 56), np.float32)
    with pytest.raises(NonFiniteError, match="batch item 2"):
        mc.postprocess(feat, grad, fmap, input_size=(224, 224))
    if where == "grad":
        with pytest.raises(NonFiniteError, match="batch item 2"):
            mc.pool_gradients(grad)


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("where", ["cam", "fmap", "geometry"])
def test_nonfinite_localize_inputs_raise(rng: np.random.Generator, kernels: str, bad: float, where: str) -> None:
    cam = rng.random((3, 7, 7)).astype(np.float32)
    fmap = rng.random((3, 56, 56)).astype(np.float32)
    geo = np.tile(np.array([1, 1, 0, 0], np.float32), (3, 1))
    if where == "cam":
        cam[1, 0, 0] = bad
    elif where == "fmap":
        fmap[1, 5, 5] = bad
    else:
        geo[1, 2] = bad
    with pytest.raises(NonFiniteError, match="batch item 1"):
        mc.localize(cam, fmap, input_size=(224, 224), geometry=geo)


def test_nonfinite_weights_raise(rng: np.random.Generator, kernels: str) -> None:
    feat, grad = make_batch(rng, 2, 8, 7, 7)
    weights = grad.mean(axis=(2, 3))
    weights[1, 4] = np.nan
    with pytest.raises(NonFiniteError, match="batch item 1"):
        mc.grad_cam(feat, weights=weights)


# ---- argument errors ----


def test_bad_arguments_raise_input_errors(rng: np.random.Generator, kernels: str) -> None:
    feat, grad = make_batch(rng, 2, 8, 7, 7)
    with pytest.raises(InputError, match=r"expected features and grad of one shape"):
        mc.grad_cam(feat, grad[:, :4])
    with pytest.raises(InputError, match=r"expected 4 dimensions, got shape \(2, 8, 7\)"):
        mc.grad_cam(feat[:, :, 0], grad[:, :, 0])
    with pytest.raises(InputError, match=r"expected float32 or float16, got int32"):
        mc.grad_cam(feat.astype(np.int32), grad)
    with pytest.raises(InputError, match="exactly one of grad or weights"):
        mc.grad_cam(feat)
    with pytest.raises(InputError, match=r"expected weights of shape \(2, 8\)"):
        mc.grad_cam(feat, weights=np.zeros((2, 9), np.float32))
    cam = np.zeros((2, 7, 7), np.float32)
    with pytest.raises(InputError, match="expected mode 'paper' or 'fused'"):
        mc.localize(cam, np.zeros((2, 56, 56), np.float32), input_size=(224, 224), mode="nearest")  # type: ignore[call-overload]
    with pytest.raises(InputError, match="one batch size"):
        mc.localize(cam, np.zeros((3, 56, 56), np.float32), input_size=(224, 224))
    with pytest.raises(InputError, match="input_size"):
        mc.localize(cam, np.zeros((2, 56, 56), np.float32), input_size=(0, 224))
    with pytest.raises(InputError, match="radius"):
        mc.localize(cam, np.zeros((2, 56, 56), np.float32), input_size=(224, 224), radius=-1)
    with pytest.raises(InputError, match=r"geometry of shape \(2, 4\)"):
        mc.localize(cam, np.zeros((2, 56, 56), np.float32), input_size=(224, 224), geometry=np.ones((2, 3)))
    with pytest.raises(InputError, match="out= takes device buffers"):
        mc.grad_cam(feat, grad, out=mc.DeviceOutputs(status=None))  # type: ignore[call-overload]


def test_float64_inputs_are_accepted(rng: np.random.Generator) -> None:
    feat, grad = make_batch(rng, 2, 8, 7, 7)
    np.testing.assert_allclose(mc.grad_cam(feat.astype(np.float64), grad.astype(np.float64)), mc.grad_cam(feat, grad))


def test_errors_are_one_family() -> None:
    assert issubclass(NonFiniteError, InputError)
    assert issubclass(InputError, MeteorfastError)
    assert issubclass(InputError, ValueError)


# ---- property tests ----


@st.composite
def cam_batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, int]:
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 40))
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    big_h = draw(st.integers(1, 70))
    big_w = draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-6, 1e-2, 1.0, 1e3]))
    feat = np.maximum(rng.standard_normal((n, k, h, w)), 0).astype(np.float32) * np.float32(scale)
    grad = rng.standard_normal((n, k, h, w)).astype(np.float32)
    if draw(st.booleans()):
        grad = np.round(grad)  # many exact ties and zero channels
    fmap = rng.random((n, big_h, big_w)).astype(np.float32)
    if draw(st.booleans()):
        fmap = np.round(fmap * 3)  # ties in the fine map
    return feat, grad, fmap, draw(st.sampled_from(["paper", "fused"])), draw(st.integers(0, 3))


@settings(max_examples=150, deadline=None)
@given(cam_batches())
def test_property_native_equals_reference(batch: tuple[np.ndarray, np.ndarray, np.ndarray, str, int]) -> None:
    feat, grad, fmap, mode, radius = batch
    res = mc.postprocess(feat, grad, fmap, input_size=(224, 224), mode=mode, radius=radius)  # type: ignore[arg-type]
    assert np.isfinite(res.cam).all()
    assert ((res.cam >= 0) & (res.cam <= 1)).all()
    cam_ref = ref.grad_cam(feat, grad)
    np.testing.assert_allclose(res.cam, cam_ref, atol=2e-5)
    # Localise the native CAM both ways, so a 1-ulp CAM difference cannot flip an argmax between the two.
    want = ref.localize(res.cam, fmap, np.array([[1, 1, 0, 0]] * len(fmap), np.float32), (224, 224), mode, radius)  # type: ignore[arg-type]
    np.testing.assert_allclose(res.x, want.x, atol=1e-4)
    np.testing.assert_allclose(res.y, want.y, atol=1e-4)
    np.testing.assert_array_equal(res.peak, want.peak)
    assert ((res.x >= 0) & (res.x <= 224) & (res.y >= 0) & (res.y <= 224)).all()


@settings(max_examples=60, deadline=None)
@given(cam_batches(), st.floats(0.01, 100))
def test_property_cam_is_invariant_to_positive_gradient_scale(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, str, int], factor: float
) -> None:
    """Holds where the 1e-7 epsilon is negligible: every item's raw CAM range stays above 1e-2 after scaling.

    Not where the range is 0 in float64: there the float32 sums that cancel can round to either side of zero, a
    few 1e-9 after scaling, which min-max over an epsilon of 1e-7 turns into CAM values of a few 1e-2."""
    feat, grad, *_ = batch
    raw = np.maximum(np.einsum("nk,nkhw->nhw", grad.mean(axis=(2, 3), dtype=np.float64), feat), 0)
    span = (raw.max(axis=(1, 2)) - raw.min(axis=(1, 2))) * min(factor, 1.0)
    keep = span > 1e-2
    a = mc.grad_cam(feat, grad)
    b = mc.grad_cam(feat, (grad * np.float32(factor)).astype(np.float32))
    np.testing.assert_allclose(a[keep], b[keep], atol=1e-4)
