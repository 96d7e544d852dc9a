"""Grad-CAM post-processing and frame stacking: the façade over the native kernels.

Each function dispatches, in order, to

1. the CUDA kernels, when it is given device buffers (objects with ``__cuda_array_interface__``: pycuda
   ``GPUArray``, CuPy, torch CUDA tensors). Outputs must then be given as device buffers too, and the call returns
   once the work is queued on ``stream``;
2. the native CPU kernels (OpenMP, GIL released), when built;
3. the NumPy reference in :mod:`meteorfast.cam.reference`, which is the specification of all three.

``METEORFAST_KERNELS=reference`` forces 3, ``native`` requires 2. :func:`native_info` says what was built and why
anything is missing. Rules, tie-breaking and tolerances are documented in :mod:`meteorfast.cam.reference`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from meteorfast import config
from meteorfast.cam import device, reference
from meteorfast.cam.device import DeviceOutputs
from meteorfast.cam.reference import Localization, LocalizeMode, StackResult
from meteorfast.errors import BackendUnavailableError, DeviceError, InputError, NonFiniteError

__all__ = [
    "CamResult",
    "DeviceOutputs",
    "Localization",
    "LocalizeMode",
    "NativeInfo",
    "StackResult",
    "Stacker",
    "grad_cam",
    "localize",
    "native_info",
    "pool_gradients",
    "postprocess",
    "stack",
]

_MODES: dict[str, int] = {"paper": 0, "fused": 1}
FloatArray = npt.NDArray[np.float32]


def _import(name: str) -> tuple[ModuleType | None, str]:
    try:
        return importlib.import_module(name), ""
    except ImportError as err:
        return None, str(err)


_cpu, _CPU_REASON = _import("meteorfast._native.cpu")
_cuda, _CUDA_REASON = _import("meteorfast._native.cuda")
_threads_applied: int | None = None


@dataclass(frozen=True)
class NativeInfo:
    """What native code is present. ``reason`` explains every ``False``; ``cuda_archs`` are the SM versions the
    CUDA module carries code for."""

    cpu: bool
    cuda_built: bool
    cuda_device: bool
    reason: str
    cuda_archs: tuple[int, ...]
    cuda_runtime: str
    threads: int


def native_info() -> NativeInfo:
    """Report the native kernels: CPU built, CUDA built, CUDA device present, and why not."""
    reasons: list[str] = []
    if _cpu is None:
        reasons.append(f"native CPU kernels not built ({_CPU_REASON}); reinstall with a C++ compiler")
    cuda_device = False
    archs: tuple[int, ...] = ()
    runtime = ""
    if _cuda is None:
        reasons.append(
            f"CUDA kernels not built ({_CUDA_REASON}); reinstall with nvcc on PATH, or METEORFAST_CUDA=1 to make "
            "a failing CUDA build an error"
        )
    else:
        count, why = _cuda.device_count()
        cuda_device = count > 0
        archs = tuple(_cuda.built_archs())
        v = int(_cuda.runtime_version())
        runtime = f"{v // 1000}.{(v % 1000) // 10}"
        if not cuda_device:
            reasons.append(f"no CUDA device: {why}")
    threads = _cpu.get_num_threads() if _cpu is not None else 1
    return NativeInfo(
        cpu=_cpu is not None,
        cuda_built=_cuda is not None,
        cuda_device=cuda_device,
        reason="; ".join(reasons),
        cuda_archs=archs,
        cuda_runtime=runtime,
        threads=threads,
    )


def _native() -> ModuleType | None:
    """The CPU module to use, or None for the reference, as METEORFAST_KERNELS says."""
    global _threads_applied
    cfg = config.runtime_config()
    if cfg.kernels == "reference":
        return None
    if _cpu is None:
        if cfg.kernels == "native":
            raise BackendUnavailableError(
                f"METEORFAST_KERNELS=native needs the native CPU kernels, which are not built ({_CPU_REASON}); "
                "reinstall meteorfast with a C++ compiler, or unset METEORFAST_KERNELS"
            )
        return None
    if _threads_applied != cfg.threads:
        _cpu.set_num_threads(cfg.threads)
        _threads_applied = cfg.threads
    return _cpu


def _on_device(name: str, first: object, out: DeviceOutputs | None) -> bool:
    """True for the CUDA path (device buffers in, ``out`` given); raises on a mix of host and device."""
    if device.is_device(first):
        if out is None:
            raise InputError(
                f"{name}: device buffers in need device buffers out; "
                "pass out=DeviceOutputs(...) (see meteorfast.cam.device)"
            )
        return True
    if out is not None:
        raise InputError(
            f"{name}: out= takes device buffers and goes with device inputs; host arrays return their results"
        )
    return False


def _float_array(name: str, arr: object, ndim: int, allow_half: bool = True) -> npt.NDArray[Any]:
    a = np.asarray(arr)
    kinds = (np.float32, np.float16) if allow_half else (np.float32,)
    if a.dtype == np.float64:
        with np.errstate(over="ignore"):
            narrow = a.astype(np.float32)
        if np.isinf(narrow).sum() > np.isinf(a).sum():
            raise InputError(
                f"{name}: expected values within float32 range (|v| < 3.4e38), got up to {np.nanmax(np.abs(a)):.3g}; "
                "rescale the array"
            )
        a = narrow
    elif a.dtype not in kinds:
        raise InputError(
            f"{name}: expected {' or '.join(np.dtype(k).name for k in kinds)}, got {a.dtype}; "
            "cast the array with .astype(np.float32)"
        )
    if a.ndim != ndim:
        raise InputError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    return np.ascontiguousarray(a)


def _native_view(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    # Cython memoryviews have no float16 format; the kernels read the raw bits.
    return a.view(np.uint16) if a.dtype == np.float16 else a


def _check_pair(features: npt.NDArray[Any], grad: npt.NDArray[Any]) -> None:
    if features.shape != grad.shape:
        raise InputError(
            f"grad_cam: expected features and grad of one shape [N,K,h,w], got {features.shape} and {grad.shape}; "
            "pass the engine's 'features' and 'grad' outputs of the same batch"
        )
    if 0 in features.shape[1:]:
        raise InputError(f"grad_cam: expected K, h, w >= 1, got shape {features.shape}")


def _raise_nonfinite(name: str, bad: int) -> None:
    if bad >= 0:
        raise NonFiniteError(
            f"{name}: expected finite values, got NaN or Inf in batch item {bad}; check the engine's outputs "
            "(an FP16 overflow gives Inf) or the frame that produced them"
        )


def _call(name: str, fn: Any, *args: Any) -> int:
    """Run a native kernel; returns its result (-1 or the first non-finite item for the CAM kernels)."""
    try:
        result = fn(*args)
    except ValueError as err:
        raise InputError(f"{name}: {err}") from err
    except RuntimeError as err:
        raise DeviceError(f"{name}: {err}") from err
    return -1 if result is None else int(result)


def pool_gradients(grad: npt.ArrayLike) -> FloatArray:
    """``grad: float32|float16 [N,K,h,w]`` -> ``alpha: float32 [N,K]``, the per-channel spatial mean."""
    g = _float_array("pool_gradients", grad, 4)
    if 0 in g.shape[1:]:
        raise InputError(f"pool_gradients: expected K, h, w >= 1, got shape {g.shape}")
    cpu = _native()
    if cpu is None:
        return reference.pool_gradients(g)
    alpha = np.empty(g.shape[:2], np.float32)
    _raise_nonfinite("pool_gradients", _call("pool_gradients", cpu.pool_gradients, _native_view(g), alpha))
    return alpha


@overload
def grad_cam(
    features: npt.ArrayLike, grad: npt.ArrayLike | None = None, *, weights: npt.ArrayLike | None = None,
    out: None = None, stream: int = 0,
) -> FloatArray: ...  # fmt: skip
@overload
def grad_cam(
    features: object, grad: object = None, *, weights: None = None, out: DeviceOutputs, stream: int = 0
) -> None: ...
def grad_cam(
    features: Any,
    grad: Any = None,
    *,
    weights: npt.ArrayLike | None = None,
    out: DeviceOutputs | None = None,
    stream: int = 0,
) -> FloatArray | None:
    """Grad-CAM at feature resolution, pytorch-grad-cam's contract.

    ``features: float32|float16 [N,K,h,w]`` (the CAM layer's activation A) and either ``grad`` of the same shape
    (dlogit_meteor/dA) or ``weights: float32 [N,K]`` (precomputed channel weights, e.g. an engine's
    ``cam_weights``). Returns ``cam: float32 [N,h,w]``, each item min-max scaled into [0, 1].

    With device buffers (and ``grad``), the CUDA kernels write ``out.alpha`` and ``out.cam`` on ``stream``, and
    the call returns None once they are queued.
    """
    if _on_device("grad_cam", features, out):
        if weights is not None or out is None:
            raise InputError("grad_cam: the CUDA path takes grad, not weights")
        device.grad_cam(features, grad, out=out, stream=stream)
        return None
    f = _float_array("grad_cam", features, 4)
    if (grad is None) == (weights is None):
        raise InputError(
            "grad_cam: expected exactly one of grad or weights, got " + ("both" if grad is not None else "neither")
        )
    cpu = _native()
    cam = np.empty((f.shape[0], *f.shape[2:]), np.float32)
    if grad is not None:
        g = _float_array("grad_cam", grad, 4)
        _check_pair(f, g)
        if cpu is None:
            return reference.grad_cam(f, g)
        alpha = np.empty(f.shape[:2], np.float32)
        bad = _call("grad_cam", cpu.grad_cam, _native_view(g), _native_view(f), alpha, cam)
    else:
        a = _float_array("grad_cam", weights, 2, allow_half=False)
        if a.shape != f.shape[:2]:
            raise InputError(f"grad_cam: expected weights of shape {f.shape[:2]} (N, K), got {a.shape}")
        if cpu is None:
            return reference.weighted_cam(f, a)
        bad = _call("grad_cam", cpu.weighted_cam, _native_view(f), a, cam)
    _raise_nonfinite("grad_cam", bad)
    return cam


def _geometry(geometry: npt.ArrayLike | None, n: int) -> FloatArray:
    if geometry is None:
        geo = np.zeros((n, 4), np.float32)
        geo[:, :2] = 1.0
        return geo
    geo = np.asarray(geometry, np.float32)
    if geo.ndim == 1 and geo.shape[0] == 4:
        geo = np.broadcast_to(geo, (n, 4))
    if geo.shape != (n, 4):
        raise InputError(
            f"localize: expected geometry of shape ({n}, 4) or (4,): (scale_x, scale_y, offset_x, offset_y), "
            f"got {geo.shape}"
        )
    return np.ascontiguousarray(geo)


def _check_localize(
    cam: npt.NDArray[Any], fmap: npt.NDArray[Any], input_size: Sequence[float], mode: str, radius: int
) -> tuple[float, float, int]:
    if cam.shape[0] != fmap.shape[0]:
        raise InputError(f"localize: expected cam and fmap with one batch size, got {cam.shape} and {fmap.shape}")
    if 0 in cam.shape[1:] or 0 in fmap.shape[1:]:
        raise InputError(f"localize: expected non-empty maps, got cam {cam.shape} and fmap {fmap.shape}")
    if len(input_size) != 2 or not all(float(s) > 0 for s in input_size):
        raise InputError(f"localize: expected input_size (height, width) > 0, got {tuple(input_size)}")
    if mode not in _MODES:
        raise InputError(f"localize: expected mode 'paper' or 'fused', got {mode!r}")
    if radius < 0:
        raise InputError(f"localize: expected radius >= 0 (1 gives a 3x3 centroid), got {radius}")
    return float(input_size[0]), float(input_size[1]), _MODES[mode]


@overload
def localize(
    cam: npt.ArrayLike, fmap: npt.ArrayLike, *, input_size: Sequence[float], geometry: npt.ArrayLike | None = None,
    mode: LocalizeMode = "fused", radius: int = 1, out: None = None, stream: int = 0,
) -> Localization: ...  # fmt: skip
@overload
def localize(
    cam: object, fmap: object, *, input_size: Sequence[float], geometry: object, mode: LocalizeMode = "fused",
    radius: int = 1, out: DeviceOutputs, stream: int = 0,
) -> None: ...  # fmt: skip
def localize(
    cam: Any,
    fmap: Any,
    *,
    input_size: Sequence[float],
    geometry: Any = None,
    mode: LocalizeMode = "fused",
    radius: int = 1,
    out: DeviceOutputs | None = None,
    stream: int = 0,
) -> Localization | None:
    """Locate the meteor from the CAM and the first-layer map.

    ``cam: float32 [N,h,w]``, ``fmap: float32 [N,H1,W1]`` (channel mean of the first conv activation),
    ``input_size = (in_h, in_w)`` of the model, ``geometry: float32 [N,4]`` or ``[4]`` = ``(scale_x, scale_y,
    offset_x, offset_y)`` from model-input to frame pixels (default: identity). Returns ``x, y, peak: float32 [N]``.

    With device buffers (``geometry`` then required, on the device), the CUDA kernel writes ``out.x``, ``out.y``
    and ``out.peak`` on ``stream``, and the call returns None once it is queued.
    """
    if _on_device("localize", cam, out) and out is not None:
        device.localize(cam, fmap, geometry, input_size=input_size, mode=mode, radius=radius, out=out, stream=stream)
        return None
    c = _float_array("localize", cam, 3, allow_half=False)
    f = _float_array("localize", fmap, 3, allow_half=False)
    in_h, in_w, code = _check_localize(c, f, input_size, mode, radius)
    geo = _geometry(geometry, c.shape[0])
    cpu = _native()
    if cpu is None:
        return reference.localize(c, f, geo, (in_h, in_w), mode, radius)
    n = c.shape[0]
    x, y, peak = (np.empty(n, np.float32) for _ in range(3))
    _raise_nonfinite("localize", _call("localize", cpu.localize, c, f, geo, in_h, in_w, code, radius, x, y, peak))
    return Localization(x, y, peak)


@dataclass(frozen=True)
class CamResult:
    """``cam: float32 [N,h,w]`` in [0, 1]; ``x, y: float32 [N]`` in frame pixels; ``peak: float32 [N]``."""

    cam: FloatArray
    x: FloatArray
    y: FloatArray
    peak: FloatArray


@overload
def postprocess(
    features: npt.ArrayLike, grad: npt.ArrayLike, fmap: npt.ArrayLike, *, input_size: Sequence[float],
    geometry: npt.ArrayLike | None = None, mode: LocalizeMode = "fused", radius: int = 1, out: None = None,
    stream: int = 0,
) -> CamResult: ...  # fmt: skip
@overload
def postprocess(
    features: object, grad: object, fmap: object, *, input_size: Sequence[float], geometry: object,
    mode: LocalizeMode = "fused", radius: int = 1, out: DeviceOutputs, stream: int = 0,
) -> None: ...  # fmt: skip
def postprocess(
    features: Any,
    grad: Any,
    fmap: Any,
    *,
    input_size: Sequence[float],
    geometry: Any = None,
    mode: LocalizeMode = "fused",
    radius: int = 1,
    out: DeviceOutputs | None = None,
    stream: int = 0,
) -> CamResult | None:
    """Pooling, CAM and localisation in one call (one pass per item on the native path).

    ``features, grad: float32|float16 [N,K,h,w]``, ``fmap: float32 [N,H1,W1]``; the rest as :func:`localize`.
    With device buffers, every field of ``out`` is written on ``stream`` and the call returns None once queued.
    """
    if _on_device("postprocess", features, out) and out is not None:
        device.postprocess(
            features, grad, fmap, geometry, input_size=input_size, mode=mode, radius=radius, out=out, stream=stream
        )
        return None
    f = _float_array("postprocess", features, 4)
    g = _float_array("postprocess", grad, 4)
    m = _float_array("postprocess", fmap, 3, allow_half=False)
    _check_pair(f, g)
    cam_shape = (f.shape[0], *f.shape[2:])
    in_h, in_w, code = _check_localize(np.empty(cam_shape, np.float32), m, input_size, mode, radius)
    geo = _geometry(geometry, f.shape[0])
    cpu = _native()
    if cpu is None:
        cam = reference.grad_cam(f, g)
        loc = reference.localize(cam, m, geo, (in_h, in_w), mode, radius)
        return CamResult(cam, loc.x, loc.y, loc.peak)
    n = f.shape[0]
    cam = np.empty(cam_shape, np.float32)
    x, y, peak = (np.empty(n, np.float32) for _ in range(3))
    bad = _call(
        "postprocess",
        cpu.postprocess,
        _native_view(g),
        _native_view(f),
        m,
        geo,
        in_h,
        in_w,
        code,
        radius,
        cam,
        x,
        y,
        peak,
    )
    _raise_nonfinite("postprocess", bad)
    return CamResult(cam, x, y, peak)


class Stacker:
    """Streams frames into RMS-style stacking accumulators, one frame at a time.

    ``shape``: the frame shape (any; typically ``(H, W)``), ``dtype``: uint8 or uint16. :meth:`add` takes one frame
    of that shape and dtype; :meth:`result` returns the :class:`StackResult` of the frames added since the last
    :meth:`reset` (at least 2). Memory is fixed at construction: four accumulators of the frame size.
    """

    def __init__(self, shape: Sequence[int], dtype: npt.DTypeLike = np.uint8) -> None:
        dt = np.dtype(dtype)
        if dt not in (np.uint8, np.uint16):
            raise InputError(f"Stacker: expected dtype uint8 or uint16, got {dt}; convert frames before stacking")
        self.shape = tuple(int(s) for s in shape)
        if any(s < 1 for s in self.shape):
            raise InputError(f"Stacker: expected a frame shape of positive sizes, got {self.shape}")
        self.dtype = dt
        npix = int(np.prod(self.shape))
        acc = reference.accumulator_dtype(dt)  # type: ignore[arg-type]  # checked to be uint8/uint16 above
        self._max = np.zeros(npix, dt)
        self._argmax = np.zeros(npix, np.uint16)
        self._sum = np.zeros(npix, acc)
        self._sumsq = np.zeros(npix, acc)
        self.frames = 0

    def reset(self) -> None:
        """Start a new window, reusing the accumulators."""
        for a in (self._max, self._argmax, self._sum, self._sumsq):
            a.fill(0)
        self.frames = 0

    def add(self, frame: npt.ArrayLike) -> None:
        """Add one frame: ``uint8|uint16`` of :attr:`shape`."""
        f = np.asarray(frame)
        if f.shape != self.shape or f.dtype != self.dtype:
            raise InputError(
                f"Stacker.add: expected a {self.dtype} frame of shape {self.shape}, got {f.dtype} {f.shape}; "
                "make a Stacker per frame size and dtype"
            )
        if self.frames >= reference.MAX_STACK_FRAMES:
            raise InputError(
                f"Stacker.add: a window holds at most {reference.MAX_STACK_FRAMES} frames, got one more; "
                "call result() and reset()"
            )
        flat = np.ascontiguousarray(f).reshape(-1)
        cpu = _native()
        if cpu is None:
            reference.stack_add(flat, self.frames, self._max, self._argmax, self._sum, self._sumsq)
        else:
            fn = cpu.stack_add_u8 if self.dtype == np.uint8 else cpu.stack_add_u16
            _call("Stacker.add", fn, flat, self.frames, self._max, self._argmax, self._sum, self._sumsq)
        self.frames += 1

    def result(self) -> StackResult:
        """The stacked window so far (at least 2 frames)."""
        if self.frames < 2:
            raise InputError(
                f"Stacker.result: expected at least 2 frames (mean and std leave the maximum out), got {self.frames}"
            )
        cpu = _native()
        if cpu is None:
            r = reference.finalize(self._max, self._argmax, self._sum, self._sumsq, self.frames)
        else:
            mean = np.empty(self._max.size, np.float32)
            std = np.empty(self._max.size, np.float32)
            cand = np.empty(self._max.size, self.dtype)
            fn = cpu.stack_finalize_u8 if self.dtype == np.uint8 else cpu.stack_finalize_u16
            _call("Stacker.result", fn, self._max, self._sum, self._sumsq, self.frames, mean, std, cand)
            r = StackResult(self._max.copy(), self._argmax.copy(), mean, std, cand, self.frames)
        return StackResult(
            max=r.max.reshape(self.shape),
            argmax=r.argmax.reshape(self.shape),
            mean=r.mean.reshape(self.shape),
            std=r.std.reshape(self.shape),
            candidate=r.candidate.reshape(self.shape),
            frames=r.frames,
        )


def stack(frames: npt.ArrayLike) -> StackResult:
    """``frames: uint8|uint16 [T, ...]`` (2 <= T <= 65535) -> :class:`StackResult`, streamed frame by frame."""
    a = np.asarray(frames)
    if a.ndim < 2:
        raise InputError(f"stack: expected frames [T, ...] with T >= 2, got shape {a.shape}")
    stacker = Stacker(a.shape[1:], a.dtype)
    for frame in a:
        stacker.add(frame)
    return stacker.result()
