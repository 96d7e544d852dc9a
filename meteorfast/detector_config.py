"""Every option of a :class:`~meteorfast.detector.Detector`, in one frozen dataclass that checks itself.

``Detector(model, **options)`` builds a :class:`DetectorConfig` from its keywords; ``Detector(config=...)`` takes
one; ``meteorfast detect`` builds one from its flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from meteorfast.cam.reference import LocalizeMode
from meteorfast.errors import InputError
from meteorfast.preprocess import ResizeMode
from meteorfast.stream.flicker import DEFAULT_FLICKER

if TYPE_CHECKING:
    from meteorfast.judges.base import Judge

Mode = Literal["frame", "stack"]
StillsSetting = bool | Literal["auto"]


@dataclass(frozen=True)
class DetectorConfig:
    """A detector's options.

    - ``model``: ``"default"`` (the shipped model, 224x384), ``"fast"`` (the shipped 224x224 model) or a path to an
      ``.onnx`` or TensorRT ``.engine``; ``backend``: ``auto``, ``onnxruntime`` or ``tensorrt``; ``batch_size``:
      model inputs per inference call; ``threads``: CPU threads for ONNX Runtime (default: ``METEORFAST_THREADS``).
    - ``mode``: classify single frames, or ``stack`` windows of ``window`` frames every ``stride`` (default
      ``window``) frames with the native stacking kernel; ``flicker``: in ``stack`` mode, take ``flicker`` times each
      pixel's excess temporal noise off its ``max - mean`` (0 turns it off; see :mod:`meteorfast.stream.flicker`).
    - ``tile = (size, overlap)``: overlapping native-resolution tiles of frames larger than a tile, ``size`` px high
      and with the model input's aspect; the best tile decides.
    - ``threshold``: on the score (default: the threshold the model, or its verifier, stores for ``mode``, else 0.5).
    - ``localize``: ``fused`` or ``paper`` (see :func:`meteorfast.cam.localize`); ``resize``: ``stretch`` or
      ``letterbox``.
    - ``refine``: move the point to the streak on the frame itself (``refine``), and a detection's point along it
      (``walk``); ``candidates``: the fused map's peaks searched in each detection (1: the located point only);
      ``search``: ``detections`` or ``all`` items searched.
    - ``queue_depth``: items buffered per source (default ``2 * batch_size``); ``push_timeout_s``: how long a partly
      filled batch waits for more; ``max_gap``: missed frames bridged inside one event.
    - ``mask``: the station's mask (an image file or array of the frames' size, non-zero where the sky is searched);
      ignored pixels are set to the mean of the rest before classification.
    - ``tta``: average the probability over each input and its left-right and upside-down mirror images.
    - ``verifier``: the second look (:mod:`meteorfast.judges.second_look`): ``"auto"`` takes the one shipped with
      the shipped default model, in the modes it serves; None turns it off; a path names one.
    - ``satellite_veto``, ``star_veto``, ``rescue`` (the proposal net's second opinion): the stills' stages
      (:mod:`meteorfast.judges`), in ``frame`` mode: ``"auto"`` judges the items known to be stills, True every
      frame, False none. The star veto is off by default.
    - ``judges``: the stages after the first look, in order (default :data:`meteorfast.judges.CHAIN`); each builds
      itself from this config, and leaves itself out where the config turns it off.
    """

    model: str | Path = "default"
    backend: str = "auto"
    batch_size: int = 32
    mode: Mode = "frame"
    window: int = 25
    tile: tuple[int, int] | None = None
    threshold: float | None = None
    localize: LocalizeMode = "fused"
    stride: int | None = None
    refine: bool = True
    candidates: int = 16
    search: Literal["detections", "all"] = "detections"
    resize: ResizeMode = "stretch"
    queue_depth: int | None = None
    push_timeout_s: float = 0.05
    max_gap: int = 1
    threads: int | None = None
    mask: str | Path | npt.ArrayLike | None = field(default=None, compare=False, repr=False)
    flicker: float = DEFAULT_FLICKER
    tta: bool = False
    verifier: str | Path | None = "auto"
    satellite_veto: StillsSetting = "auto"
    rescue: StillsSetting = "auto"
    star_veto: StillsSetting = False
    judges: tuple[type[Judge], ...] | None = None

    def __post_init__(self) -> None:
        self._check_batching()
        self._check_geometry()
        if not (np.isfinite(self.flicker) and self.flicker >= 0):
            raise InputError(f"Detector: expected flicker >= 0 (0 turns it off), got {self.flicker}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"Detector: expected a threshold in [0, 1], got {self.threshold}")
        for name in ("satellite_veto", "rescue", "star_veto"):
            object.__setattr__(self, name, _stills_setting(name, getattr(self, name), self.mode))
        if self.judges is not None:
            object.__setattr__(self, "judges", tuple(self.judges))

    def _check_batching(self) -> None:
        if self.batch_size < 1:
            raise InputError(f"Detector: expected batch_size >= 1, got {self.batch_size}")
        if self.mode not in ("frame", "stack"):
            raise InputError(f"Detector: expected mode 'frame' or 'stack', got {self.mode!r}")
        if self.mode == "stack" and not 2 <= self.window <= 65535:
            raise InputError(f"Detector: expected a stacking window of 2..65535 frames, got {self.window}")
        if self.mode == "stack" and self.stride_frames < 1:
            raise InputError(f"Detector: expected stride >= 1, got {self.stride}")
        if self.max_gap < 0:
            raise InputError(f"Detector: expected max_gap >= 0 frames, got {self.max_gap}")

    def _check_geometry(self) -> None:
        tile = self.tile
        if tile is not None and (len(tile) != 2 or tile[0] < 16 or not 0 <= tile[1] < tile[0]):
            raise InputError(f"Detector: expected tile=(size >= 16, 0 <= overlap < size), got {tile}")
        if self.localize not in ("fused", "paper"):
            raise InputError(f"Detector: expected localize 'fused' or 'paper', got {self.localize!r}")
        if self.candidates < 1:
            raise InputError(
                f"Detector: expected candidates >= 1 (1 refines the located point only), got {self.candidates}"
            )
        if self.search not in ("detections", "all"):
            raise InputError(f"Detector: expected search 'detections' or 'all', got {self.search!r}")

    @property
    def stride_frames(self) -> int:
        """Frames between the starts of two windows (``stride``, default ``window``)."""
        return self.window if self.stride is None else self.stride

    @property
    def depth(self) -> int:
        """Items buffered per source (``queue_depth``, default ``2 * batch_size``)."""
        return self.queue_depth or 2 * self.batch_size

    @property
    def explicit_verifier(self) -> bool:
        """Whether a verifier was named (it must then serve this mode) rather than left to ``"auto"`` or None."""
        return self.verifier is not None and not (isinstance(self.verifier, str) and self.verifier == "auto")

    def but(self, **changes: Any) -> DetectorConfig:
        """A copy with ``changes``, checked again."""
        return replace(self, **changes)


def _stills_setting(name: str, value: object, mode: str) -> StillsSetting:
    """A stills stage's setting checked: True, False or ``"auto"``; True only in ``frame`` mode."""
    if isinstance(value, bool | np.bool_):
        value = bool(value)
    elif value != "auto":
        raise InputError(f"Detector: expected {name} True, False or 'auto', got {value!r}")
    if value is True and mode != "frame":
        raise InputError(
            f"Detector: expected {name}=False or 'auto' in mode {mode!r}; it judges single long exposures (stills) in "
            "frame mode, where a satellite leaves a dash and a meteor its light curve"
        )
    return "auto" if value == "auto" else bool(value)


__all__ = ["DetectorConfig", "Mode"]
