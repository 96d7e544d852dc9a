"""The backend contract, on the real ONNX Runtime with small graphs built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meteorfast.backends import available_backends, backend_for, get_backend
from meteorfast.backends.onnxruntime import OnnxRuntimeBackend
from meteorfast.errors import BackendUnavailableError, InputError, MeteorfastError

onnx = pytest.importorskip("onnx", reason="onnx (the [test] extra) builds the test graphs")


def scale_model(path: Path) -> Path:
    """frames uint8 [N,1,4,4] -> features = 2 * float(frames), score = mean(features) per item."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["frames"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f", "two"], ["features"]),
        helper.make_node("ReduceMean", ["features", "axes"], ["score"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "scale",
        [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["N", 1, 4, 4])],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1, 4, 4]),
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"]),
        ],
        initializer=[
            helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
            helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, path)
    return path


def test_registry_reports_every_backend() -> None:
    status = available_backends()
    assert set(status) >= {"onnxruntime", "tensorrt"}
    assert status["onnxruntime"].available
    for s in status.values():
        assert s.available or s.reason


def test_backend_chosen_by_suffix(tmp_path: Path) -> None:
    assert backend_for(tmp_path / "m.onnx") is OnnxRuntimeBackend
    with pytest.raises(InputError, match=r"expected a model file ending in one of \['.engine', '.onnx', '.plan'\]"):
        backend_for(tmp_path / "m.pt")
    with pytest.raises(InputError, match="expected one of"):
        get_backend("openvino")


def test_tensorrt_unavailable_here_says_why() -> None:
    status = available_backends()["tensorrt"]
    if status.available:
        pytest.skip("TensorRT is usable on this machine")
    with pytest.raises(BackendUnavailableError, match="cannot run here: "):
        get_backend("tensorrt")


@pytest.mark.parametrize("batch", [1, 3, 17, 64])
def test_onnxruntime_runs_with_dynamic_batch(tmp_path: Path, rng: np.random.Generator, batch: int) -> None:
    model = scale_model(tmp_path / "scale.onnx")
    frames = rng.integers(0, 256, (batch, 1, 4, 4), dtype=np.uint8)
    with OnnxRuntimeBackend(str(model), threads=1) as b:
        assert list(b.input_specs) == ["frames"]
        assert b.input_specs["frames"].dtype == np.uint8
        assert b.input_specs["frames"].shape[1:] == (1, 4, 4)
        assert set(b.output_specs) == {"features", "score"}
        out = b.infer({"frames": frames})
        assert b.last_infer_ms > 0
    np.testing.assert_allclose(out["features"], 2.0 * frames.astype(np.float32))
    np.testing.assert_allclose(out["score"], 2.0 * frames.reshape(batch, -1).mean(axis=1), rtol=1e-6)


def test_infer_validates_feeds(tmp_path: Path) -> None:
    b = OnnxRuntimeBackend(str(scale_model(tmp_path / "scale.onnx")), threads=1)
    with pytest.raises(MeteorfastError, match="call open"):
        b.infer({"frames": np.zeros((1, 1, 4, 4), np.uint8)})
    b.open()
    try:
        with pytest.raises(InputError, match=r"expected dtype uint8, got float32"):
            b.infer({"frames": np.zeros((1, 1, 4, 4), np.float32)})
        with pytest.raises(InputError, match=r"expected shape \('N', 1, 4, 4\), got \(1, 1, 4, 5\)"):
            b.infer({"frames": np.zeros((1, 1, 4, 5), np.uint8)})
        with pytest.raises(InputError, match=r"missing \['frames'\]; unknown \['image'\]"):
            b.infer({"image": np.zeros((1, 1, 4, 4), np.uint8)})
    finally:
        b.close()
    assert not b.is_open


def test_context_manager_does_not_swallow_errors(tmp_path: Path) -> None:
    b = OnnxRuntimeBackend(str(scale_model(tmp_path / "scale.onnx")), threads=1)
    with pytest.raises(KeyError), b:
        raise KeyError("inside")
    assert not b.is_open


def test_bad_model_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        OnnxRuntimeBackend(str(tmp_path / "none.onnx")).open()
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(InputError, match="expected a valid ONNX graph"):
        OnnxRuntimeBackend(str(garbage)).open()
    good = scale_model(tmp_path / "scale.onnx").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="expected a valid ONNX graph"):
        OnnxRuntimeBackend(str(truncated)).open()
