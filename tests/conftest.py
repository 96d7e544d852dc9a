from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

Streak = Callable[[np.ndarray, float, float, float, float, np.ndarray], None]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REALDATA = SHARED / "realdata"
GMN_CLIP = REALDATA / "meteordl" / "CZ0003_20210307_021710_233167.mp4"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata beside the checkout; a user's fresh clone has none, so tests using it skip."""
    if not REALDATA.is_dir():
        pytest.skip(f"needs {REALDATA} (the shared real meteor data beside the checkout), which is absent")
    return REALDATA


@pytest.fixture(scope="session")
def run_benchmark(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """Runs ``benchmarks/NAME.py ARGS...`` as a program, with the interpreter running the tests, from the checkout's
    root, and returns the JSON report it writes with ``--json``; skips where the source checkout's ``benchmarks/``
    is absent. Tests never import a benchmark script."""

    def run(name: str, *args: str, timeout: float = 300) -> dict[str, Any]:
        script = REPO / "benchmarks" / f"{name}.py"
        if not script.is_file():
            pytest.skip(f"needs the source checkout's benchmarks/ ({script} is absent)")
        out = tmp_path_factory.mktemp(name) / "report.json"
        done = subprocess.run([sys.executable, str(script), *args, "--json", str(out)], cwd=REPO,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
        assert done.returncode == 0, f"{script.name} {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        report: dict[str, Any] = json.loads(out.read_text())
        return report

    return run


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(params=["native", "reference"])
def kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once on the native CPU kernels and once on the NumPy reference."""
    monkeypatch.setenv("METEORFAST_KERNELS", request.param)
    return str(request.param)


@pytest.fixture
def use_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_KERNELS", "native")


@pytest.fixture
def use_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_KERNELS", "reference")


def build_spot_model(path: Path, size: int | tuple[int, int] = 224) -> Path:
    """A real ONNX graph with meteorfast's I/O contract that "detects" the brightest spot: ``prob`` is the brightest
    input pixel / 255, ``features`` the 32x32 block maxima (7x7 at 224), ``cam_weights`` positive, ``conv1_map`` the
    2x2 block means (112x112); ``size`` is the input's side, or its ``(height, width)``. Run by ONNX Runtime like
    any model, it makes the pipeline's geometry testable to the pixel without depending on what a trained network
    happens to have learned."""
    import onnx
    from onnx import TensorProto, helper

    h, w = (size, size) if isinstance(size, int) else size
    cell = h // 7
    nodes = [
        helper.make_node("Cast", ["frames"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "inv255"], ["x"]),
        helper.make_node("AveragePool", ["x"], ["conv1_map"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("MaxPool", ["x"], ["features"], kernel_shape=[cell, cell], strides=[cell, cell]),
        helper.make_node("ReduceMax", ["features", "hw"], ["cam_weights"], keepdims=0),
        helper.make_node("ReduceMax", ["x", "chw"], ["prob"], keepdims=0),
    ]
    inits = [
        helper.make_tensor("inv255", TensorProto.FLOAT, [], [1 / 255]),
        helper.make_tensor("hw", TensorProto.INT64, [2], [2, 3]),
        helper.make_tensor("chw", TensorProto.INT64, [3], [1, 2, 3]),
    ]
    graph = helper.make_graph(
        nodes, "spot", [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["batch", 1, h, w])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch"]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1, h // cell, w // cell]),
         helper.make_tensor_value_info("cam_weights", TensorProto.FLOAT, ["batch", 1]),
         helper.make_tensor_value_info("conv1_map", TensorProto.FLOAT, ["batch", 1, h // 2, w // 2])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def spot_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_spot_model(tmp_path_factory.mktemp("models") / "spot.onnx")


@pytest.fixture(scope="session")
def wide_spot_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The spot model with a 224x384 (height x width) input, as a 16:9-minded model has."""
    return build_spot_model(tmp_path_factory.mktemp("models") / "wide_spot.onnx", (224, 384))


@pytest.fixture(scope="session")
def tall_spot_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The spot model with a 384x224 (height x width) input: tiles 224 px high are 131 px wide."""
    return build_spot_model(tmp_path_factory.mktemp("models") / "tall_spot.onnx", (384, 224))


def _add_streak(img: np.ndarray, x: float, y: float, angle: float, length: float, light: np.ndarray) -> None:
    import cv2

    d = np.array([np.cos(angle), np.sin(angle)])
    layer = np.zeros_like(img)
    for k, v in enumerate(light):
        a = np.array([x, y]) + d * length * k / len(light)
        b = np.array([x, y]) + d * length * (k + 1) / len(light)
        cv2.line(layer, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)), float(v), 1,
                 cv2.LINE_AA, 4)  # fmt: skip
    img += cv2.GaussianBlur(layer, (0, 0), 1.0) * 2.5


@pytest.fixture(scope="session")
def add_streak() -> Streak:
    """Draws a streak into a float32 frame ``[H,W]`` in place: from ``(x, y)`` (pixel centres) along ``angle``
    radians for ``length`` px, its brightness ``light`` sampled along it in 1 px steps, anti-aliased and blurred by
    sigma 1 px."""
    return _add_streak
