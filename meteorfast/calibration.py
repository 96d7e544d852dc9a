"""A decision threshold stored in the model, per representation.

An exported graph may carry ``meteorfast.threshold`` in its ``metadata_props``: a JSON number (one threshold for
every mode) or an object such as ``{"frame": 0.61, "stack": 0.5}``. Single frames and ``max - mean`` stacks give
differently distributed probabilities, so a threshold chosen on one does not carry over to the other; a mode the
object leaves out falls back to the detector's default of 0.5.

:func:`write_threshold` sets one mode's threshold in a copy of the model (``meteorfast calibrate``), the way a
station owner tunes a meteor filter to a false-positive budget on their own non-meteor frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from meteorfast.errors import BackendUnavailableError, EngineMismatchError, InputError
from meteorfast.io import atomic_write_bytes

THRESHOLD_KEY = "meteorfast.threshold"
MODES = ("frame", "stack")


def _check(value: object, where: str) -> float:
    # bool is an int to Python, and true/false in the metadata is a mistake, not 1 and 0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise EngineMismatchError(
            f"model: expected {THRESHOLD_KEY} {where} to be a probability in [0, 1], got {value!r}; "
            "set it again with `meteorfast calibrate`"
        )
    return float(value)


def stored_thresholds(metadata: Mapping[str, str]) -> dict[str, float]:
    """The thresholds the model's ``metadata`` stores, by mode (``frame``, ``stack``); empty when it stores none."""
    raw = metadata.get(THRESHOLD_KEY)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise EngineMismatchError(
            f"model: expected {THRESHOLD_KEY} to be JSON (a number or an object by mode), got {raw!r}; "
            "set it again with `meteorfast calibrate`"
        ) from err
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(MODES))
        if unknown:
            raise EngineMismatchError(
                f"model: expected {THRESHOLD_KEY} modes among {', '.join(MODES)}, got {unknown}; "
                "set it again with `meteorfast calibrate`"
            )
        return {mode: _check(v, f"for {mode!r}") for mode, v in value.items()}
    return dict.fromkeys(MODES, _check(value, "")) if value is not None else {}


def stored_threshold(metadata: Mapping[str, str], mode: str) -> float | None:
    """The threshold the model stores for ``mode`` (``"frame"`` or ``"stack"``), or None."""
    if mode not in MODES:
        raise InputError(f"threshold: expected a mode among {', '.join(MODES)}, got {mode!r}")
    return stored_thresholds(metadata).get(mode)


def copy_with_metadata(
    src: str | Path, dst: str | Path, updates: Callable[[dict[str, str]], Mapping[str, str]], what: str
) -> Path:
    """Copy the ONNX graph ``src`` to ``dst`` with the entries ``updates(metadata)`` returns set in its
    ``metadata_props`` (the other keys kept); ``what`` names the command in messages. Needs the ``onnx`` package
    (in the ``train`` extra)."""
    try:
        import onnx
    except ImportError as err:
        raise BackendUnavailableError(
            f'{what}: writing into the model metadata needs onnx ({err}); pip install "meteorfast[train]"'
        ) from err
    src_path = Path(src)
    if src_path.suffix.lower() != ".onnx" or not src_path.is_file():
        raise InputError(f"{what}: expected an existing .onnx model, got {str(src_path)!r}; pass the exported graph")
    model = onnx.load(str(src_path))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(updates(dict(meta)))
    onnx.helper.set_model_props(model, meta)
    return atomic_write_bytes(dst, model.SerializeToString())


def write_threshold(src: str | Path, dst: str | Path, threshold: float, mode: str) -> Path:
    """Copy the ONNX model ``src`` to ``dst`` with ``threshold`` stored for ``mode``; the other mode keeps what
    ``src`` stores for it. Needs the ``onnx`` package (in the ``train`` extra)."""
    if mode not in MODES:
        raise InputError(f"calibrate: expected a mode among {', '.join(MODES)}, got {mode!r}")
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"calibrate: expected a threshold in [0, 1], got {threshold}")

    def update(meta: dict[str, str]) -> dict[str, str]:
        thresholds = {**stored_thresholds(meta), mode: float(threshold)}
        return {THRESHOLD_KEY: json.dumps({m: thresholds[m] for m in MODES if m in thresholds})}

    return copy_with_metadata(src, dst, update, "calibrate")


__all__ = ["MODES", "THRESHOLD_KEY", "copy_with_metadata", "stored_threshold", "stored_thresholds", "write_threshold"]
