"""Probe for NVIDIA GPUs through the driver API, without importing pycuda, TensorRT or the native modules.

The driver library is opened with ctypes: on a machine without a driver the probe answers at once with the reason
instead of failing an import.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class DriverProbe:
    """``count`` CUDA devices seen by the driver; ``reason`` says why when there are none."""

    count: int
    reason: str


@lru_cache(maxsize=1)
def probe_driver() -> DriverProbe:
    """Count CUDA devices via ``libcuda.so.1`` (``cuInit`` + ``cuDeviceGetCount``). Cached per process."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return DriverProbe(0, "no NVIDIA driver: libcuda.so.1 not found")
    rc = lib.cuInit(0)
    if rc != 0:
        return DriverProbe(0, f"no CUDA device: cuInit failed with CUresult {rc}")
    count = ctypes.c_int(0)
    rc = lib.cuDeviceGetCount(ctypes.byref(count))
    if rc != 0:
        return DriverProbe(0, f"no CUDA device: cuDeviceGetCount failed with CUresult {rc}")
    if count.value == 0:
        return DriverProbe(0, "no CUDA device: the driver reports none")
    return DriverProbe(count.value, "")
