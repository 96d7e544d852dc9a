"""The CUDA path of :mod:`meteorfast.cam`: device buffers in, device buffers out, on the caller's stream.

Buffers are any objects exposing ``__cuda_array_interface__`` (pycuda ``GPUArray``, CuPy arrays, torch CUDA
tensors), C-contiguous. Nothing here synchronises: a call returns once the kernels are queued on ``stream`` (a
``cudaStream_t`` as an int; 0 is the legacy default stream). After synchronising, read ``status`` (int32[1], zeroed
by the caller before the first kernel): :func:`check_status` raises when any input held NaN or Inf.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from meteorfast.errors import BackendUnavailableError, DeviceError, InputError, NonFiniteError

_MODES: dict[str, int] = {"paper": 0, "fused": 1}
NONFINITE = 1


@dataclass(frozen=True)
class DeviceArray:
    """What ``__cuda_array_interface__`` says of a buffer: its address, shape, dtype, and the stream its producer
    queued work on (None when the producer gave none)."""

    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    stream: int | None = None


@dataclass(frozen=True)
class DeviceOutputs:
    """Device buffers the CUDA path writes; each function names the ones it needs.

    ``alpha: float32 [N,K]`` (the pooled weights), ``cam: float32 [N,h,w]``, ``x, y, peak: float32 [N]``,
    ``status: int32 [1]`` (always needed).
    """

    status: Any
    alpha: Any = None
    cam: Any = None
    x: Any = None
    y: Any = None
    peak: Any = None


def is_device(obj: object) -> bool:
    return hasattr(obj, "__cuda_array_interface__")


def _module() -> ModuleType:
    try:
        return importlib.import_module("meteorfast._native.cuda")
    except ImportError as err:
        raise BackendUnavailableError(
            f"CUDA kernels: expected the meteorfast._native.cuda module, which is not built ({err}); reinstall "
            "meteorfast with nvcc on PATH (METEORFAST_CUDA=1 makes a failed CUDA build an error)"
        ) from err


def describe(name: str, obj: object, dtypes: Sequence[type[np.generic]], ndim: int) -> DeviceArray:
    """Check a device buffer (dtype among ``dtypes``, ``ndim`` dimensions, C-contiguous) and return its facts."""
    iface = getattr(obj, "__cuda_array_interface__", None)
    if not isinstance(iface, dict):
        raise InputError(f"{name}: expected a device buffer with __cuda_array_interface__, got {type(obj).__name__}")
    shape = tuple(int(s) for s in iface["shape"])
    dtype = np.dtype(iface["typestr"])
    if dtype not in [np.dtype(d) for d in dtypes]:
        raise InputError(f"{name}: expected dtype {' or '.join(np.dtype(d).name for d in dtypes)}, got {dtype}")
    if len(shape) != ndim:
        raise InputError(f"{name}: expected {ndim} dimensions, got shape {shape}")
    strides = iface.get("strides")
    if strides is not None:
        expected = tuple(int(np.prod(shape[i + 1 :])) * dtype.itemsize for i in range(len(shape)))
        if tuple(strides) != expected:
            raise InputError(f"{name}: expected a C-contiguous buffer, got strides {tuple(strides)} for shape {shape}")
    producer = iface.get("stream")
    return DeviceArray(int(iface["data"][0]), shape, dtype, int(producer) if producer else None)


def _sync_inputs(cuda: ModuleType, stream: int, *inputs: DeviceArray) -> None:
    """The CUDA array interface (v3) asks the consumer to wait for the producer's stream: queue that wait on ours.
    Stream values 1 and 2 (legacy and per-thread default streams) are valid handles as they are."""
    for producer in {a.stream for a in inputs if a.stream is not None and a.stream != stream}:
        _run("stream_wait", cuda.stream_wait, stream, producer)


def _run(name: str, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except ValueError as err:
        raise InputError(f"{name}: {err}") from err
    except RuntimeError as err:
        raise DeviceError(f"{name}: {err}") from err


_CODES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1}
_HALVES = (np.float32, np.float16)


def _outputs(out: DeviceOutputs, expected: dict[str, tuple[int, ...]]) -> tuple[dict[str, DeviceArray], DeviceArray]:
    bufs: dict[str, DeviceArray] = {}
    for key, shape in expected.items():
        obj = getattr(out, key)
        if obj is None:
            raise InputError(f"out.{key}: expected a float32 device buffer of shape {shape}, got None")
        bufs[key] = describe(f"out.{key}", obj, (np.float32,), len(shape))
        if bufs[key].shape != shape:
            raise InputError(f"out.{key}: expected shape {shape}, got {bufs[key].shape}")
    status = describe("out.status", out.status, (np.int32,), 1)
    if status.shape != (1,):
        raise InputError(f"out.status: expected shape (1,), got {status.shape}")
    return bufs, status


def grad_cam(features: object, grad: object, *, out: DeviceOutputs, stream: int = 0) -> None:
    """Queue pooling and the CAM. ``features, grad: float32|float16 [N,K,h,w]`` on the device; writes
    ``out.alpha`` and ``out.cam``."""
    cuda = _module()
    f = describe("features", features, _HALVES, 4)
    g = describe("grad", grad, _HALVES, 4)
    if g.shape != f.shape:
        raise InputError(f"grad_cam: expected features and grad of one shape [N,K,h,w], got {f.shape} and {g.shape}")
    n, k, h, w = f.shape
    bufs, status = _outputs(out, {"alpha": (n, k), "cam": (n, h, w)})
    cuda.require_device()
    _sync_inputs(cuda, stream, f, g)
    _run(
        "pool_gradients",
        cuda.pool_gradients_ptr,
        g.ptr,
        _CODES[g.dtype],
        n,
        k,
        h * w,
        bufs["alpha"].ptr,
        status.ptr,
        stream,
    )
    _run(
        "grad_cam",
        cuda.weighted_cam_ptr,
        f.ptr,
        _CODES[f.dtype],
        bufs["alpha"].ptr,
        n,
        k,
        h * w,
        bufs["cam"].ptr,
        status.ptr,
        stream,
    )


def localize(
    cam: object,
    fmap: object,
    geometry: object,
    *,
    input_size: Sequence[float],
    mode: str,
    radius: int,
    out: DeviceOutputs,
    stream: int = 0,
) -> None:
    """Queue localisation. ``cam: float32 [N,h,w]``, ``fmap: float32 [N,H1,W1]``, ``geometry: float32 [N,4]`` on
    the device; writes ``out.x``, ``out.y``, ``out.peak``."""
    cuda = _module()
    c = describe("cam", cam, (np.float32,), 3)
    m = describe("fmap", fmap, (np.float32,), 3)
    geo = describe("geometry", geometry, (np.float32,), 2)
    n = c.shape[0]
    if m.shape[0] != n or geo.shape != (n, 4):
        raise InputError(
            "localize: expected cam [N,h,w], fmap [N,H1,W1], geometry [N,4] of one N, "
            f"got {c.shape}, {m.shape}, {geo.shape}"
        )
    if mode not in _MODES:
        raise InputError(f"localize: expected mode 'paper' or 'fused', got {mode!r}")
    bufs, status = _outputs(out, {"x": (n,), "y": (n,), "peak": (n,)})
    cuda.require_device()
    _sync_inputs(cuda, stream, c, m, geo)
    _run(
        "localize", cuda.localize_ptr, c.ptr, n, c.shape[1], c.shape[2], m.ptr, m.shape[1], m.shape[2], geo.ptr,
        float(input_size[0]), float(input_size[1]), _MODES[mode], radius, bufs["x"].ptr, bufs["y"].ptr,
        bufs["peak"].ptr, status.ptr, stream,
    )  # fmt: skip


def postprocess(
    features: object,
    grad: object,
    fmap: object,
    geometry: object,
    *,
    input_size: Sequence[float],
    mode: str,
    radius: int,
    out: DeviceOutputs,
    stream: int = 0,
) -> None:
    """Queue :func:`grad_cam` then :func:`localize` on one stream; writes every field of ``out``."""
    grad_cam(features, grad, out=out, stream=stream)
    localize(out.cam, fmap, geometry, input_size=input_size, mode=mode, radius=radius, out=out, stream=stream)


def check_status(status: int) -> None:
    """Raise :class:`NonFiniteError` when a synchronised status word has the NaN/Inf bit set."""
    if status & NONFINITE:
        raise NonFiniteError(
            "CUDA kernels: expected finite values, got NaN or Inf in the engine's outputs; check the engine (an FP16 "
            "overflow gives Inf) or the frames that produced them"
        )
