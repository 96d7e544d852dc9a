"""The second look: a classifier on a native-resolution crop around each located point.

The first look sees the whole frame shrunk to its input (224x384 for the shipped model: a 1280x720 still shrunk 3.3
times). A meteor shorter than about 120 px becomes a dash as short as a satellite's in a 5 s exposure, and what tells
the two apart at full resolution (a meteor's light curve rises and fades, a satellite's dash is even and ends
sharply, a flaring satellite has an even dash on either side of its flare) is averaged away. The first look's located
point is nonetheless on the streak (median under 1 px), so a second model, the *verifier*, looks at the frame's own
pixels there: a square crop of its input size (160 px for the shipped one) centred on the point, moved inside the
frame where the point is near an edge.

The decision (:func:`combine`): the final meteor probability is the first look's ``p1`` where ``p1 < low`` or
``p1 >= high``, and the verifier's ``p2`` in between, where the first look is unsure. One threshold applies to it;
with ``low <= threshold <= high`` a frame the first look is sure of keeps its answer. A verifier stores its band, the
detector modes it serves and its own threshold in its ONNX metadata (:data:`VERIFY_KEY`, and
:data:`meteorfast.calibration.THRESHOLD_KEY` as ``meteorfast calibrate`` writes it), and is trained behind one first
look (``meteorfast train --verifier-for MODEL``), whose located points it learned from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from meteorfast.errors import EngineMismatchError, InputError

VERIFY_KEY = "meteorfast.verify"
MODES = ("frame", "stack")


@dataclass(frozen=True)
class VerifySpec:
    """What a verifier graph stores under :data:`VERIFY_KEY`: it decides the items whose first-look probability is
    in ``[low, high)``, in the detector ``modes`` listed; ``first_look`` is the sha256 of the weights of the model
    whose located points it was trained on (``meteorfast.weights_sha256`` of that graph), for the record."""

    low: float
    high: float
    modes: tuple[str, ...] = ("frame",)
    first_look: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.low < self.high <= 1.0:
            raise InputError(f"verifier: expected a band 0 <= low < high <= 1, got [{self.low}, {self.high})")
        if not self.modes or not set(self.modes) <= set(MODES):
            raise InputError(f"verifier: expected modes among {', '.join(MODES)}, got {list(self.modes)}")

    def to_json(self) -> str:
        return json.dumps(
            {"low": self.low, "high": self.high, "modes": list(self.modes), "first_look": self.first_look}
        )


def read_spec(metadata: Mapping[str, str]) -> VerifySpec | None:
    """The :class:`VerifySpec` a graph's ``metadata`` stores, or None for a graph that is not a verifier."""
    raw = metadata.get(VERIFY_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise TypeError(f"a JSON {type(value).__name__}")
        low, high, modes = value["low"], value["high"], value.get("modes", ["frame"])
        if isinstance(low, bool) or isinstance(high, bool) or not isinstance(modes, list):
            raise TypeError("booleans or a mode list that is not a list")
        return VerifySpec(float(low), float(high), tuple(str(m) for m in modes), str(value.get("first_look", "")))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise EngineMismatchError(
            f"verifier: expected {VERIFY_KEY} to be a JSON object with low, high and modes, got {raw!r} ({err}); "
            "train the verifier again with `meteorfast train --verifier-for MODEL`"
        ) from err


def crop_boxes(
    shapes: Sequence[tuple[int, int]], x: npt.ArrayLike, y: npt.ArrayLike, size: tuple[int, int]
) -> npt.NDArray[np.int64]:
    """Per item, the ``(y0, x0, y1, x1)`` of a crop of ``size = (height, width)`` px centred on the point ``(x,
    y)`` (frame pixels, pixel ``(r, c)`` spanning ``[c, c+1) x [r, r+1)``) of a frame of ``shapes[i] = (H, W)``,
    moved inside the frame where the point is near an edge (a frame smaller than ``size`` is taken whole): int64
    ``[N, 4]``. A point that is not finite is taken as the frame's centre."""
    xs = np.asarray(x, np.float64).reshape(-1)
    ys = np.asarray(y, np.float64).reshape(-1)
    if not len(shapes) == xs.size == ys.size:
        raise InputError(f"verifier: expected one point per frame, got {len(shapes)} frames, {xs.size} x, {ys.size} y")
    ch, cw = size
    out = np.empty((len(shapes), 4), np.int64)
    for i, (h, w) in enumerate(shapes):
        px = xs[i] if np.isfinite(xs[i]) else w / 2
        py = ys[i] if np.isfinite(ys[i]) else h / 2
        bh, bw = min(ch, h), min(cw, w)
        y0 = int(np.clip(np.floor(py - bh / 2 + 0.5), 0, h - bh))
        x0 = int(np.clip(np.floor(px - bw / 2 + 0.5), 0, w - bw))
        out[i] = (y0, x0, y0 + bh, x0 + bw)
    return out


def crops(
    images: Sequence[npt.NDArray[np.generic]], x: npt.ArrayLike, y: npt.ArrayLike, size: tuple[int, int]
) -> list[npt.NDArray[np.generic]]:
    """The crops of :func:`crop_boxes` (views of ``images``, each ``[h, w]`` or ``[h, w, C]``)."""
    boxes = crop_boxes([img.shape[:2] for img in images], x, y, size)
    return [img[y0:y1, x0:x1] for img, (y0, x0, y1, x1) in zip(images, boxes, strict=True)]


def in_band(prob: npt.NDArray[np.floating], spec: VerifySpec) -> npt.NDArray[np.bool_]:
    """Which first-look probabilities (``[N]``) the verifier decides: bool ``[N]``."""
    return np.asarray((prob >= spec.low) & (prob < spec.high))


def combine(
    first: npt.NDArray[np.float32], second: npt.NDArray[np.float32], spec: VerifySpec
) -> npt.NDArray[np.float32]:
    """The final meteor probability, float32 ``[N]``: ``second`` (the verifier's, ``[N]``; read only in the band)
    where ``first`` is in ``[low, high)``, ``first`` elsewhere."""
    return np.where(in_band(first, spec), second, first).astype(np.float32)


def write_spec(src: str | Path, dst: str | Path, spec: VerifySpec) -> Path:
    """Copy the ONNX graph ``src`` to ``dst`` with ``spec`` stored under :data:`VERIFY_KEY` (needs ``onnx``)."""
    from meteorfast.calibration import copy_with_metadata

    return copy_with_metadata(src, dst, lambda _: {VERIFY_KEY: spec.to_json()}, "verifier")


__all__ = ["VERIFY_KEY", "VerifySpec", "combine", "crop_boxes", "crops", "in_band", "read_spec", "write_spec"]
