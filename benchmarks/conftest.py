"""Fixtures of the pytest-benchmark suites (test_bench_kernels.py, test_bench_pipeline.py), and the post-processing
load that kernel_ratios.py shares with them.

    pytest benchmarks --benchmark-enable --benchmark-json benchmarks/results/pytest-benchmark.json
"""

from __future__ import annotations

import numpy as np
import pytest

from meteorfast.cam import reference as ref

N, K, H, W, F = 64, 1280, 7, 7, 112
GEOMETRY = np.tile(np.array([1, 1, 0, 0], np.float32), (N, 1))


@pytest.fixture(scope="session")
def cam_batch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The post-processing load the kernels are measured on: N=64, K=1280, 7x7 features, 112x112 first-layer
    maps."""
    rng = np.random.default_rng(0)
    feat = np.maximum(rng.standard_normal((N, K, H, W)), 0).astype(np.float32)
    grad = (rng.standard_normal((N, K, H, W)) * 1e-3).astype(np.float32)
    fmap = rng.random((N, F, F)).astype(np.float32)
    return feat, grad, fmap


@pytest.fixture(scope="session")
def window() -> np.ndarray:
    """25 frames of 1280x720 uint8: one second of a GMN camera."""
    return np.random.default_rng(1).integers(0, 256, (25, 720, 1280), dtype=np.uint8)


def reference_postprocess(feat: np.ndarray, grad: np.ndarray, fmap: np.ndarray) -> ref.Localization:
    """The reference's pool + CAM + fused localisation, as one call."""
    return ref.localize(ref.grad_cam(feat, grad), fmap, GEOMETRY, (224, 224), "fused", 1)


@pytest.fixture(name="reference_postprocess", scope="session")
def reference_postprocess_fixture() -> object:
    return reference_postprocess
