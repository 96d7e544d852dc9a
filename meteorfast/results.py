"""What the detector works on and what it gives back: :class:`Item`, :class:`FrameResult`, :class:`BatchResult`, and
the seconds each stage took (:class:`StageTimes`).

These sit below the detector, the stream and the judges alike, so each of them can import them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: The stage that set a result's score where no judge changed it.
FIRST_LOOK = "first_look"


@dataclass(frozen=True)
class Item:
    """One unit of inference work from one source: a frame, or a stacked window of frames ``index..end_index``.

    ``image``: what is classified, at native resolution (uint8|uint16 ``[H,W]`` or ``[H,W,3]``): the frame, or the
    window's ``max - mean`` image; ``inputs: uint8 [T,C,h,w]``, the model input (T tiles, 1 without tiling) and
    ``geometry: float32 [T,4]``, each tile's map from model-input to frame pixels; ``seq`` counts the source's items;
    ``still``: the item is a single exposure (a photo), not a video frame or a window of them; ``file``: the image
    file it was read from ("" otherwise).
    """

    source: str
    seq: int
    index: int
    end_index: int
    time_s: float
    end_time_s: float
    image: npt.NDArray[np.unsignedinteger] = field(repr=False)
    inputs: npt.NDArray[np.uint8] = field(repr=False)
    geometry: npt.NDArray[np.float32] = field(repr=False)
    still: bool = False
    file: str = ""

    @property
    def frames(self) -> int:
        return self.end_index - self.index + 1


@dataclass(frozen=True)
class FrameResult:
    """One classified frame (``mode="frame"``) or window ``index..end_index`` (``mode="stack"``) of ``source``.

    ``prob`` is the model's meteor probability (the first look's, or where the second look looked, its blend);
    ``score`` is what decided (``is_meteor`` is ``score >= threshold``): the same as ``prob`` unless a judge turned
    a detection down or took a still back, and ``decided_by`` names the stage that set it last. ``x, y`` are pixels
    of the original frame. ``image`` is what was classified (the frame, or the window's ``max - mean`` image;
    uint8|uint16 ``[H,W]``) and ``cam: float32 [h,w]`` its CAM; drop both if you keep results for long. ``still``:
    the item was a single exposure; ``file``: the image file it was read from ("" for video frames and windows).
    """

    source: str
    index: int
    end_index: int
    time_s: float
    end_time_s: float
    prob: float
    score: float
    decided_by: str
    is_meteor: bool
    x: float
    y: float
    peak: float
    cam: npt.NDArray[np.float32] = field(repr=False)
    image: npt.NDArray[np.unsignedinteger] = field(repr=False)
    still: bool = False
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``frames.jsonl`` record (``file`` is null for video frames and windows)."""
        return {
            "source": self.source, "file": self.file or None, "index": self.index, "end_index": self.end_index,
            "time_s": round(self.time_s, 4), "end_time_s": round(self.end_time_s, 4), "prob": round(self.prob, 5),
            "score": round(self.score, 5), "decided_by": self.decided_by, "is_meteor": self.is_meteor,
            "x": round(self.x, 2), "y": round(self.y, 2), "peak": round(self.peak, 5),
        }  # fmt: skip


@dataclass(frozen=True)
class BatchResult:
    """Per frame: ``prob`` (the model's), ``score`` (what decided), ``x``, ``y``, ``peak``: float32 ``[N]``;
    ``is_meteor``: bool ``[N]`` (``score >= threshold``); ``decided_by``: the stage that set each score, ``[N]``;
    ``cam``: float32 ``[N,h,w]`` in [0, 1] (ReLU then min-max; at feature resolution, or with tiling the frame-level
    stitched map, one cell per feature cell of a tile; zero-padded to the largest). ``x, y`` are original-frame
    pixels."""

    prob: npt.NDArray[np.float32]
    is_meteor: npt.NDArray[np.bool_]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    peak: npt.NDArray[np.float32]
    cam: npt.NDArray[np.float32] = field(repr=False)
    score: npt.NDArray[np.float32]
    decided_by: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.prob.shape[0])

    @classmethod
    def of(cls, results: Iterable[FrameResult]) -> BatchResult:
        """The arrays of ``results``, in their order (their CAMs zero-padded to the largest)."""
        rs = list(results)
        hmax = max(r.cam.shape[0] for r in rs)
        wmax = max(r.cam.shape[1] for r in rs)
        cam = np.zeros((len(rs), hmax, wmax), np.float32)
        for i, r in enumerate(rs):
            cam[i, : r.cam.shape[0], : r.cam.shape[1]] = r.cam

        def column(name: str) -> npt.NDArray[np.float32]:
            return np.array([getattr(r, name) for r in rs], np.float32)

        return cls(
            column("prob"), np.array([r.is_meteor for r in rs], np.bool_), column("x"), column("y"), column("peak"),
            cam, column("score"), tuple(r.decided_by for r in rs),
        )  # fmt: skip


class StageTimes:
    """Seconds spent per pipeline stage and items seen, summed across threads. The first look's stages are always
    listed: ``stack``, ``preprocess``, ``infer``, ``cam`` (Grad-CAM from the engine's tensors), ``post`` (the native
    localisation) and ``tta`` (the mirror images' inference); each judge adds its own under its name as it runs
    (``refine``, ``second_look``, ``walk``, ``satellite_veto``, ``star_veto``, ``proposal``), counting the items it
    was asked about. :attr:`meteorfast.detector.Detector.times` holds one; ``meteorfast bench`` reads it."""

    FIRST_LOOK_STAGES = ("stack", "preprocess", "infer", "cam", "post", "tta")

    def __init__(self, stages: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.items: dict[str, int] = {}
        for stage in (*self.FIRST_LOOK_STAGES, *stages):
            self.seconds.setdefault(stage, 0.0)
            self.items.setdefault(stage, 0)

    def add(self, stage: str, seconds: float, items: int) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
            self.items[stage] = self.items.get(stage, 0) + items

    def reset(self) -> None:
        with self._lock:
            for k in self.seconds:
                self.seconds[k] = 0.0
                self.items[k] = 0

    def ms_per_item(self) -> dict[str, float]:
        """Milliseconds per item (frame, window or tile, as each stage counts them) for each stage."""
        with self._lock:
            return {k: 1e3 * s / self.items[k] if self.items[k] else 0.0 for k, s in self.seconds.items()}


__all__ = ["FIRST_LOOK", "BatchResult", "FrameResult", "Item", "StageTimes"]
