"""Frames -> inference items, on the reader threads: the station mask, native-resolution tiles, stacking windows
(``mode="stack"``) and flicker suppression, then the model input.

Each source's reader thread runs :meth:`Preparer.items` over its frames, so decoding, stacking and resizing of one
source overlap the inference of the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.image import grey
from meteorfast.errors import InputError
from meteorfast.preprocess import Preprocessor
from meteorfast.results import Item, StageTimes
from meteorfast.stream.sources import Frame


def tile_origins(shape: tuple[int, int], size: int | tuple[int, int], overlap: int) -> list[tuple[int, int]]:
    """``(y, x)`` origins of tiles of ``size`` px (square) or ``size = (height, width)`` covering a frame of
    ``shape = (H, W)``, overlapping by at least ``overlap`` px; the last row and column are pulled back to end at
    the frame's edge."""
    h, w = shape
    th, tw = (size, size) if isinstance(size, int) else size
    ys = list(range(0, max(h - th, 0) + 1, max(th - overlap, 1)))
    xs = list(range(0, max(w - tw, 0) + 1, max(tw - overlap, 1)))
    if ys[-1] + th < h:
        ys.append(h - th)
    if xs[-1] + tw < w:
        xs.append(w - tw)
    return [(y, x) for y in ys for x in xs]


def tile_shape(tile: tuple[int, int] | None, input_size: tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` of a tile: ``tile[0]`` high, with the model input's aspect; (0, 0) without tiles."""
    if tile is None:
        return 0, 0
    width = max(1, round(tile[0] * input_size[1] / input_size[0]))
    if width <= tile[1]:
        raise InputError(
            f"Detector: expected a tile overlap under the tile's width ({width} px, from height {tile[0]} and "
            f"the model input {input_size[0]}x{input_size[1]}), got {tile[1]}; use a smaller overlap"
        )
    return tile[0], width


def load_mask(mask: str | Path | npt.ArrayLike | None) -> npt.NDArray[np.bool_] | None:
    """A station mask -> ``bool [H,W]``, True where the sky is searched; None without one."""
    if mask is None:
        return None
    if isinstance(mask, str | Path):
        from meteorfast.stream.sources import read_image

        arr = read_image(mask)
    else:
        arr = np.asarray(mask)
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.ndim != 2 or arr.size == 0 or arr.dtype.kind not in "biuf":
        raise InputError(
            f"mask: expected an image [H,W] (non-zero = search, zero = ignore), got {arr.dtype} {arr.shape}"
        )
    keep = np.asarray(arr != 0)
    if not keep.any():
        raise InputError("mask: expected some pixels to search (non-zero), got a mask that ignores the whole frame")
    return keep


class Mask:
    """A station mask applied to frames: the ignored pixels set to the mean of the searched ones."""

    def __init__(self, keep: npt.NDArray[np.bool_]) -> None:
        # Derived once: cv2.mean wants a uint8 mask, and the fill goes where the mask is zero.
        self._keep = keep.astype(np.uint8)
        self._ignored = ~keep

    def __call__(self, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``image`` with the ignored pixels set to the mean of the searched ones (a copy)."""
        if image.shape[:2] != self._keep.shape:
            raise InputError(
                f"mask: expected frames of the mask's size {self._keep.shape[1]}x{self._keep.shape[0]}, got "
                f"{image.shape[1]}x{image.shape[0]}; give each camera its own Detector and mask"
            )
        import cv2

        channels = image.shape[2] if image.ndim == 3 else 1
        fill = np.round(cv2.mean(image, mask=self._keep)[:channels]).astype(image.dtype)
        out = image.copy()
        out[self._ignored] = fill if image.ndim == 3 else fill[0]
        return out


class Preparer:
    """Turns frames into :class:`~meteorfast.results.Item` s for one detector: ``prep`` makes the model input;
    ``tile = (size, overlap)`` with ``tile_hw`` its ``(height, width)`` cuts frames larger than a tile; ``mask``
    (``bool [H,W]``) applies to every image classified; in ``stack`` mode, windows of ``window`` frames every
    ``stride`` are stacked, with ``flicker`` times each pixel's excess noise taken off (0: off). Times go to
    ``times``."""

    def __init__(
        self, prep: Preprocessor, times: StageTimes, *, mode: str = "frame", window: int = 25, stride: int = 25,
        tile: tuple[int, int] | None = None, tile_hw: tuple[int, int] = (0, 0),
        mask: npt.NDArray[np.bool_] | None = None, flicker: float = 0.0,
    ) -> None:  # fmt: skip
        self.prep = prep
        self.times = times
        self.mode = mode
        self.window = window
        self.stride = stride
        self.tile = tile
        self.tile_hw = tile_hw
        self.mask = None if mask is None else Mask(mask)
        self.flicker = flicker

    def masked(self, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``image`` with the mask applied (as it is without a mask)."""
        return image if self.mask is None else self.mask(image)

    def inputs(self, image: npt.NDArray[Any]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """The model inputs of ``image`` (uint8 ``[T,C,h,w]``, T tiles or 1) and each one's geometry (float32
        ``[T,4]``, model-input to frame pixels)."""
        if image.ndim not in (2, 3) or image.size == 0:
            raise InputError(f"frames: expected a non-empty image [H,W] or [H,W,3], got shape {image.shape}")
        began = time.perf_counter()
        h, w = image.shape[:2]
        th, tw = self.tile_hw
        if self.tile is not None and h > th and w > tw:
            origins = tile_origins((h, w), (th, tw), self.tile[1])
            inputs, geo = self.prep.batch([image[y : y + th, x : x + tw] for y, x in origins])
            geo[:, 2] += np.array([x for _, x in origins], np.float32)
            geo[:, 3] += np.array([y for y, _ in origins], np.float32)
        else:
            inputs, geo = self.prep.batch([image])
        self.times.add("preprocess", time.perf_counter() - began, 1)
        return inputs, geo

    def item(self, image: npt.NDArray[Any], source: str, seq: int, still: bool = False) -> Item:
        """One frame given alone (``Detector.classify``) as item ``seq`` of ``source``."""
        image = self.masked(image)
        inputs, geo = self.inputs(image)
        return Item(source, seq, seq, seq, 0.0, 0.0, image, inputs, geo, still)

    def items(self, frames: Iterator[Frame], still: bool = False) -> Iterator[Item]:
        """Frames of one source -> its items (frames, or stacked windows); ``still``: the source's frames are single
        exposures (a stacked window never is)."""
        if self.mode == "frame":
            for seq, f in enumerate(frames):
                image = self.masked(f.image)
                inputs, geo = self.inputs(image)
                yield Item(f.source, seq, f.index, f.index, f.time_s, f.time_s, image, inputs, geo, still, f.file)
            return
        yield from Windows(self).items(frames)


class Windows:
    """The stacked windows of one source, as :class:`Preparer` describes them."""

    def __init__(self, preparer: Preparer) -> None:
        from meteorfast.stream.flicker import FlickerReference

        self.p = preparer
        self.held: FlickerReference[tuple[npt.NDArray[np.unsignedinteger], Frame, Frame]] = FlickerReference(
            preparer.window, preparer.stride
        )
        self.seq = 0

    def _emit(
        self, ready: list[tuple[tuple[npt.NDArray[np.unsignedinteger], Frame, Frame], npt.NDArray[np.float32] | None]]
    ) -> Iterator[Item]:
        for (candidate, first, last), reference in ready:
            yield self._item(candidate, reference, first, last)
            self.seq += 1

    def _close(self, result: Any, first: Frame, end: Frame) -> Iterator[Item]:
        if self.p.flicker == 0:
            yield from self._emit([((result.candidate, first, end), None)])
        else:  # held back until a neighbouring window has measured the noise (result() arrays are fresh)
            yield from self._emit(self.held.add(first.index, end.index, result.std, (result.candidate, first, end)))

    def _result(self, st: Any) -> Any:
        began = time.perf_counter()
        result = st.result()
        self.p.times.add("stack", time.perf_counter() - began, 0)
        return result

    def items(self, frames: Iterator[Frame]) -> Iterator[Item]:
        from meteorfast.cam import Stacker

        window, stride, times = self.p.window, self.p.stride, self.p.times
        free: list[Stacker] = []
        active: list[tuple[Stacker, Frame]] = []  # each open window with its first frame
        last: Frame | None = None
        for count, f in enumerate(frames):
            image = grey(f.image)
            if count % stride == 0:
                reuse = free and free[-1].shape == image.shape and free[-1].dtype == image.dtype
                active.append((free.pop() if reuse else Stacker(image.shape, image.dtype), f))
            last = f
            began = time.perf_counter()
            for st, _ in active:
                st.add(image)
            times.add("stack", time.perf_counter() - began, 1)
            if active and active[0][0].frames == window:
                st, first = active.pop(0)
                yield from self._close(self._result(st), first, f)
                st.reset()
                free.append(st)
        # A file's tail shorter than a window still counts (a meteor in the last second must not be lost).
        if active and last is not None and active[0][0].frames >= 2:
            st, first = active[0]
            yield from self._close(self._result(st), first, last)
        yield from self._emit(self.held.finish())

    def _item(
        self, candidate: npt.NDArray[np.unsignedinteger], reference: npt.NDArray[np.float32] | None, first: Frame,
        last: Frame,
    ) -> Item:  # fmt: skip
        from meteorfast.stream.flicker import suppress_flicker

        began = time.perf_counter()
        if reference is not None:
            candidate = suppress_flicker(candidate, reference, self.p.flicker)
        candidate = self.p.masked(candidate)
        self.p.times.add("stack", time.perf_counter() - began, 0)
        inputs, geo = self.p.inputs(candidate)
        return Item(first.source, self.seq, first.index, last.index, first.time_s, last.time_s, candidate, inputs, geo)
