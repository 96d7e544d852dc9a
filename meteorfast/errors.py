"""The one exception family of meteorfast.

Every error the package raises on purpose is a :class:`MeteorfastError`. Subclasses also inherit the built-in that
fits, so ``except ValueError`` keeps working for callers who do not know this package.

A message has three parts: what was expected, what came, and what to do.
"""

from __future__ import annotations

# Nothing is imported here: setup.py loads this file by path, before the package can be imported.


class MeteorfastError(Exception):
    """Base of every error meteorfast raises on purpose."""


class InputError(MeteorfastError, ValueError):
    """An argument has the wrong shape, dtype or value."""


class NonFiniteError(InputError):
    """An input array holds NaN or Inf."""


class ConfigurationError(MeteorfastError, ValueError):
    """A setting (environment variable, option) cannot be used."""


class BackendUnavailableError(MeteorfastError, ImportError):
    """A backend or native module cannot run here (not installed, not built, no device)."""


class DeviceError(MeteorfastError, RuntimeError):
    """A CUDA call failed, or no CUDA device is present."""


class OutputError(MeteorfastError, OSError):
    """An output file could not be written."""


class EngineMismatchError(MeteorfastError, RuntimeError):
    """A TensorRT engine was built for another GPU, TensorRT version or ONNX; the message gives the rebuild command."""


class ExportError(MeteorfastError, ValueError):
    """A model cannot be exported with the Grad-CAM outputs (unsupported head layer, bad settings)."""


__all__ = [
    "BackendUnavailableError",
    "ConfigurationError",
    "DeviceError",
    "EngineMismatchError",
    "ExportError",
    "InputError",
    "MeteorfastError",
    "NonFiniteError",
    "OutputError",
]
