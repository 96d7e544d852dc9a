"""INT8 quantisation on a real exported graph, preprocessing geometry, the synthetic sky and the real-data loaders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import meteorfast.cam as mc
from meteorfast.backends import choose_backend
from meteorfast.errors import InputError
from meteorfast.preprocess import Preprocessor, to_uint8
from meteorfast.synth import SimConfig, sample

torch = pytest.importorskip("torch", reason="torch (the [train] extra) is needed to export the graph to quantise")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def tiny_model() -> Any:
    """The tiny model with a seeded head and non-trivial head BN statistics."""
    from meteorfast.models import create

    torch.manual_seed(0)
    model = create("tiny", head="fastai")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_var.uniform_(0.5, 2)
    return model


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from meteorfast.export import export_onnx

    return export_onnx(tiny_model(), tmp_path_factory.mktemp("q") / "tiny.onnx", (64, 64))


def run(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, {"frames": x}), strict=True))


def test_quantized_graph_keeps_cam_outputs_float(tiny_onnx: Path, tmp_path: Path) -> None:
    from meteorfast.quantize import quantize_onnx

    out = tmp_path / "tiny.int8.onnx"
    report = quantize_onnx(tiny_onnx, out, calib=24)
    assert report.path == out
    assert sum(report.calibration.values()) == 24
    assert report.calibration["synthetic"] == 8
    model = onnx.load(str(out))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 0
    producer = {o: n for n in model.graph.node for o in n.output}
    for name in ("features", "grad", "cam_weights", "conv1_map"):
        node = producer[name]
        assert node.op_type not in ("DequantizeLinear", "QuantizeLinear"), name
        for inp in node.input:  # the CAM tensors are computed from float tensors, not from Q/DQ pairs
            assert inp not in producer or producer[inp].op_type != "DequantizeLinear", (name, inp)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["meteorfast.precision"] == "int8"
    assert meta["meteorfast.arch"] == "tiny"
    x = np.stack([f.image for f in sample(6, 3, config=SimConfig(size=(64, 64)))])[:, None]
    fp32, int8 = run(tiny_onnx, x), run(out, x)
    for name in fp32:
        assert int8[name].shape == fp32[name].shape
        assert int8[name].dtype == np.float32
    # Quantisation changes the body's numbers a little, not the nature of the outputs.
    assert np.abs(int8["prob"] - fp32["prob"]).max() < 0.2
    # conv1_map passes through one quantised conv (the stem) and no Q/DQ of its own: a few percent on average.
    rel = np.abs(int8["conv1_map"] - fp32["conv1_map"]).mean() / np.abs(fp32["conv1_map"]).mean()
    assert rel < 0.05
    cam = mc.grad_cam(int8["features"], int8["grad"])
    assert np.isfinite(cam).all()


def test_quantize_keeps_the_threshold_the_model_stores(tiny_onnx: Path, tmp_path: Path) -> None:
    from meteorfast.calibration import THRESHOLD_KEY, stored_thresholds, write_threshold
    from meteorfast.quantize import quantize_onnx

    calibrated = write_threshold(tiny_onnx, tmp_path / "cal.onnx", 0.62, "frame")
    out = quantize_onnx(calibrated, tmp_path / "cal.int8.onnx", calib=8).path
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert THRESHOLD_KEY in meta
    assert stored_thresholds(meta) == {"frame": 0.62}


def test_quantize_refuses_foreign_graphs(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    from meteorfast.quantize import quantize_onnx

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )  # fmt: skip
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    with pytest.raises(InputError, match="expected a graph exported by meteorfast"):
        quantize_onnx(foreign, tmp_path / "out.onnx")
    with pytest.raises(InputError, match="does not exist"):
        quantize_onnx(tmp_path / "missing.onnx", tmp_path / "out.onnx")
    with pytest.raises(InputError, match="method one of"):
        quantize_onnx(foreign, tmp_path / "out.onnx", method="kl")
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("batch", [1, 2, 7, 33, 64])
def test_onnxruntime_backend_matches_torch_across_batch_sizes(tiny_onnx: Path, batch: int) -> None:
    from meteorfast.backends.onnxruntime import OnnxRuntimeBackend

    model = tiny_model()
    x = np.random.default_rng(batch).integers(0, 256, (batch, 1, 64, 64), dtype=np.uint8)
    with OnnxRuntimeBackend(str(tiny_onnx)) as backend:
        out = backend.infer({"frames": x})
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-4, atol=1e-5)
    assert out["features"].shape[0] == batch


def test_auto_backend_choice(tmp_path: Path) -> None:
    assert choose_backend(tmp_path / "m.engine") == "tensorrt"
    assert choose_backend(tmp_path / "m.onnx", "onnxruntime") == "onnxruntime"
    from meteorfast.backends import available_backends

    want = "tensorrt" if available_backends()["tensorrt"].available else "onnxruntime"
    assert choose_backend(tmp_path / "m.onnx") == want
    with pytest.raises(InputError, match="expected 'auto' or one of"):
        choose_backend(tmp_path / "m.onnx", "openvino")


# ---- preprocessing ----


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_geometry_maps_input_pixels_back_to_the_frame(mode: str) -> None:
    frame = np.zeros((720, 1280), np.uint8)
    cv2.circle(frame, (1000, 200), 6, 255, -1)
    prep = Preprocessor((224, 224), 1, mode)  # type: ignore[arg-type]
    batch, geo = prep.batch([frame])
    assert batch.shape == (1, 1, 224, 224)
    assert batch.dtype == np.uint8
    y, x = np.unravel_index(np.argmax(batch[0, 0]), (224, 224))
    fx = (x + 0.5) * geo[0, 0] + geo[0, 2]
    fy = (y + 0.5) * geo[0, 1] + geo[0, 3]
    assert abs(fx - 1000) < 8
    assert abs(fy - 200) < 8
    if mode == "letterbox":
        assert geo[0, 0] == pytest.approx(geo[0, 1])  # aspect kept
        assert batch[0, 0, :50].max() == 0  # padded band


def test_preprocess_types_and_channels() -> None:
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 2] = 200  # red in BGR
    grey, _ = Preprocessor((16, 16), 1).batch([rgb])
    assert grey[0, 0].mean() == pytest.approx(0.299 * 200, abs=1.5)
    colour, _ = Preprocessor((16, 16), 3).batch([np.full((30, 40), 7, np.uint8)])
    assert colour.shape == (1, 3, 16, 16)
    assert (colour == 7).all()
    assert to_uint8(np.array([0, 65535, 32896], np.uint16)).tolist() == [0, 255, 128]
    with pytest.raises(InputError, match="expected uint8 or uint16 pixels, got float32"):
        Preprocessor((16, 16)).batch([np.zeros((4, 4), np.float32)])
    with pytest.raises(InputError, match="expected mode 'stretch' or 'letterbox'"):
        Preprocessor((16, 16), 1, "crop")  # type: ignore[arg-type]


# ---- synthetic sky and real data ----


@pytest.mark.realdata
def test_meteorfinder_boxes_are_found_and_removed(realdata: Path) -> None:
    from meteorfast.datasets import meteorfinder_frames

    frames = meteorfinder_frames(realdata / "meteorfinder" / "MeterosOutput")
    assert len(frames) == 22
    assert sum(len(f.boxes) for f in frames) == 23  # DXM_9066 marks two meteors
    for f in frames:
        raw = cv2.imread(str(f.path), cv2.IMREAD_GRAYSCALE)
        for x0, y0, x1, y1 in f.boxes:
            assert max(x1 - x0, y1 - y0) > 20
            # All four sides, the short ones too (a box under 25 px across shows the detector only its long sides).
            ring = np.zeros(raw.shape, bool)
            ring[[y0, y1], x0 : x1 + 1] = True
            ring[y0 : y1 + 1, [x0, x1]] = True
            # They were white; after inpainting they are gone, but where a meteor crosses them.
            assert (raw[ring] >= 250).mean() > 0.8
            assert (f.image[ring] >= 250).mean() < 0.2
            if x1 - x0 >= y1 - y0:
                short = np.concatenate([f.image[y0 : y1 + 1, x0], f.image[y0 : y1 + 1, x1]])
            else:
                short = np.concatenate([f.image[y0, x0 : x1 + 1], f.image[y1, x0 : x1 + 1]])
            assert (short >= 250).mean() < 0.2, f.path.name
