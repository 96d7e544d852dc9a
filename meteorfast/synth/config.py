"""The simulator's kinds of item, its configuration and the items it returns (see :mod:`meteorfast.synth`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError

METEOR_KINDS = ("meteor", "fireball", "faint_meteor")
CONFOUNDERS = ("aircraft", "satellite", "bird", "lightning", "cloud", "fog", "shake")
NEGATIVE_KINDS = ("clean", *CONFOUNDERS)
KINDS = (*METEOR_KINDS, *NEGATIVE_KINDS)
METEOR_SHARES = (0.7, 0.1, 0.2)  # of meteor, fireball and faint_meteor among the meteors of a sample

Segment = tuple[float, float, float, float]
SKY_NOISE = 4.5  # a typical sky pixel's noise (ADU), the unit of meteor amplitudes
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SimConfig:
    """``size = (height, width)``; ``geometry``: ``wide`` or ``allsky`` (fisheye circle); ``bits``: 8 or 16;
    ``fps`` and the per-frame ``exposure`` (seconds) of clips; ``still_exposure``: the shutter time of single frames
    (long enough by default to hold a whole meteor, as all-sky stills do); ``compress``: H.264-like artefacts;
    ``trailed_stars``: the share of scenes exposed for a second or more whose stars trail along one path, as a
    long exposure's stars do when the sky drifts or the camera moves (video frames' stars never trail).
    ``meteor_length``: None, or ``(low, high)`` px on a 720 px high frame: each meteor's length is drawn uniformly
    from it instead of following from its speed and duration (its speed is drawn as usual, its duration follows,
    at most 3 s). Training uses it to show short meteors, which the usual draws make rare, more often."""

    size: tuple[int, int] = (720, 1280)
    geometry: str = "wide"
    bits: int = 8
    fps: float = 25.0
    exposure: float = 1 / 25
    still_exposure: float = 5.0
    compress: bool = True
    trailed_stars: float = 0.2
    meteor_length: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.geometry not in ("wide", "allsky"):
            raise InputError(f"synth: expected geometry 'wide' or 'allsky', got {self.geometry!r}")
        if self.bits not in (8, 16):
            raise InputError(f"synth: expected bits 8 or 16, got {self.bits}")
        if min(self.size) < 16:
            raise InputError(f"synth: expected a size of at least 16x16, got {self.size}")
        if not (self.fps > 0 and 0 < self.exposure <= 1 / self.fps + 1e-9 and self.still_exposure > 0):
            raise InputError(
                f"synth: expected fps > 0, 0 < exposure <= 1/fps, still_exposure > 0; got fps={self.fps}, "
                f"exposure={self.exposure}, still_exposure={self.still_exposure}"
            )
        if not 0 <= self.trailed_stars <= 1:
            raise InputError(f"synth: expected trailed_stars in [0, 1], got {self.trailed_stars}")
        if self.meteor_length is not None and not (
            len(self.meteor_length) == 2 and 0 < self.meteor_length[0] <= self.meteor_length[1] < np.inf
        ):
            raise InputError(
                f"synth: expected meteor_length None or (low, high) px with 0 < low <= high, got {self.meteor_length}"
            )


@dataclass(frozen=True)
class Truth:
    """``label`` 1 for a meteor; ``kind`` (one of :data:`KINDS`); ``confounder`` for labelled negatives; per frame,
    the meteor's visible ``segments`` ``(x0, y0, x1, y1)`` in frame coordinates (pixel centres at ``c + 0.5,
    r + 0.5``), None where that frame does not show it (out of view, or behind the scenery)."""

    label: int
    kind: str
    confounder: str | None
    segments: tuple[Segment | None, ...]


@dataclass(frozen=True)
class SimFrame:
    """``image``: uint8 or uint16 ``[H, W]``; ``exposure_s``: the shutter time of a single frame (a still's, or a
    video frame's), None for a stack of frames."""

    image: npt.NDArray[np.unsignedinteger]
    truth: Truth
    exposure_s: float | None = None


@dataclass(frozen=True)
class SimClip:
    """``frames``: uint8 or uint16 ``[T, H, W]`` at ``fps``."""

    frames: npt.NDArray[np.unsignedinteger]
    truth: Truth
    fps: float
