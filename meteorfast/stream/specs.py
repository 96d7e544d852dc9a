"""What a caller hands the detector, checked: a batch of frames for ``classify`` and a list of source specs for
``stream`` and ``detect``, opened with unique ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError
from meteorfast.stream.sources import Source, SourceSpec, check_frame, open_source


def as_frames(frames: npt.ArrayLike | Sequence[npt.ArrayLike]) -> list[npt.NDArray[Any]]:
    """A batch given to ``Detector.classify`` as a list of checked frames (see :func:`check_frame`): an array
    ``[N,H,W]`` or ``[N,H,W,3]``, or a list of frames of any sizes."""
    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise InputError(
                f"classify: expected frames [N,H,W] or [N,H,W,3], got shape {frames.shape}; add a batch axis "
                "with frame[None] for one frame"
            )
        batch = list(frames)
    elif isinstance(frames, Sequence) and not isinstance(frames, str | bytes):
        try:
            batch = [np.asarray(f) for f in frames]
        except (ValueError, TypeError) as err:
            raise InputError(f"classify: expected a list of frame arrays, got items NumPy cannot read ({err})") from err
    else:
        raise InputError(f"classify: expected an array [N,H,W] or a list of frames, got {type(frames).__name__}")
    if not batch:
        raise InputError("classify: expected at least one frame, got an empty batch")
    return [check_frame(f, "classify", i) for i, f in enumerate(batch)]


def open_sources(sources: SourceSpec | Sequence[SourceSpec]) -> list[Source]:
    """Opened :class:`Source` s for one source or a list of them (a list is always a list of sources), with ids made
    unique (a repeated id gets ``#1``, ``#2``, ...)."""
    specs: list[SourceSpec] = list(sources) if isinstance(sources, list | tuple) else [sources]  # type: ignore[list-item]
    if not specs:
        raise InputError("stream: expected at least one source, got none")
    out = [open_source(s, default_id=f"array{i}") for i, s in enumerate(specs)]
    seen: dict[str, int] = {}
    for s in out:  # results and events are keyed by source id, so ids must differ
        n = seen.get(s.id, 0)
        seen[s.id] = n + 1
        if n:
            s.id = f"{s.id}#{n}"
    return out


__all__ = ["as_frames", "open_sources"]
