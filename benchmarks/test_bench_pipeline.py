"""pytest-benchmark suite for the backend per batch size and for the whole pipeline, with the shipped model.

    pytest benchmarks --benchmark-enable --benchmark-json benchmarks/results/pytest-benchmark.json

`meteorfast bench` measures the same things with interleaved comparisons; this suite gives pytest-benchmark's
statistics (rounds, min, median, IQR) for tracking one machine over time.
"""

from __future__ import annotations

import numpy as np
import pytest

from meteorfast.backends.onnxruntime import OnnxRuntimeBackend
from meteorfast.bench import synthetic_frames
from meteorfast.data import SAMPLE_VIDEO, default_model
from meteorfast.detector import Detector
from meteorfast.preprocess import Preprocessor

OUTPUTS = ["prob", "features", "cam_weights", "conv1_map"]


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """64 simulated 1280x720 frames (stills, half with a meteor)."""
    return synthetic_frames(64)


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    with OnnxRuntimeBackend(str(default_model()), spin=False) as b:
        yield b


@pytest.mark.benchmark(group="onnxruntime infer (CAM outputs), shipped model")
@pytest.mark.parametrize("batch", [1, 8, 32, 64])
def test_backend_infer(benchmark, backend, frames, batch: int) -> None:  # type: ignore[no-untyped-def]
    x, _ = Preprocessor((224, 224)).batch(frames[:batch])
    out = benchmark(backend.infer, {"frames": x}, OUTPUTS)
    assert out["prob"].shape == (batch,)


@pytest.mark.benchmark(group="Detector.classify, 1280x720, full path")
@pytest.mark.parametrize("batch", [8, 32])
def test_classify(benchmark, frames, batch: int) -> None:  # type: ignore[no-untyped-def]
    det = Detector(batch_size=batch).open()
    res = benchmark(det.classify, frames[:batch])
    assert len(res) == batch


@pytest.mark.benchmark(group="Detector.stream over the bundled GMN clip (201 frames, decode included)")
@pytest.mark.parametrize("mode", ["frame", "stack"])
def test_stream_clip(benchmark, mode: str) -> None:  # type: ignore[no-untyped-def]
    det = Detector(batch_size=32, mode=mode).open()  # type: ignore[arg-type]
    results = benchmark.pedantic(lambda: list(det.stream(str(SAMPLE_VIDEO))), rounds=3, iterations=1)
    assert len(results) == (201 if mode == "frame" else 8)
