"""The first look at a batch of items: the backend's probability, Grad-CAM map and located point for every model
input (tiles flattened), the mirror images' average with ``tta``, then per item its best tile, and with tiles the
frame-level map stitched from them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from meteorfast.backends.base import FIRST_LOOK_OUTPUTS, Backend, LookOutputs
from meteorfast.cam.reference import LocalizeMode
from meteorfast.errors import EngineMismatchError, InputError
from meteorfast.judges.base import Verdict, View
from meteorfast.results import Item, StageTimes
from meteorfast.stream.prepare import tile_origins


@dataclass(frozen=True)
class Looked:
    """One item after the first look: its :class:`~meteorfast.judges.base.View` and
    :class:`~meteorfast.judges.base.Verdict`, the best tile's ``peak``, and ``cam`` (float32 ``[h,w]``), the map its
    result reports (the best tile's, or with tiles the frame-level stitched map)."""

    view: View
    verdict: Verdict
    peak: float
    cam: npt.NDArray[np.float32]


class FirstLook:
    """Runs ``backend`` over items in batches of ``batch_size`` for a model input of ``input_size`` whose
    first-layer map is ``fine_shape``; ``tile = (size, overlap)`` with ``tile_hw`` its ``(height, width)``;
    ``tta`` averages each probability with its mirror images'."""

    def __init__(
        self, backend: Backend, times: StageTimes, *, input_size: tuple[int, int], fine_shape: tuple[int, int],
        batch_size: int, localize: LocalizeMode = "fused", tta: bool = False, tile: tuple[int, int] | None = None,
        tile_hw: tuple[int, int] = (0, 0),
    ) -> None:  # fmt: skip
        self.backend = backend
        self.times = times
        self.input_size = input_size
        self.batch_size = batch_size
        self.localize: LocalizeMode = localize
        self.tta = tta
        self.tile = tile
        self.tile_hw = tile_hw
        h, w = input_size
        self._cell_in = np.array([w / fine_shape[1], h / fine_shape[0]], np.float32)

    def _run(self, inputs: npt.NDArray[np.uint8], geometry: npt.NDArray[np.float32]) -> LookOutputs:
        parts = []
        for start in range(0, len(inputs), self.batch_size):
            end = start + self.batch_size
            parts.append(self.backend.first_look(inputs[start:end], geometry[start:end], input_size=self.input_size,
                                                 localize=self.localize, times=self.times))  # fmt: skip
        return LookOutputs(*(np.concatenate([getattr(p, k) for p in parts]) for k in LookOutputs.__dataclass_fields__))

    def _mirrored(self, inputs: npt.NDArray[np.uint8], prob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``prob`` (of ``inputs`` as they are) averaged with the inputs' left-right and upside-down mirror images':
        float32 ``[M]``."""
        began = time.perf_counter()
        total = prob.astype(np.float64)
        for mirrored in (inputs[..., ::-1], inputs[..., ::-1, :]):
            for start in range(0, len(mirrored), self.batch_size):
                part = np.ascontiguousarray(mirrored[start : start + self.batch_size])
                total[start : start + len(part)] += self.backend.probabilities(part)
        self.times.add("tta", time.perf_counter() - began, len(inputs))
        out: npt.NDArray[np.float32] = (total / 3).astype(np.float32)
        return out

    def __call__(self, items: Sequence[Item]) -> list[Looked]:
        inputs = np.concatenate([it.inputs for it in items])
        geo = np.concatenate([it.geometry for it in items])
        look = self._run(inputs, geo)
        prob = self._mirrored(inputs, look.prob) if self.tta else look.prob
        bounds = np.cumsum([0] + [len(it.inputs) for it in items])
        out = []
        for i, it in enumerate(items):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            b = lo + int(np.argmax(prob[lo:hi]))
            view = View(it, look.cam[b], look.fine[b], geo[b], geo[b, :2] * self._cell_in)
            verdict = Verdict(float(prob[b]), float(prob[b]), float(look.x[b]), float(look.y[b]))
            cam = look.cam[b] if hi - lo == 1 else self._stitch(it, prob[lo:hi], look.cam[lo:hi])
            out.append(Looked(view, verdict, float(look.peak[b]), cam))
        return out

    def _stitch(
        self, item: Item, prob: npt.NDArray[np.float32], cams: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Tiles' CAMs -> one frame-level map (each weighted by its tile's probability; max where tiles overlap)."""
        if self.tile is None:
            raise InputError("Detector: stitching needs tile=(size, overlap)")  # only tiled items have several inputs
        h, w = item.image.shape[:2]
        ch, cw = cams.shape[1:]
        th, tw = self.tile_hw
        cell_y, cell_x = th / ch, tw / cw
        out = np.zeros((int(np.ceil(h / cell_y)), int(np.ceil(w / cell_x))), np.float32)
        for (y, x), p, cam in zip(tile_origins((h, w), (th, tw), self.tile[1]), prob, cams, strict=True):
            r0, c0 = min(round(y / cell_y), out.shape[0] - ch), min(round(x / cell_x), out.shape[1] - cw)
            view = out[r0 : r0 + ch, c0 : c0 + cw]
            np.maximum(view, cam * np.float32(p), out=view)
        return out


def graph_geometry(backend: Backend, model: Path) -> tuple[tuple[int, int], tuple[int, int]]:
    """The model input's ``(H, W)`` and its first-layer map's, or an error for a graph the detector cannot run."""
    outs, ins = backend.output_specs, backend.input_specs
    if any(n not in outs for n in FIRST_LOOK_OUTPUTS) or "frames" not in ins:
        raise EngineMismatchError(
            f"model {str(model)!r}: expected a meteorfast graph with input 'frames' and outputs "
            f"{list(FIRST_LOOK_OUTPUTS)}, got inputs {sorted(ins)} and outputs {sorted(outs)}; "
            "export it with `meteorfast export` (which adds the Grad-CAM outputs)"
        )
    shape, fine = ins["frames"].shape, outs["conv1_map"].shape
    if not all(isinstance(d, int) for d in (*shape[1:], *fine[2:])):
        raise EngineMismatchError(
            f"model {str(model)!r}: expected fixed input and map sizes, got frames {shape}, conv1_map {fine}"
        )
    return (int(shape[2]), int(shape[3])), (int(fine[2]), int(fine[3]))  # type: ignore[arg-type]


__all__ = ["FirstLook", "Looked", "graph_geometry"]
