"""The proposal net's scanner: where in a native-resolution still a faint meteor may lie.

The first look sees a 720p still shrunk 3.3 times, and misses faint meteors among stars, clouds and scenery. The
proposal net runs fully convolutionally over the still
at native resolution and gives one logit per :data:`CELL` px cell (80x45 for 1280x720): how likely the cell's
centre lies on a meteor's streak. It is trained on :data:`CROP` px crops (:mod:`meteorfast.train_propose`), and its
own false alarms on whole negative stills are mined back into training (:func:`best_cells` picks them). The shipped
net (``meteorfast/data/models/meteorfast-propose.onnx``) is what :mod:`meteorfast.judges.proposal` scans the stills
with.

This module needs no torch: :class:`ProposalScanner` runs an exported net with ONNX Runtime (the cell labels the
training uses are in :mod:`meteorfast.train_propose`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError

# The net's output stride: the truncated Lite0 body (five stages) halves the resolution four times.
CELL = 16
# Training crops: 20x20 cells, big enough to hold a 200 px meteor's context, small enough for batch 16 on a CPU.
CROP = 320
# An exported net's logits are shifted so that the bar its own calibration chose reads as this (train_propose's
# `export --bar`), and the rescue's rules are written in those units.
EXPORT_BAR = 2.0


def best_cells(logits: npt.NDArray[np.floating], k: int, min_cells: int = 7) -> list[tuple[int, int, float]]:
    """The ``k`` highest cells of ``logits`` (``float [rows, cols]``), each at least ``min_cells`` cells (Chebyshev)
    from those picked before it: ``[(row, col, logit)]``, best first; fewer where the map has no room."""
    if logits.ndim != 2 or k < 1 or min_cells < 0:
        raise InputError(
            f"propose: expected a 2-D logit map, k >= 1 and min_cells >= 0, got shape {logits.shape}, k={k}, "
            f"min_cells={min_cells}"
        )
    work = np.array(logits, np.float64)
    picked: list[tuple[int, int, float]] = []
    while len(picked) < k:
        flat = int(np.argmax(work))
        value = float(work.flat[flat])
        if value == -np.inf:
            break
        r, c = divmod(flat, work.shape[1])
        picked.append((r, c, value))
        work[max(r - min_cells, 0) : r + min_cells + 1, max(c - min_cells, 0) : c + min_cells + 1] = -np.inf
    return picked


def window_origins(shape: tuple[int, int], window: tuple[int, int], overlap: int = 10 * CELL) -> list[tuple[int, int]]:
    """The ``(y0, x0)`` of windows of ``window = (height, width)`` px covering a still of ``shape = (H, W)``, all
    multiples of :data:`CELL` and the still at least one window: cell-aligned, so a window's cells are the still's,
    each overlapping the one before it by at least ``overlap`` px, so a streak cut by one window's edge lies inside
    the next, and the last flush with the still's edge."""
    (h, w), (wh, ww) = shape, window
    if h < wh or w < ww or (h | w | wh | ww) % CELL or not 0 <= overlap < min(wh, ww):
        raise InputError(
            f"propose: expected a still of at least the window {window}, both in whole {CELL} px cells, and 0 <= "
            f"overlap < the window, got a still of {shape} and overlap {overlap}"
        )

    def starts(size: int, span: int) -> list[int]:
        step = (span - overlap) // CELL * CELL
        return [*range(0, size - span, step), size - span]

    return [(y0, x0) for y0 in starts(h, wh) for x0 in starts(w, ww)]


@dataclass(frozen=True)
class Proposals:
    """A still's proposals: ``logits`` ``float32 [rows, cols]`` (one per :data:`CELL` px cell) and its best cells
    ``cells`` ``[(row, col, logit)]``, with their centres ``points`` ``[(x, y)]`` in frame px."""

    logits: npt.NDArray[np.float32]
    cells: tuple[tuple[int, int, float], ...]
    points: tuple[tuple[float, float], ...]

    @property
    def best(self) -> float:
        """The highest cell logit (``-inf`` for an empty map)."""
        return self.cells[0][2] if self.cells else float("-inf")


class ProposalScanner:
    """Runs an exported proposal net (``uint8 [1, 1, H, W]`` in, ``float32 [1, 1, H/16, W/16]`` logits out) with the
    ONNX Runtime backend, one still at a time; ``threads`` None takes ``METEORFAST_THREADS`` or the usable CPUs."""

    def __init__(self, model: str | Path, threads: int | None = None) -> None:
        from meteorfast.backends.onnxruntime import OnnxRuntimeBackend

        path = Path(model)
        if not path.is_file():
            raise InputError(f"propose: expected an ONNX proposal net at {str(path)!r}, found no file; export one "
                             "with meteorfast.train_propose")  # fmt: skip
        self._backend = OnnxRuntimeBackend(str(path), threads=threads).open()
        self._input = next(iter(self._backend.input_specs))
        shape = self._backend.input_specs[self._input].shape
        size = [d for d in shape[2:] if isinstance(d, int) and d % CELL == 0]
        if len(shape) != 4 or len(size) != 2:
            self._backend.close()
            raise InputError(
                f"propose: expected a proposal net with a fixed input [1, 1, H, W] in whole {CELL} px cells, got "
                f"{list(shape)} from {str(path)!r}; export one with meteorfast.train_propose"
            )
        self._window = (size[0], size[1])

    def close(self) -> None:
        """Release the ONNX Runtime session."""
        self._backend.close()

    @property
    def window(self) -> tuple[int, int]:
        """The net's fixed input ``(height, width)`` (px)."""
        return self._window

    def logits(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """``image`` ``uint8 [H, W]`` (grey, native resolution) -> ``float32 [ceil(H/16), ceil(W/16)]`` cell logits.

        A still of the net's input size runs whole. Any other is extended by reflection to whole cells and to at
        least one window, covered by windows of the input's size (:func:`window_origins`), and each cell takes its
        highest logit over the windows holding it."""
        if image.dtype != np.uint8 or image.ndim != 2:
            raise InputError(
                f"propose: expected a grey uint8 [H, W] still, got {image.dtype} {image.shape}; convert it to grey "
                "8-bit first"
            )
        wh, ww = self.window
        h, w = image.shape
        if (h, w) == (wh, ww):
            return self._run(image)
        rows, cols = -(-h // CELL), -(-w // CELL)
        padded = image
        ph, pw = max(rows * CELL, wh), max(cols * CELL, ww)
        if (ph, pw) != (h, w):  # to whole cells, and to at least one window
            import cv2

            padded = np.asarray(cv2.copyMakeBorder(image, 0, ph - h, 0, pw - w, cv2.BORDER_REFLECT_101), np.uint8)
        out = np.full((rows, cols), -np.inf, np.float32)
        for y0, x0 in window_origins(padded.shape, (wh, ww)):
            part = self._run(np.ascontiguousarray(padded[y0 : y0 + wh, x0 : x0 + ww]))
            r0, c0 = y0 // CELL, x0 // CELL
            # a window runs past the still's cells only where the still was reflected out to one window
            r1, c1 = min(r0 + part.shape[0], rows), min(c0 + part.shape[1], cols)
            np.maximum(out[r0:r1, c0:c1], part[: r1 - r0, : c1 - c0], out=out[r0:r1, c0:c1])
        return out

    def _run(self, window: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        (out,) = self._backend.infer({self._input: window[None, None]}).values()
        return np.asarray(out[0, 0], np.float32)

    def scan(self, image: npt.NDArray[np.uint8], k: int = 3, min_cells: int = 7) -> Proposals:
        """The still's map and its ``k`` best cells (see :func:`best_cells`)."""
        logits = self.logits(image)
        cells = best_cells(logits, k, min_cells)
        points = tuple((c * CELL + CELL / 2, r * CELL + CELL / 2) for r, c, _ in cells)
        return Proposals(logits, tuple(cells), points)


__all__ = ["CELL", "CROP", "EXPORT_BAR", "ProposalScanner", "Proposals", "best_cells", "window_origins"]
