"""TensorRT engines at run time: :class:`TensorRTBackend`, with Grad-CAM post-processing on the device.

Engines are built (``meteorfast build-engine``) by :mod:`meteorfast.backends.tensorrt_build`; its
:func:`build_engine` and :class:`BuildRequest` are importable from here too. Written against the TensorRT 10 and 11
Python APIs (name-based tensors, ``execute_async_v3``). TensorRT and pycuda are imported when a function here runs,
never at import. The tests check every TensorRT name used here against the symbols of both versions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from meteorfast.backends.base import Backend, LookOutputs, TensorSpec
from meteorfast.backends.engine_manifest import BuildTarget, EngineManifest, check_manifest, read_manifest
from meteorfast.backends.tensorrt_build import BuildRequest as BuildRequest
from meteorfast.backends.tensorrt_build import _dims, _import_cuda, _import_trt, _numpy_dtype
from meteorfast.backends.tensorrt_build import build_engine as build_engine
from meteorfast.backends.tensorrt_build import current_target as current_target
from meteorfast.errors import DeviceError, InputError, MeteorfastError
from meteorfast.versions import tensorrt_api

if TYPE_CHECKING:
    from typing import Self

    import tensorrt as trt

    from meteorfast.cam.reference import LocalizeMode
    from meteorfast.results import StageTimes


def _fixed(spec: TensorSpec) -> tuple[int, ...]:
    """The non-batch dimensions of an engine tensor, which the build fixes."""
    dims = spec.shape[1:]
    if not all(isinstance(d, int) for d in dims):
        raise InputError(f"engine tensor {spec.name!r}: expected fixed dimensions after the batch, got {spec.shape}")
    return tuple(int(d) for d in dims if isinstance(d, int))


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
    @classmethod
    def for_detector(cls, model: Path, *, batch_size: int, localize: LocalizeMode, threads: int | None) -> Self:
        """The engine for ``model`` (an ``.onnx`` is built into one first, for batches up to ``batch_size``), with
        the CAM's localisation in ``localize`` mode on the device."""
        if model.suffix.lower() == ".onnx":
            model = build_engine(model, batch=(1, batch_size, batch_size))
        return cls(model, mode=localize)

    def first_look(
        self, frames: npt.NDArray[np.uint8], geometry: npt.NDArray[np.float32], *, input_size: tuple[int, int],
        localize: LocalizeMode, times: StageTimes | None = None,
    ) -> LookOutputs:  # fmt: skip
        """The first look on the device: one :meth:`submit` and :meth:`collect`, the CAM and the localisation in
        CUDA kernels (timed as ``infer``)."""
        if localize != self.mode:
            raise InputError(f"engine: expected localize {self.mode!r}, as this backend was opened, got {localize!r}")
        began = time.perf_counter()
        r = self.collect(self.submit(np.ascontiguousarray(frames), geometry, want_cam=True))
        if r.cam is None or r.fine is None:
            raise DeviceError("engine: expected the CAM and the first-layer map back, got none")
        if times is not None:
            times.add("infer", time.perf_counter() - began, len(frames))
        return LookOutputs(r.prob, r.x, r.y, r.peak, r.cam, r.fine)

    def probabilities(self, frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        return np.asarray(self.collect(self.submit(np.ascontiguousarray(frames))).prob, np.float32).reshape(-1)

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
