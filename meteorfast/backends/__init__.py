"""Inference backends behind one :class:`~meteorfast.backends.base.Backend` base, found through a registry.

Runtime-specific code lives only here. Each backend module imports its runtime (onnxruntime, tensorrt, pycuda)
when it is used, so ``import meteorfast.backends`` costs nothing; :func:`available_backends` answers without
importing any runtime.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meteorfast.backends.base import Backend, TensorSpec
from meteorfast.devices import probe_driver
from meteorfast.errors import BackendUnavailableError, InputError

if TYPE_CHECKING:
    from meteorfast.cam.reference import LocalizeMode

__all__ = [
    "Availability",
    "Backend",
    "BackendEntry",
    "TensorSpec",
    "available_backends",
    "backend_for",
    "choose_backend",
    "get_backend",
    "open_backend",
    "register",
]


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here and, when not, why and what to do."""

    available: bool
    reason: str


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend: its name, the model-file suffixes it runs, where its class lives, and its probe."""

    name: str
    suffixes: tuple[str, ...]
    target: str  # "module:Class", imported on first use
    probe: Callable[[], Availability]


_REGISTRY: dict[str, BackendEntry] = {}


def register(entry: BackendEntry) -> None:
    """Add a backend. Later entries win a suffix another entry also claims."""
    _REGISTRY[entry.name] = entry


def _missing(*modules: str) -> list[str]:
    missing = []
    for m in modules:
        try:
            spec = importlib.util.find_spec(m)
        except (ImportError, ValueError):  # ValueError: blocked with sys.modules[m] = None
            spec = None
        # A directory of .pyi stubs (tensorrt-stubs) imports as an empty namespace package: not the runtime.
        found = spec is not None and spec.origin not in (None, "namespace")
        if not found:
            missing.append(m)
    return missing


def _probe_onnxruntime() -> Availability:
    if _missing("onnxruntime"):
        return Availability(False, "onnxruntime not installed; pip install onnxruntime")
    return Availability(True, "")


def _probe_tensorrt() -> Availability:
    missing = _missing("tensorrt", "pycuda")
    if missing:
        return Availability(
            False,
            f"{' and '.join(missing)} not installed; on a machine with an NVIDIA GPU: "
            "pip install 'meteorfast[tensorrt]' "
            "--extra-index-url https://pypi.nvidia.com",
        )
    driver = probe_driver()
    if driver.count == 0:
        return Availability(False, driver.reason)
    if importlib.util.find_spec("meteorfast.backends.tensorrt") is None:
        return Availability(False, "this meteorfast build has no TensorRT backend module")
    return Availability(True, "")


register(
    BackendEntry("onnxruntime", (".onnx",), "meteorfast.backends.onnxruntime:OnnxRuntimeBackend", _probe_onnxruntime)
)
register(
    BackendEntry("tensorrt", (".engine", ".plan"), "meteorfast.backends.tensorrt:TensorRTBackend", _probe_tensorrt)
)


def available_backends() -> dict[str, Availability]:
    """Every registered backend, with whether it can run here and why not. Imports no runtime."""
    return {name: entry.probe() for name, entry in _REGISTRY.items()}


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as ``name``; raises if unknown or unavailable here."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise InputError(f"backend: expected one of {sorted(_REGISTRY)}, got {name!r}")
    status = entry.probe()
    if not status.available:
        raise BackendUnavailableError(f"backend {name!r} cannot run here: {status.reason}")
    module, _, cls = entry.target.partition(":")
    backend: type[Backend] = getattr(importlib.import_module(module), cls)
    return backend


def backend_for(model: str | Path) -> type[Backend]:
    """The backend class for a model file, chosen by its suffix."""
    suffix = Path(model).suffix.lower()
    for entry in reversed(list(_REGISTRY.values())):
        if suffix in entry.suffixes:
            return get_backend(entry.name)
    known = sorted(s for e in _REGISTRY.values() for s in e.suffixes)
    raise InputError(f"backend: expected a model file ending in one of {known}, got {str(model)!r}")


def choose_backend(model: str | Path, backend: str = "auto") -> str:
    """The backend name to run ``model`` with. ``auto``: TensorRT when it and a GPU are usable (an ``.onnx`` is then
    built into an engine first), otherwise ONNX Runtime; an engine file always needs TensorRT."""
    if backend != "auto":
        if backend not in _REGISTRY:
            raise InputError(f"backend: expected 'auto' or one of {sorted(_REGISTRY)}, got {backend!r}")
        return backend
    suffix = Path(model).suffix.lower()
    if suffix in _REGISTRY["tensorrt"].suffixes:
        return "tensorrt"
    return "tensorrt" if _REGISTRY["tensorrt"].probe().available else "onnxruntime"


def open_backend(
    model: Path, backend: str = "auto", *, batch_size: int = 32, localize: LocalizeMode = "fused",
    threads: int | None = None,
) -> Backend:  # fmt: skip
    """An opened backend for the graph or engine at ``model`` as the detector runs it (see
    :meth:`Backend.for_detector`): ``backend`` as :func:`choose_backend` takes it."""
    cls = get_backend(choose_backend(model, backend))
    return cls.for_detector(model, batch_size=batch_size, localize=localize, threads=threads).open()
