"""pytest-benchmark suite for the native kernels against the NumPy reference: post-processing (pool, Grad-CAM and
localisation of N=64, K=1280 7x7 features with 112x112 first-layer maps) and stacking (25 frames of 1280x720).

    pytest benchmarks --benchmark-enable --benchmark-json benchmarks/results/pytest-benchmark.json

Ratios, and the targets they are held to, come from benchmarks/kernel_ratios.py, which interleaves the two in one
run.
"""

from __future__ import annotations

import numpy as np
import pytest

import meteorfast.cam as mc
from meteorfast.cam import reference as ref


@pytest.fixture(autouse=True)
def native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_KERNELS", "native")


@pytest.mark.benchmark(group="postprocess N=64 K=1280 7x7 F=112")
def test_postprocess_native(benchmark, cam_batch) -> None:  # type: ignore[no-untyped-def]
    feat, grad, fmap = cam_batch
    res = benchmark(mc.postprocess, feat, grad, fmap, input_size=(224, 224))
    assert res.cam.shape == (64, 7, 7)


@pytest.mark.benchmark(group="postprocess N=64 K=1280 7x7 F=112")
def test_postprocess_reference(benchmark, cam_batch, reference_postprocess) -> None:  # type: ignore[no-untyped-def]
    res = benchmark(reference_postprocess, *cam_batch)
    assert res.x.shape == (64,)


@pytest.mark.benchmark(group="stack 25x1280x720 uint8")
def test_stack_native(benchmark, window) -> None:  # type: ignore[no-untyped-def]
    res = benchmark(mc.stack, window)
    assert res.frames == 25


@pytest.mark.benchmark(group="stack 25x1280x720 uint8")
def test_stack_reference(benchmark, window) -> None:  # type: ignore[no-untyped-def]
    res = benchmark(ref.stack, window)
    assert res.candidate.dtype == np.uint8
