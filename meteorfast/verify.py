"""The second look: a classifier on a native-resolution crop around each located point.

The first look sees the whole frame shrunk to its input (224x384 for the shipped model: a 1280x720 still shrunk 3.3
times). A meteor shorter than about 120 px becomes a dash as short as a satellite's in a 5 s exposure, and what tells
the two apart at full resolution (a meteor's light curve rises and fades, a satellite's dash is even and ends
sharply, a flaring satellite has an even dash on either side of its flare) is averaged away. The first look's located
point is nonetheless on the streak (``benchmarks/RESULTS.md``), so a second model, the *verifier*, looks at the
frame's own pixels there: a square crop of its input size (224 px for the shipped one) centred on the point, moved
inside the frame where the point is near an edge.

The decision (:func:`combine`): the final meteor probability is the first look's ``p1`` where ``p1 < low`` or
``p1 >= high``, and in between, where the first look is unsure, the verifier's ``p2``, or with a ``first_weight``
``w > 0`` the blend ``sigmoid(w logit p1 + (1 - w) logit p2)``. One threshold applies to it; with ``low <= threshold
<= high`` a frame the first look is sure of keeps its answer. Several verifiers trained behind the same first look
make one graph (:func:`~meteorfast.export.verifier.merge`, ``meteorfast merge-verifiers``) whose ``p2`` is the mean
of theirs: what one lets through the other often does not. A verifier stores its band, the detector modes it
serves and its own threshold in its ONNX metadata (:data:`VERIFY_KEY`, and
:data:`meteorfast.calibration.THRESHOLD_KEY` as ``meteorfast calibrate`` writes it), and is trained behind one first
look (``meteorfast train --verifier-for MODEL``), whose located points it learned from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meteorfast.errors import EngineMismatchError, InputError

VERIFY_KEY = "meteorfast.verify"
MODES = ("frame", "stack")


@dataclass(frozen=True)
class VerifySpec:
    """What a verifier graph stores under :data:`VERIFY_KEY`: it decides the items whose first-look probability is
    in ``[low, high)``, in the detector ``modes`` listed; ``first_look`` is the sha256 of the weights of the model
    whose located points it was trained on (``meteorfast.weights_sha256`` of that graph), for the record;
    ``first_weight`` in ``[0, 1)`` is the first look's share of the blend in the band (0: the verifier decides)."""

    low: float
    high: float
    modes: tuple[str, ...] = ("frame",)
    first_look: str = ""
    first_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.low < self.high <= 1.0:
            raise InputError(f"verifier: expected a band 0 <= low < high <= 1, got [{self.low}, {self.high})")
        if not self.modes or not set(self.modes) <= set(MODES):
            raise InputError(f"verifier: expected modes among {', '.join(MODES)}, got {list(self.modes)}")
        if not 0.0 <= self.first_weight < 1.0:
            raise InputError(
                f"verifier: expected a first-look weight in [0, 1) (0: the verifier decides alone), got "
                f"{self.first_weight}"
            )

    def to_json(self) -> str:
        return json.dumps(
            {"low": self.low, "high": self.high, "modes": list(self.modes), "first_look": self.first_look,
             "first_weight": self.first_weight}
        )  # fmt: skip


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
        weight = value.get("first_weight", 0.0)
        if any(isinstance(v, bool) for v in (low, high, weight)) or not isinstance(modes, list):
            raise TypeError("booleans or a mode list that is not a list")
        return VerifySpec(float(low), float(high), tuple(str(m) for m in modes), str(value.get("first_look", "")),
                          float(weight))  # fmt: skip
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise EngineMismatchError(
            f"verifier: expected {VERIFY_KEY} to be a JSON object with low, high, modes (and first_weight in [0, "
            f"1)), got {raw!r} ({err}); "
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
    """The final meteor probability, float32 ``[N]``: where ``first`` is in ``[low, high)``, ``second`` (the
    verifier's, ``[N]``; read only in the band) blended with ``first`` as ``sigmoid(w logit first + (1 - w) logit
    second)`` for ``w = spec.first_weight`` (``second`` itself for ``w = 0``); ``first`` elsewhere."""
    band = in_band(first, spec)
    if spec.first_weight == 0.0:
        return np.where(band, second, first).astype(np.float32)
    from meteorfast.odds import logit

    w = spec.first_weight
    z = w * logit(first) + (1 - w) * logit(second)
    return np.where(band, 1 / (1 + np.exp(-z)), first).astype(np.float32)


__all__ = ["MODES", "VERIFY_KEY", "VerifySpec", "combine", "crop_boxes", "crops", "in_band", "read_spec"]
