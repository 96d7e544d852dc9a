"""TensorRT on a real GPU: build, parity with ONNX Runtime, on-device Grad-CAM parity with the CPU kernels, engine
reuse and refusal. Marked ``gpu``; without TensorRT and a device every test here skips, saying why.

Tolerances: fp32 engines rel 1e-3 (TensorRT picks other kernels than ONNX Runtime); fp16 rel 2e-2 on logits and
0.05 on the [0, 1] CAM.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import meteorfast.cam as mc
from meteorfast.backends import available_backends
from meteorfast.errors import EngineMismatchError

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu() -> None:
    status = available_backends()["tensorrt"]
    if not status.available:
        pytest.skip(f"TensorRT cannot run here: {status.reason}")


@pytest.fixture(scope="module")
def tiny_onnx(gpu: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch", reason="torch (the [train] extra) exports the test model")
    from meteorfast.export import export_onnx
    from meteorfast.models import create

    torch.manual_seed(0)
    return export_onnx(create("tiny", head="fastai"), tmp_path_factory.mktemp("trt") / "tiny.onnx", (64, 64))


def frames(n: int) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 256, (n, 1, 64, 64), dtype=np.uint8)


def ort_outputs(onnx: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    from meteorfast.backends.onnxruntime import OnnxRuntimeBackend

    with OnnxRuntimeBackend(str(onnx)) as b:
        return {k: np.asarray(v) for k, v in b.infer({"frames": x}).items()}


@pytest.mark.parametrize(("precision", "rtol", "cam_tol"), [("fp32", 1e-3, 1e-3), ("fp16", 2e-2, 0.05)])
def test_engine_matches_onnxruntime_and_cpu_kernels(
    tiny_onnx: Path, tmp_path: Path, precision: str, rtol: float, cam_tol: float
) -> None:
    from meteorfast.backends.tensorrt import TensorRTBackend, build_engine

    engine = build_engine(
        tiny_onnx, precision=precision, batch=(1, 4, 16), out_dir=tmp_path, timing_cache=tmp_path / "t.cache"
    )
    assert engine.is_file()
    assert (tmp_path / "t.cache").is_file()
    manifest = json.loads(engine.with_suffix(".json").read_text())
    assert manifest["precision"] == precision
    assert manifest["profile"] == [1, 4, 16]
    assert "grad" not in manifest["outputs"]  # dropped at build time: cam_weights is enough
    for n in (1, 5, 16):
        x = frames(n)
        want = ort_outputs(tiny_onnx, x)
        with TensorRTBackend(engine) as b:
            got = b.infer({"frames": x})
            fast = b.collect(b.submit(x, want_cam=True))
        np.testing.assert_allclose(got["logits"], want["logits"], rtol=rtol, atol=rtol * np.abs(want["logits"]).max())
        cam = mc.grad_cam(want["features"], weights=want["cam_weights"])
        loc = mc.localize(cam, want["conv1_map"][:, 0], input_size=(64, 64))
        assert fast.cam is not None
        np.testing.assert_allclose(fast.cam, cam, atol=cam_tol)
        np.testing.assert_allclose(fast.prob, want["prob"], atol=rtol * 10)
        if precision == "fp32":
            np.testing.assert_allclose(fast.x, loc.x, atol=0.5)
            np.testing.assert_allclose(fast.y, loc.y, atol=0.5)


def test_two_batches_in_flight(tiny_onnx: Path, tmp_path: Path) -> None:
    from meteorfast.backends.tensorrt import TensorRTBackend, build_engine

    engine = build_engine(tiny_onnx, precision="fp32", batch=(1, 4, 16), out_dir=tmp_path)
    a, b = frames(8), frames(9)
    with TensorRTBackend(engine) as backend:
        ta, tb = backend.submit(a), backend.submit(b)
        rb, ra = backend.collect(tb), backend.collect(ta)
        solo = backend.collect(backend.submit(a))
    np.testing.assert_allclose(ra.prob, solo.prob, rtol=1e-6)
    assert rb.prob.shape == (9,)


def test_matching_engine_is_reused_and_mismatch_refused(tiny_onnx: Path, tmp_path: Path) -> None:
    from meteorfast.backends.tensorrt import TensorRTBackend, build_engine

    engine = build_engine(tiny_onnx, precision="fp32", batch=(1, 2, 4), out_dir=tmp_path)
    stamp = os.stat(engine).st_mtime_ns
    assert build_engine(tiny_onnx, precision="fp32", batch=(1, 2, 4), out_dir=tmp_path) == engine
    assert os.stat(engine).st_mtime_ns == stamp
    manifest = engine.with_suffix(".json")
    data = json.loads(manifest.read_text())
    data["tensorrt_version"] = "9.0.0"
    manifest.write_text(json.dumps(data))
    with pytest.raises(
        EngineMismatchError, match=r"rebuild it with: meteorfast build-engine .* --precision fp32 --batch 1,2,4"
    ):
        TensorRTBackend(engine).open()
