"""meteorfast: meteor detection for camera networks, with Grad-CAM localisation computed inside the engine.

``import meteorfast`` costs only NumPy; runtimes (ONNX Runtime, TensorRT, pycuda, torch) load when used.
"""

from __future__ import annotations

from meteorfast._version import __version__
from meteorfast.errors import MeteorfastError

__all__ = ["MeteorfastError", "__version__"]
