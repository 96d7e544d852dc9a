"""meteorfast: meteor detection for camera networks, with Grad-CAM localisation computed inside the engine.

``import meteorfast`` costs only NumPy; runtimes (ONNX Runtime, TensorRT, pycuda, torch) load when used.
"""

from __future__ import annotations

from typing import Any

from meteorfast._version import __version__
from meteorfast.errors import MeteorfastError

_LAZY = {
    "Detector": "meteorfast.detector", "DetectorConfig": "meteorfast.detector_config",
    "BatchResult": "meteorfast.results", "FrameResult": "meteorfast.results", "Event": "meteorfast.stream.events",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """``meteorfast.Detector`` and friends, imported on first use so that ``import meteorfast`` stays cheap."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'meteorfast' has no attribute {name!r}")


__all__ = ["BatchResult", "Detector", "DetectorConfig", "Event", "FrameResult", "MeteorfastError", "__version__"]
