"""TensorRT engines: building (``meteorfast build-engine``) and running, with Grad-CAM post-processing on the device.

Written against the TensorRT 10 and 11 Python APIs (name-based tensors, ``execute_async_v3``). TensorRT and pycuda
are imported when a function here runs, never at import. Functions ending in ``_v10`` use APIs TensorRT 11 removed
(precision builder flags, INT8 calibrators); ``_v11`` ones use strongly typed networks. The tests check every
TensorRT name used here against the symbols of the version each part targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from meteorfast.backends.base import Backend, TensorSpec
from meteorfast.backends.engine_manifest import (
    PRECISIONS,
    BuildTarget,
    EngineManifest,
    check_manifest,
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


def _fixed(spec: TensorSpec) -> tuple[int, ...]:
    """The non-batch dimensions of an engine tensor, which the build fixes."""
    dims = spec.shape[1:]
    if not all(isinstance(d, int) for d in dims):
        raise InputError(f"engine tensor {spec.name!r}: expected fixed dimensions after the batch, got {spec.shape}")
    return tuple(int(d) for d in dims if isinstance(d, int))


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


# ---------------------------------------------------------------- running


@dataclass
class _Slot:
    """One in-flight batch: its execution context, stream, event, and host/device buffers for the profile's max."""

    context: Any
    stream: Any
    done: Any
    host_in: npt.NDArray[np.uint8]
    dev: dict[str, Any]
    host_small: dict[str, npt.NDArray[Any]]
    n: int = 0
    busy: bool = False
    want_cam: bool = False


@dataclass(frozen=True)
class LocalizedBatch:
    """Per item: ``prob``, ``x``, ``y``, ``peak`` float32 ``[N]``; ``cam`` float32 ``[N,h,w]`` and ``fine`` (the
    first-layer map) float32 ``[N,H1,W1]`` when asked for."""

    prob: npt.NDArray[np.float32]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    peak: npt.NDArray[np.float32]
    cam: npt.NDArray[np.float32] | None
    fine: npt.NDArray[np.float32] | None


class TensorRTBackend(Backend):
    """Runs a ``.engine`` built by :func:`build_engine`.

    :meth:`infer` returns every engine output by name (host copies). :meth:`submit` / :meth:`collect` are the fast
    path: two batches in flight on two streams (the upload of one overlaps the compute of the other), and the CAM
    and localisation run as CUDA kernels on the engine's output buffers, so only ``prob``, ``x``, ``y``, ``peak``
    (and on request the small CAM and the first-layer map, 12.5 KB an item at 56x56) come back to the host.
    """

    name = "tensorrt"
    suffixes = (".engine", ".plan")

    def __init__(self, model: str | Path, *, device: int = 0, mode: str = "fused", radius: int = 1) -> None:
        super().__init__(model)
        self.device = device
        self.mode = mode
        self.radius = radius
        self._cuda: Any = None
        self._ctx: Any = None
        self._engine: Any = None
        self._slots: list[_Slot] = []
        self._next = 0
        self._feat_code = 0
        self._grad_code = 0
        self.manifest: EngineManifest | None = None

    def _open_impl(self) -> tuple[list[TensorSpec], list[TensorSpec]]:
        if not self.model.is_file():
            raise InputError(f"engine: expected a TensorRT engine file, got {str(self.model)!r}, which does not exist")
        _import_trt()
        import tensorrt as trt

        tensorrt_api(str(trt.__version__))
        self._cuda = _import_cuda()
        self.manifest = read_manifest(self.model)
        dev = self._cuda.Device(self.device)
        major, minor = dev.compute_capability()
        target = BuildTarget(str(trt.__version__), str(dev.name()), (int(major), int(minor)))
        check_manifest(self.model, self.manifest, target)
        self._ctx = dev.retain_primary_context()
        self._ctx.push()
        try:
            logger = trt.Logger(trt.Logger.WARNING)
            runtime = trt.Runtime(logger)
            self._engine = runtime.deserialize_cuda_engine(self.model.read_bytes())
            if self._engine is None:
                raise MeteorfastError(
                    f"engine {str(self.model)!r}: TensorRT could not deserialise it; rebuild it with: "
                    f"{self.manifest.rebuild_command(self.model.parent)}"
                )
            specs_in, specs_out = self._specs()
            self._slots = [self._make_slot(specs_in, specs_out) for _ in range(2)]
        finally:
            self._ctx.pop()
        return list(specs_in.values()), list(specs_out.values())

    def _specs(self) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec]]:
        import tensorrt as trt

        inputs: dict[str, TensorSpec] = {}
        outputs: dict[str, TensorSpec] = {}
        engine: trt.ICudaEngine = self._engine
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dtype = _numpy_dtype(engine.get_tensor_dtype(name))
            shape = tuple(d if d >= 0 else "N" for d in _dims(engine.get_tensor_shape(name)))
            spec = TensorSpec(name, dtype, shape)
            (inputs if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else outputs)[name] = spec
        if list(inputs) != ["frames"]:
            raise InputError(f"engine {str(self.model)!r}: expected one input 'frames', got {list(inputs)}")
        return inputs, outputs

    @property
    def max_batch(self) -> int:
        return int(self._engine.get_tensor_profile_shape("frames", 0)[2][0])

    @property
    def min_batch(self) -> int:
        return int(self._engine.get_tensor_profile_shape("frames", 0)[0][0])

    def _make_slot(self, specs_in: dict[str, TensorSpec], specs_out: dict[str, TensorSpec]) -> _Slot:
        cuda, mx = self._cuda, self.max_batch
        context = self._engine.create_execution_context()
        if context is None:
            raise DeviceError(
                f"engine {str(self.model)!r}: TensorRT could not create an execution context (GPU memory?)"
            )
        frame_shape = _fixed(specs_in["frames"])
        host_in = cuda.pagelocked_empty((mx, *frame_shape), np.uint8)
        dev: dict[str, Any] = {"frames": cuda.mem_alloc(host_in.nbytes)}
        for name, spec in specs_out.items():
            per_item = int(np.prod(_fixed(spec), dtype=np.int64))
            dev[name] = cuda.mem_alloc(max(1, mx * per_item * spec.dtype.itemsize))
        # The kernels read these as float32; features and grad may also be float16.
        need: dict[str, tuple[type, ...]] = {"prob": (np.float32,), "conv1_map": (np.float32,),
                                             "features": (np.float32, np.float16)}  # fmt: skip
        if "cam_weights" in specs_out:
            need["cam_weights"] = (np.float32,)
        else:
            need["grad"] = (np.float32, np.float16)
        for name, kinds in need.items():
            got = specs_out[name].dtype if name in specs_out else "nothing"
            if got not in [np.dtype(k) for k in kinds]:
                raise InputError(
                    f"engine {str(self.model)!r}: expected output {name!r} of type "
                    f"{' or '.join(np.dtype(k).name for k in kinds)}, got {got}; export with `meteorfast export`"
                )
        self._feat_code = 0 if specs_out["features"].dtype == np.float32 else 1
        grad = specs_out.get("grad")
        self._grad_code = 1 if grad is not None and grad.dtype == np.float16 else 0
        k, h, w = _fixed(specs_out["features"])
        dev["alpha"] = cuda.mem_alloc(mx * k * 4)
        dev["cam"] = cuda.mem_alloc(mx * h * w * 4)
        dev["geom"] = cuda.mem_alloc(mx * 16)
        dev["status"] = cuda.mem_alloc(4)
        for name in ("x", "y", "peak"):
            dev[name] = cuda.mem_alloc(mx * 4)
        host_small = {
            "prob": cuda.pagelocked_empty(mx, np.float32),
            "x": cuda.pagelocked_empty(mx, np.float32),
            "y": cuda.pagelocked_empty(mx, np.float32),
            "peak": cuda.pagelocked_empty(mx, np.float32),
            "cam": cuda.pagelocked_empty((mx, h, w), np.float32),
            "conv1_map": cuda.pagelocked_empty((mx, *_fixed(specs_out["conv1_map"])[1:]), np.float32),
            "geom": cuda.pagelocked_empty((mx, 4), np.float32),
            "status": cuda.pagelocked_empty(1, np.int32),
        }
        for name in ("frames", *specs_out):
            if not context.set_tensor_address(name, int(dev[name])):
                raise DeviceError(f"engine {str(self.model)!r}: TensorRT refused the address of tensor {name!r}")
        return _Slot(context, cuda.Stream(), cuda.Event(), host_in, dev, host_small)

    # ---- fast path ----
    def submit(
        self, frames: npt.NDArray[np.uint8], geometry: npt.NDArray[np.float32] | None = None, *, want_cam: bool = False
    ) -> int:
        """Queue a batch ``frames: uint8 [N,C,H,W]`` with ``geometry: float32 [N,4]`` (default identity); returns a
        ticket for :meth:`collect`. Blocks only when both slots are still busy."""
        from meteorfast._native import cuda as kernels

        self._require_open()
        n = int(frames.shape[0])
        if not self.min_batch <= n <= self.max_batch:
            raise InputError(
                f"engine: expected a batch of {self.min_batch} to {self.max_batch} frames (the build profile), "
                f"got {n}; pad the batch or rebuild the engine with another --batch"
            )
        ticket = self._next
        slot = self._slots[ticket % 2]
        if slot.busy:
            raise InputError(
                f"engine: ticket {ticket - 2} is still in flight in this slot; collect() it before submitting a third "
                "batch (two are in flight at most)"
            )
        self._ctx.push()
        try:
            cuda, s = self._cuda, slot.stream
            slot.host_in[:n] = frames
            geo = slot.host_small["geom"]
            geo[:n] = geometry if geometry is not None else np.array([1, 1, 0, 0], np.float32)
            cuda.memcpy_htod_async(slot.dev["frames"], slot.host_in[:n], s)
            cuda.memcpy_htod_async(slot.dev["geom"], geo[:n], s)
            cuda.memset_d32_async(slot.dev["status"], 0, 1, s)
            if not slot.context.set_input_shape("frames", tuple(frames.shape)):
                raise InputError(f"engine: TensorRT refused input shape {tuple(frames.shape)}")
            if not slot.context.execute_async_v3(s.handle):
                raise DeviceError("engine: TensorRT failed to enqueue the batch")
            k, h, w = _fixed(self.output_specs["features"])
            _, fine_h, fine_w = _fixed(self.output_specs["conv1_map"])
            in_h, in_w = float(frames.shape[2]), float(frames.shape[3])
            status = int(slot.dev["status"])
            if "cam_weights" in self.output_specs:
                alpha = int(slot.dev["cam_weights"])
            else:
                alpha = int(slot.dev["alpha"])
                kernels.pool_gradients_ptr(int(slot.dev["grad"]), self._grad_code, n, k, h * w, alpha, status, s.handle)
            kernels.weighted_cam_ptr(
                int(slot.dev["features"]), self._feat_code, alpha, n, k, h * w, int(slot.dev["cam"]), status, s.handle
            )
            mode = 0 if self.mode == "paper" else 1
            d = {name: int(slot.dev[name]) for name in ("cam", "conv1_map", "geom", "x", "y", "peak")}
            kernels.localize_ptr(d["cam"], n, h, w, d["conv1_map"], fine_h, fine_w, d["geom"], in_h, in_w, mode,
                                 self.radius, d["x"], d["y"], d["peak"], status, s.handle)  # fmt: skip
            for name in ("prob", "x", "y", "peak", "status"):
                size = 1 if name == "status" else n
                cuda.memcpy_dtoh_async(slot.host_small[name][:size], slot.dev[name], s)
            if want_cam:
                cuda.memcpy_dtoh_async(slot.host_small["cam"][:n], slot.dev["cam"], s)
                cuda.memcpy_dtoh_async(slot.host_small["conv1_map"][:n], slot.dev["conv1_map"], s)
            slot.done.record(s)
        finally:
            self._ctx.pop()
        slot.n, slot.busy, slot.want_cam = n, True, want_cam
        self._next += 1
        return ticket

    def collect(self, ticket: int) -> LocalizedBatch:
        """Wait for ``ticket``'s batch and return its results (copies: the slot is reused)."""
        from meteorfast.cam.device import check_status

        slot = self._slots[ticket % 2]
        if ticket < self._next - 2 or ticket >= self._next:
            raise InputError(f"engine: ticket {ticket} is not in flight (next is {self._next}); collect each in turn")
        slot.done.synchronize()
        slot.busy = False
        n, hs = slot.n, slot.host_small
        check_status(int(hs["status"][0]))
        return LocalizedBatch(hs["prob"][:n].copy(), hs["x"][:n].copy(), hs["y"][:n].copy(), hs["peak"][:n].copy(),
                              hs["cam"][:n].copy() if slot.want_cam else None,
                              hs["conv1_map"][:n].copy() if slot.want_cam else None)  # fmt: skip

    # ---- generic contract ----
    def _infer_impl(
        self, feeds: dict[str, npt.NDArray[np.generic]], outputs: list[str]
    ) -> dict[str, npt.NDArray[np.generic]]:
        frames = np.ascontiguousarray(feeds["frames"], np.uint8)
        ticket = self.submit(frames)
        self.collect(ticket)
        slot = self._slots[ticket % 2]
        out: dict[str, npt.NDArray[np.generic]] = {}
        self._ctx.push()
        try:
            for name in outputs:
                spec = self.output_specs[name]
                shape = (frames.shape[0], *_fixed(spec))
                host = np.empty(shape, spec.dtype)
                self._cuda.memcpy_dtoh(host, slot.dev[name])
                out[name] = host
        finally:
            self._ctx.pop()
        return out

    def _metadata(self) -> dict[str, str]:
        return dict(self.manifest.model_metadata) if self.manifest is not None else {}

    def _close_impl(self) -> None:
        if self._ctx is None:
            return
        self._ctx.push()
        try:
            for slot in self._slots:
                if slot.busy:
                    slot.done.synchronize()
                for buf in slot.dev.values():
                    buf.free()  # while the context is current; garbage collection may come after it is gone
            self._slots = []
            self._engine = None
        finally:
            self._ctx.pop()
            self._ctx.detach()
            self._ctx = None
