"""Building TensorRT engines (``meteorfast build-engine``), each with its manifest beside it, and the helpers the
runtime in :mod:`meteorfast.backends.tensorrt` shares: importing TensorRT and pycuda, and the engine's tensor types.

Written against the TensorRT 10 and 11 Python APIs (name-based tensors). TensorRT and pycuda are imported when a
function here runs, never at import. Functions ending in ``_v10`` use APIs TensorRT 11 removed (precision builder
flags, INT8 calibrators); ``_v11`` ones use strongly typed networks. The tests check every TensorRT name used here
against the symbols of the version each part targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meteorfast.backends.engine_manifest import (
    PRECISIONS,
    BuildTarget,
    EngineManifest,
    engine_name,
    mismatches,
    read_manifest,
    sha256_file,
    write_manifest,
)
from meteorfast.errors import BackendUnavailableError, DeviceError, InputError, MeteorfastError
from meteorfast.io import atomic_write_bytes
from meteorfast.versions import TensorRTApi, tensorrt_api

if TYPE_CHECKING:
    import tensorrt as trt

# Outputs an engine keeps by default: `grad` is dropped at build time when `cam_weights` exists (the CAM needs only
# the channel weights), which spares the engine writing N*K*h*w floats per batch.
DEFAULT_DROP = ("grad",)


def _import_trt() -> Any:
    hint = (
        "on a machine with an NVIDIA GPU: pip install 'meteorfast[tensorrt]' --extra-index-url https://pypi.nvidia.com"
    )
    try:
        import tensorrt
    except ImportError as err:
        raise BackendUnavailableError(f"TensorRT not installed ({err}); {hint}") from err
    if not hasattr(tensorrt, "Builder"):
        # tensorrt-stubs alone leaves an importable namespace package with no runtime in it.
        raise BackendUnavailableError(f"TensorRT not installed (only its type stubs are); {hint}")
    return tensorrt


def _import_cuda() -> Any:
    try:
        import pycuda.driver as cuda
    except ImportError as err:
        raise BackendUnavailableError(
            f"pycuda not installed or no CUDA driver ({err}); pip install 'meteorfast[tensorrt]' on a GPU machine"
        ) from err
    try:
        cuda.init()
        if cuda.Device.count() < 1:
            raise DeviceError("no CUDA device: the driver reports none; TensorRT needs an NVIDIA GPU")
    except cuda.Error as err:
        raise DeviceError(f"no CUDA device: {err}; TensorRT needs an NVIDIA GPU with a working driver") from err
    return cuda


def current_target(device: int = 0) -> BuildTarget:
    """TensorRT version, GPU name and compute capability of this machine."""
    trt_mod = _import_trt()
    cuda = _import_cuda()
    dev = cuda.Device(device)
    major, minor = dev.compute_capability()
    return BuildTarget(str(trt_mod.__version__), str(dev.name()), (int(major), int(minor)))


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class BuildRequest:
    onnx: Path
    precision: str
    profile: tuple[int, int, int]
    out_dir: Path
    workspace_mb: int = 2048
    timing_cache: Path | None = None
    calib: int = 256


def _check_request(req: BuildRequest) -> None:
    if req.precision not in PRECISIONS:
        raise InputError(f"build-engine: expected --precision one of {', '.join(PRECISIONS)}, got {req.precision!r}")
    mn, opt, mx = req.profile
    if not 1 <= mn <= opt <= mx:
        raise InputError(f"build-engine: expected --batch MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX, got {req.profile}")
    if not req.onnx.is_file():
        raise InputError(f"build-engine: expected an ONNX file, got {str(req.onnx)!r}, which does not exist")
    if req.workspace_mb < 64:
        raise InputError(f"build-engine: expected --workspace of at least 64 MiB, got {req.workspace_mb}")


def _onnx_meta(path: Path) -> tuple[dict[str, str], bool, tuple[int, ...]]:
    """The graph's metadata_props, whether it carries Q/DQ nodes, and the input shape without the batch."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) for d in dims[1:])
    if any(s <= 0 for s in shape):
        raise InputError(f"build-engine: expected fixed C, H, W in {str(path)!r}'s input, got {shape}")
    return meta, qdq, shape


def _fp16_onnx(path: Path, work: Path) -> Path:
    """TensorRT 11 builds strongly typed: FP16 comes from an FP16 graph (inputs and outputs keep their types)."""
    import onnx
    from onnxconverter_common import float16

    model = float16.convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    out = work / (path.stem + ".fp16.onnx")
    onnx.save(model, str(out))
    return out


def _configure_precision_v10(
    config: trt.IBuilderConfig, req: BuildRequest, qdq: bool, shape: tuple[int, ...], profile: trt.IOptimizationProfile
) -> Any:
    """TensorRT 10: precision by builder flags. INT8 uses the graph's Q/DQ scales when it has them, otherwise an
    entropy calibrator over representative frames. Returns the calibrator (kept alive for the build)."""
    import tensorrt as trt

    if req.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if req.precision != "int8":
        return None
    config.set_flag(trt.BuilderFlag.INT8)
    if qdq:
        return None
    calibrator = _entropy_calibrator_v10(shape, req, sha256_file(req.onnx))
    config.int8_calibrator = calibrator
    config.set_calibration_profile(profile)
    return calibrator


def _entropy_calibrator_v10(shape: tuple[int, ...], req: BuildRequest, onnx_sha: str) -> Any:
    import tensorrt as trt

    from meteorfast.quantize import calibration_frames

    cuda = _import_cuda()
    frames = calibration_frames(req.calib, (shape[1], shape[2]), shape[0]).frames
    # TensorRT calibrates at the calibration profile's OPT shape, so batches must have exactly that many frames.
    batch = req.profile[1]
    if req.calib < batch:
        raise InputError(
            f"build-engine: expected at least OPT = {batch} calibration frames for INT8, got --calib {req.calib}"
        )
    # Keyed by the graph and the batch: TensorRT trusts a cache without recalibrating.
    cache_path = req.out_dir / f"{req.onnx.stem}-{onnx_sha[:12]}-b{batch}.int8-calibration.cache"

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc,unused-ignore]
        def __init__(self) -> None:
            super().__init__()
            self.index = 0
            self.device = cuda.mem_alloc(frames[:batch].nbytes)

        def get_batch_size(self) -> int:
            return batch

        # TensorRT documents None as "no more batches"; the stubs leave it out of the return type.
        def get_batch(self, names: list[str]) -> list[int] | None:  # type: ignore[override,unused-ignore]
            if self.index + batch > len(frames):
                return None
            chunk = np.ascontiguousarray(frames[self.index : self.index + batch])
            cuda.memcpy_htod(self.device, chunk)
            self.index += batch
            return [int(self.device)]

        def read_calibration_cache(self) -> bytes | None:
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache: Any) -> None:
            atomic_write_bytes(cache_path, bytes(cache))

    return EntropyCalibrator()


def _network_flags_v11() -> int:
    """TensorRT 11: every network is strongly typed; the ONNX carries the precision."""
    import tensorrt as trt

    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def _prepare_onnx_v11(req: BuildRequest, qdq: bool, work: Path) -> Path:
    if req.precision == "fp16":
        return _fp16_onnx(req.onnx, work)
    if req.precision == "int8" and not qdq:
        from meteorfast.quantize import quantize_onnx

        out = work / (req.onnx.stem + ".int8.onnx")
        quantize_onnx(req.onnx, out, calib=req.calib)
        return out
    return req.onnx


def _parse(
    builder: trt.Builder, flags: int, logger: trt.ILogger, onnx_path: Path
) -> tuple[trt.INetworkDefinition, trt.OnnxParser]:
    import tensorrt as trt

    network = builder.create_network(flags)
    if network is None:  # TensorRT returns None on failure, which the stubs do not say
        raise MeteorfastError(  # type: ignore[unreachable,unused-ignore]
            "build-engine: TensorRT could not create a network definition"
        )
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise InputError(
            f"build-engine: expected an ONNX graph TensorRT can parse, got errors: {errors}; re-export the model "
            "with `meteorfast export`"
        )
    return network, parser


def _drop_outputs(network: trt.INetworkDefinition, drop: Sequence[str]) -> None:
    names = [network.get_output(i).name for i in range(network.num_outputs)]
    if "cam_weights" not in names:
        return  # without channel weights the engine must keep `grad`
    for i in reversed(range(network.num_outputs)):
        tensor = network.get_output(i)
        if tensor.name in drop:
            network.unmark_output(tensor)


def _numpy_dtype(dtype: trt.DataType) -> np.dtype[Any]:
    """TensorRT element type -> NumPy (what ``trt.nptype`` does, typed)."""
    import tensorrt as trt

    table = {
        trt.DataType.FLOAT: np.float32, trt.DataType.HALF: np.float16, trt.DataType.INT8: np.int8,
        trt.DataType.INT32: np.int32, trt.DataType.INT64: np.int64, trt.DataType.UINT8: np.uint8,
        trt.DataType.BOOL: np.bool_,
    }  # fmt: skip
    if dtype not in table:
        raise InputError(f"engine: expected a tensor type among {sorted(str(t) for t in table)}, got {dtype}")
    return np.dtype(table[dtype])


def _dims(dims: trt.Dims) -> tuple[int, ...]:
    return tuple(int(dims[i]) for i in range(len(dims)))


def _io_specs(engine: trt.ICudaEngine) -> tuple[dict[str, Any], dict[str, Any]]:
    import tensorrt as trt

    inputs: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        spec = {
            "dtype": str(_numpy_dtype(engine.get_tensor_dtype(name))),
            "shape": list(_dims(engine.get_tensor_shape(name))),
        }
        (inputs if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else outputs)[name] = spec
    return inputs, outputs


def build_engine(
    onnx: str | Path,
    *,
    precision: str = "fp16",
    batch: tuple[int, int, int] = (1, 8, 32),
    out_dir: str | Path = "engines",
    workspace_mb: int = 2048,
    timing_cache: str | Path | None = None,
    calib: int = 256,
    force: bool = False,
) -> Path:
    """Build (or reuse) a TensorRT engine for ``onnx``; returns the engine path. Its manifest is written beside it.

    An existing engine with the same name is reused when its manifest matches this machine and the ONNX.
    """
    req = BuildRequest(Path(onnx), precision, tuple(batch), Path(out_dir), workspace_mb,  # type: ignore[arg-type]
                       Path(timing_cache) if timing_cache else None, calib)  # fmt: skip
    _check_request(req)
    _import_trt()
    import tensorrt as trt

    api: TensorRTApi = tensorrt_api(str(trt.__version__))
    target = current_target()
    meta, qdq, shape = _onnx_meta(req.onnx)
    onnx_sha = sha256_file(req.onnx)
    engine_path = req.out_dir / engine_name(req.onnx.stem, target.gpu_name, target.compute_capability,
                                            target.tensorrt_version, req.precision, req.profile[2])  # fmt: skip
    if engine_path.is_file() and not force:
        try:
            existing = read_manifest(engine_path)
        except MeteorfastError:
            existing = None
        if existing is not None and not mismatches(existing, target, onnx_sha) and existing.profile == req.profile:
            return engine_path

    cuda = _import_cuda()
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()  # the INT8 calibrator allocates device memory through pycuda, which needs a current context
    try:
        return _build(api, req, target, meta, qdq, shape, onnx_sha, engine_path)
    finally:
        ctx.pop()
        ctx.detach()


def _build(
    api: TensorRTApi, req: BuildRequest, target: BuildTarget, meta: dict[str, str], qdq: bool,
    shape: tuple[int, ...], onnx_sha: str, engine_path: Path,
) -> Path:  # fmt: skip
    import tempfile

    import tensorrt as trt

    from meteorfast import __version__

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    if builder is None:
        raise DeviceError("build-engine: TensorRT could not create a builder (is the GPU usable?)")
    with tempfile.TemporaryDirectory() as tmp:
        source = _prepare_onnx_v11(req, qdq, Path(tmp)) if api.strongly_typed else req.onnx
        flags = _network_flags_v11() if api.strongly_typed else 0
        network, _parser = _parse(builder, flags, logger, source)
        _drop_outputs(network, DEFAULT_DROP)
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, req.workspace_mb << 20)
        profile = builder.create_optimization_profile()
        name = network.get_input(0).name
        mn, opt, mx = req.profile
        profile.set_shape(name, trt.Dims([mn, *shape]), trt.Dims([opt, *shape]), trt.Dims([mx, *shape]))
        if config.add_optimization_profile(profile) < 0:
            raise InputError(f"build-engine: TensorRT refused the batch profile {req.profile} for input {name!r}")
        _calibrator = None
        if api.precision_flags:
            _calibrator = _configure_precision_v10(config, req, qdq, shape, profile)
        cache_bytes = req.timing_cache.read_bytes() if req.timing_cache and req.timing_cache.is_file() else b""
        cache = config.create_timing_cache(cache_bytes)
        if cache is None or not config.set_timing_cache(cache, False):
            raise MeteorfastError("build-engine: TensorRT refused the timing cache; delete it and build again")
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise MeteorfastError(
                f"build-engine: TensorRT failed to build {req.precision} for batch {req.profile}; see its log above"
            )
        if req.timing_cache is not None:
            atomic_write_bytes(req.timing_cache, bytes(config.get_timing_cache().serialize()))
    blob = bytes(serialized)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(blob)
    if engine is None:
        raise MeteorfastError("build-engine: TensorRT could not load the engine it just built")
    inputs, outputs = _io_specs(engine)
    atomic_write_bytes(engine_path, blob)
    write_manifest(engine_path, EngineManifest(
        onnx_path=str(req.onnx.resolve()), onnx_sha256=onnx_sha, precision=req.precision, profile=req.profile,
        tensorrt_version=target.tensorrt_version, gpu_name=target.gpu_name,
        compute_capability=target.compute_capability, inputs=inputs, outputs=outputs, model_metadata=meta,
        workspace_mb=req.workspace_mb, meteorfast_version=__version__,
    ))  # fmt: skip
    return engine_path
