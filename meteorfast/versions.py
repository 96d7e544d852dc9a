"""Every version check in one place: which TensorRT API generation to use, and the facts engines are keyed by.

TensorRT 10 builds reduced precision with builder flags (``BuilderFlag.FP16``, ``BuilderFlag.INT8`` and an INT8
calibrator). TensorRT 11 removed them: networks are strongly typed and the precision travels in the ONNX (FP16
casts, Q/DQ nodes).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from meteorfast.errors import BackendUnavailableError

MIN_TENSORRT = Version("10.0")


@dataclass(frozen=True)
class TensorRTApi:
    """What the installed TensorRT supports. ``version`` is the full version string (``10.16.1.11``)."""

    version: str
    major: int
    precision_flags: bool  # BuilderFlag.FP16 / INT8 and INT8 calibrators (TensorRT < 11)
    strongly_typed: bool  # build strongly typed networks, precision from the ONNX (TensorRT >= 11)


def tensorrt_api(version: str) -> TensorRTApi:
    """Classify a TensorRT version string. Raises :class:`BackendUnavailableError` below 10."""
    try:
        v = Version(version)
    except InvalidVersion as err:
        raise BackendUnavailableError(f"TensorRT: expected a version like 10.16.1, got {version!r}") from err
    if v < MIN_TENSORRT:
        raise BackendUnavailableError(
            f"TensorRT: expected version {MIN_TENSORRT} or newer (name-based tensor API), got {version}; "
            "upgrade with pip install -U tensorrt"
        )
    return TensorRTApi(version=str(v), major=v.major, precision_flags=v.major < 11, strongly_typed=v.major >= 11)


def short_version(version: str) -> str:
    """``10.16.1.11`` -> ``10.16``: engines are portable across patch releases of one minor version only when
    TensorRT says so, so file names carry major.minor and manifests the full string."""
    v = Version(version)
    return f"{v.major}.{v.minor}"
