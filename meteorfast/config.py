"""Every ``METEORFAST_*`` environment variable, read in this one module.

It imports only the standard library and :mod:`meteorfast.errors` (which imports nothing), because ``setup.py``
loads both by path to read the build-time variables before the package (or numpy) can be imported.

Build time (read by ``setup.py``):

``METEORFAST_CUDA``
    ``auto`` (default): build the CUDA extension when ``nvcc`` is found. ``1``: build it or fail with a clear
    message. ``0``: never build it.
``METEORFAST_CUDA_ARCHS``
    Semicolon- or comma-separated SM versions, default ``75;80;86;89;90``. SASS is generated for each, plus PTX
    for the highest so that newer GPUs can JIT it. nvcc 13 has no target below sm_75.
``METEORFAST_NVCC``
    Path to ``nvcc``; default: the one on ``PATH``, then ``$CUDA_HOME/bin/nvcc``.

Run time:

``METEORFAST_KERNELS``
    ``auto`` (default): native kernels when built, else the NumPy reference. ``native``: require the native CPU
    module (error if it is not built). ``reference``: always use the NumPy reference.
``METEORFAST_THREADS``
    Threads for the native CPU kernels (OpenMP). Default: the CPUs this process may run on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from meteorfast.errors import ConfigurationError

DEFAULT_CUDA_ARCHS: tuple[int, ...] = (75, 80, 86, 89, 90)
MIN_CUDA_ARCH = 75

_CUDA_MODES = ("auto", "0", "1")
_KERNEL_MODES = ("auto", "native", "reference")


def _get(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class BuildConfig:
    """Build-time settings for ``setup.py``."""

    cuda: str
    cuda_archs: tuple[int, ...]
    nvcc: str | None


def _parse_archs(text: str) -> tuple[int, ...]:
    archs: list[int] = []
    for part in text.replace(",", ";").split(";"):
        part = part.strip().lower().removeprefix("sm_").removeprefix("compute_")
        if not part:
            continue
        if not part.isdigit():
            raise ConfigurationError(
                f"METEORFAST_CUDA_ARCHS: expected SM versions such as '75;86;90', got {text!r}; "
                "set it to a list of integers or unset it for the default"
            )
        arch = int(part)
        if arch < MIN_CUDA_ARCH:
            raise ConfigurationError(
                f"METEORFAST_CUDA_ARCHS: expected SM versions of at least {MIN_CUDA_ARCH} (nvcc 13 has none older), "
                f"got {arch}; remove it from the list"
            )
        archs.append(arch)
    if not archs:
        raise ConfigurationError(f"METEORFAST_CUDA_ARCHS: expected at least one SM version, got {text!r}")
    return tuple(sorted(set(archs)))


def build_config() -> BuildConfig:
    """Read the build-time variables; raises :class:`~meteorfast.errors.ConfigurationError` on an unusable value."""
    cuda = _get("METEORFAST_CUDA", "auto").lower()
    if cuda not in _CUDA_MODES:
        raise ConfigurationError(f"METEORFAST_CUDA: expected one of {', '.join(_CUDA_MODES)}, got {cuda!r}")
    archs_text = _get("METEORFAST_CUDA_ARCHS", "")
    archs = _parse_archs(archs_text) if archs_text else DEFAULT_CUDA_ARCHS
    nvcc = _get("METEORFAST_NVCC", "") or None
    return BuildConfig(cuda=cuda, cuda_archs=archs, nvcc=nvcc)


@dataclass(frozen=True)
class RuntimeConfig:
    """Run-time settings."""

    kernels: str
    threads: int


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def runtime_config() -> RuntimeConfig:
    """Read the run-time variables afresh; raises :class:`~meteorfast.errors.ConfigurationError` if one is unusable."""
    kernels = _get("METEORFAST_KERNELS", "auto").lower()
    if kernels not in _KERNEL_MODES:
        raise ConfigurationError(
            f"METEORFAST_KERNELS: expected one of {', '.join(_KERNEL_MODES)}, got {kernels!r}; unset it for 'auto'"
        )
    threads_text = _get("METEORFAST_THREADS", "")
    if threads_text:
        if not threads_text.isdigit() or int(threads_text) < 1:
            raise ConfigurationError(
                f"METEORFAST_THREADS: expected a positive integer, got {threads_text!r}; unset it to use every "
                "CPU this process may run on"
            )
        threads = int(threads_text)
    else:
        threads = _default_threads()
    return RuntimeConfig(kernels=kernels, threads=threads)
