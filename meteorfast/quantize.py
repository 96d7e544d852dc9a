"""Static INT8 quantisation of an exported graph with ONNX Runtime's quantiser (QDQ format, per-channel weights).

The body is quantised; the Grad-CAM tensors are not: only the ancestors of ``features`` are quantised, and the
nodes that stay float (the one producing ``features``, the head and its gradient, the ``conv1_map`` reduction) are
rewired to read the unquantised tensors, so those outputs carry no quantisation step of their own.

Calibration uses representative frames: synthetic night skies, the bundled GMN clip, and the MeteorFinder DSLR
frames in ``../shared/realdata`` when present.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError
from meteorfast.io import atomic_write_bytes
from meteorfast.preprocess import Preprocessor

FLOAT_OUTPUTS = ("features", "grad", "cam_weights", "conv1_map")


@dataclass(frozen=True)
class CalibrationSet:
    """``frames``: uint8 ``[N,C,H,W]`` model inputs; ``sources``: how many came from each source."""

    frames: npt.NDArray[np.uint8]
    sources: dict[str, int]


def calibration_frames(count: int, size: tuple[int, int], channels: int = 1, seed: int = 0) -> CalibrationSet:
    """``count`` representative model inputs: a third synthetic, the rest real (GMN clip, DSLR frames if present)."""
    from meteorfast.datasets import meteorfinder_frames, sample_clip_frames, shared_realdata
    from meteorfast.synth import SimConfig, sample

    if count < 1:
        raise InputError(f"quantize: expected at least 1 calibration frame, got {count}")
    rng = np.random.default_rng(seed)
    prep = Preprocessor(size, channels)
    images: list[npt.NDArray[np.uint8]] = []
    sources: dict[str, int] = {}
    synthetic = max(1, count // 3)
    images += [np.asarray(f.image, np.uint8) for f in sample(synthetic, seed, config=SimConfig(size=(360, 640)))]
    sources["synthetic"] = synthetic
    real: list[tuple[str, npt.NDArray[np.uint8]]] = [("gmn_clip", f) for f in sample_clip_frames(step=4)]
    shared = shared_realdata()
    if shared is not None:
        real += [("meteorfinder", f.image) for f in meteorfinder_frames(shared / "meteorfinder" / "MeterosOutput")]
    for i in rng.permutation(len(real))[: count - synthetic]:
        name, img = real[int(i)]
        images.append(img)
        sources[name] = sources.get(name, 0) + 1
    frames, _ = prep.batch(images)
    return CalibrationSet(frames, sources)


def _float_nodes(model: Any) -> list[str]:
    """Nodes that stay float: every node except the body that computes ``features``, and that node itself.

    The head's gradient does not always depend on the data (for a GAP head it is ``W[meteor] / (h*w)``), so it is
    not enough to keep what lies downstream of ``features``; only the ancestors of ``features`` are quantised.
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    for name in ("features", "conv1_map"):
        if name not in producer:
            raise InputError(
                f"quantize: expected a meteorfast graph with a {name!r} output, got outputs "
                f"{[o.name for o in graph.output]}; export it with `meteorfast export`"
            )
    body: set[str] = set()
    stack = list(producer["features"].input)
    # The stem activation feeds conv1_map: quantised, the quantiser would fold it into the next Q's range and
    # drop it, and conv1_map would read the unclipped conv output.
    fine = producer.get(producer["conv1_map"].input[0])
    while stack:
        node = producer.get(stack.pop())
        if node is not None and node.name not in body:
            body.add(node.name)
            stack.extend(node.input)
    if fine is not None:
        body.discard(fine.name)
    if any(not n.name for n in graph.node):
        raise InputError("quantize: the graph has unnamed nodes; re-export it with `meteorfast export`")
    return sorted(n.name for n in graph.node if n.name not in body)


def _restore_float_inputs(model: Any, float_nodes: set[str]) -> None:
    """Let the float nodes read unquantised tensors: an input ``DQ(Q(x))`` becomes ``x``; dead Q/DQ are removed."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.name not in float_nodes:
            continue
        for i, name in enumerate(node.input):
            dq = producer.get(name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = producer.get(dq.input[0])
            if q is not None and q.op_type == "QuantizeLinear":
                node.input[i] = q.input[0]
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [
            n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") and not set(n.output) & used
        ]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over a frame array, a few frames per batch."""

    def __init__(self, frames: npt.NDArray[np.uint8], batch: int = 8) -> None:
        self._batches: Iterator[npt.NDArray[np.uint8]] = iter(
            [frames[i : i + batch] for i in range(0, len(frames), batch)]
        )

    def get_next(self) -> dict[str, npt.NDArray[np.uint8]] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"frames": batch}


@dataclass(frozen=True)
class QuantizeReport:
    path: Path
    float_nodes: int
    calibration: dict[str, int]


METHODS = ("minmax", "entropy", "percentile")


def quantize_onnx(
    src: str | Path, dst: str | Path, *, calib: int = 64, method: str = "minmax", seed: int = 0
) -> QuantizeReport:
    """Write an INT8 (QDQ, per-channel) copy of the meteorfast graph ``src`` to ``dst``, calibrated on ``calib``
    frames with ``method`` (ONNX Runtime's MinMax, Entropy or Percentile calibrator)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if method not in METHODS:
        raise InputError(f"quantize: expected method one of {', '.join(METHODS)}, got {method!r}")
    src_path = Path(src)
    if not src_path.is_file():
        raise InputError(f"quantize: expected an ONNX file, got {str(src_path)!r}, which does not exist")
    try:
        model = onnx.load(str(src_path))
    except Exception as err:  # onnx raises DecodeError and friends, not exported under one base
        raise InputError(f"quantize: expected a valid ONNX file, could not read {str(src_path)!r}: {err}") from err
    meta = {p.key: p.value for p in model.metadata_props}
    if "meteorfast.input" not in meta:
        raise InputError(
            f"quantize: expected a graph exported by meteorfast (metadata 'meteorfast.input'), got {str(src_path)!r}; "
            "export it with `meteorfast export`"
        )
    geo = json.loads(meta["meteorfast.input"])
    keep = _float_nodes(model)
    cal = calibration_frames(calib, (geo["height"], geo["width"]), geo["channels"], seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.int8.onnx"
        quantize_static(
            str(src_path),
            str(out),
            _Reader(cal.frames),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "entropy": CalibrationMethod.Entropy,
                "percentile": CalibrationMethod.Percentile,
            }[method],
            extra_options={"DedicatedQDQPair": True},
        )
        quantized = onnx.load(str(out))
    _restore_float_inputs(quantized, set(keep))
    del quantized.metadata_props[:]
    for key, value in {
        **meta,
        "meteorfast.precision": "int8",
        "meteorfast.calibration": json.dumps(cal.sources),
    }.items():
        entry = quantized.metadata_props.add()
        entry.key, entry.value = key, value
    path = atomic_write_bytes(dst, quantized.SerializeToString())
    return QuantizeReport(path, len(keep), cal.sources)
