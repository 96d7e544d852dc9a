"""The streaming meteor detector: :class:`Detector` with ``classify``, ``stream`` and ``detect``.

Pipeline (see :mod:`meteorfast.stream.pipeline`): one reader thread per source decodes, stacks (``mode="stack"``)
and resizes each frame to the model input (``cv2.resize``: ``stretch`` by default, the whole frame scaled to the
input without keeping its aspect, as in training; or ``letterbox``, aspect kept and padded with black) into a
bounded queue; a round-robin batcher fills batches across sources; this thread runs inference and the native
Grad-CAM post-processing; results come out in order per source. Located points are in frame pixels of the
original frame (pixel ``(r, c)`` spans ``[c, c+1) x [r, r+1)``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from meteorfast.calibration import stored_threshold
from meteorfast.errors import EngineMismatchError, InputError
from meteorfast.preprocess import Preprocessor, ResizeMode
from meteorfast.rescue import Rescuer, rescued_probability, shipped_rescuer, vetoed_probability
from meteorfast.stream.events import Event, EventBuilder
from meteorfast.stream.flicker import DEFAULT_FLICKER
from meteorfast.stream.pipeline import Batcher, Item, Reader, SourceStats
from meteorfast.stream.sources import Frame, Source, SourceSpec, check_frame, open_source, to_grey
from meteorfast.verify import VERIFY_KEY, VerifySpec, combine, in_band

Mode = Literal["frame", "stack"]
LocalizeMode = Literal["fused", "paper"]
REQUIRED_OUTPUTS = ("prob", "features", "cam_weights", "conv1_map")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class BatchResult:
    """Per frame: ``prob``, ``x``, ``y``, ``peak``: float32 ``[N]``; ``is_meteor``: bool ``[N]``; ``cam``: float32
    ``[N,h,w]`` in [0, 1] (ReLU then min-max; at feature resolution, or with tiling the frame-level stitched map,
    one cell per feature cell of a tile). ``x, y`` are original-frame pixels."""

    prob: npt.NDArray[np.float32]
    is_meteor: npt.NDArray[np.bool_]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    peak: npt.NDArray[np.float32]
    cam: npt.NDArray[np.float32] = field(repr=False)

    def __len__(self) -> int:
        return int(self.prob.shape[0])


@dataclass(frozen=True)
class FrameResult:
    """One classified frame (``mode="frame"``) or window ``index..end_index`` (``mode="stack"``) of ``source``.

    ``image`` is what was classified (the frame, or the window's ``max - mean`` image; uint8|uint16 ``[H,W]``) and
    ``cam: float32 [h,w]`` its CAM; drop both if you keep results for long.
    """

    source: str
    index: int
    end_index: int
    time_s: float
    end_time_s: float
    prob: float
    is_meteor: bool
    x: float
    y: float
    peak: float
    cam: npt.NDArray[np.float32] = field(repr=False)
    image: npt.NDArray[np.unsignedinteger] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The ``frames.jsonl`` record."""
        return {
            "source": self.source, "index": self.index, "end_index": self.end_index,
            "time_s": round(self.time_s, 4), "end_time_s": round(self.end_time_s, 4), "prob": round(self.prob, 5),
            "is_meteor": self.is_meteor, "x": round(self.x, 2), "y": round(self.y, 2), "peak": round(self.peak, 5),
        }  # fmt: skip


class StageTimes:
    """Seconds spent per pipeline stage and items seen, summed across threads: ``stack``, ``preprocess``, ``infer``,
    ``cam`` (Grad-CAM from the engine's tensors), ``post`` (the native localisation), ``refine`` (the sub-cell
    step on the frame, and the walk along each detection's streak), ``tta`` (the mirror images' inference),
    ``verify`` (the second look, counted per crop), ``veto`` (the satellite veto, counted per detection judged) and
    ``rescue`` (the proposal net's second opinion on stills, counted per still scanned). :attr:`Detector.times`
    holds one; ``meteorfast bench`` reads it.
    """

    STAGES = ("stack", "preprocess", "infer", "cam", "post", "refine", "tta", "verify", "veto", "stars", "rescue")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self.items = dict.fromkeys(self.STAGES, 0)

    def add(self, stage: str, seconds: float, items: int) -> None:
        with self._lock:
            self.seconds[stage] += seconds
            self.items[stage] += items

    def reset(self) -> None:
        with self._lock:
            for k in self.STAGES:
                self.seconds[k] = 0.0
                self.items[k] = 0

    def ms_per_item(self) -> dict[str, float]:
        """Milliseconds per item (frame, window or tile, as each stage counts them) for each stage."""
        with self._lock:
            return {k: 1e3 * self.seconds[k] / self.items[k] if self.items[k] else 0.0 for k in self.STAGES}


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


class Detector:
    """Classify frames as meteor / non-meteor and locate the meteor (Grad-CAM, then the first-layer map).

    - ``model``: ``"default"`` (the shipped model, 224x384), ``"fast"`` (the shipped 224x224 model: 0.58 times the
      arithmetic, less accurate) or a path to an ``.onnx`` or TensorRT ``.engine``.
    - ``backend``: ``auto``, ``onnxruntime`` or ``tensorrt``; ``batch_size``: model inputs per inference call.
    - ``mode``: classify single frames, or ``stack`` windows of ``window`` frames every ``stride`` (default
      ``window``) frames with the native stacking kernel.
    - ``tile = (size, overlap)``: overlapping native-resolution tiles of frames larger than a tile (the best tile
      decides). A tile is ``size`` px high and as wide as the model input's aspect makes it (``size`` for a square
      input, ``round(size * 384 / 224)`` for a 224x384 one), so the resize does not squash it.
    - ``threshold``: on the meteor probability (default: the threshold the model stores for this ``mode``, once it
      opens (see :mod:`meteorfast.calibration`), else 0.5).
    - ``localize``: ``fused`` or ``paper`` (see :func:`meteorfast.cam.localize`); ``refine``: move the point to the
      streak within its first-layer cell on the frame itself, then, in each detection (each item with
      ``search="all"``), along the streak to its brightest stretch (:func:`meteorfast.cam.refine.brightest_on_streak`,
      after the second look); ``resize``: ``stretch`` or ``letterbox``.
    - ``candidates``: in each detection (or each item, with ``search="all"``), the fused map's ``candidates``
      highest peaks are searched for the streak and the most line-like wins (see :mod:`meteorfast.cam.refine`): the
      highest peak alone is often a star next to a faint meteor. 1 refines the located point only; so does every
      item under the threshold with ``search="detections"``, which keeps the search's cost (a few ms) off the
      quiet frames.
    - ``queue_depth``: items buffered per source (default ``2 * batch_size``); ``push_timeout_s``: how long a partly
      filled batch waits for more; ``max_gap``: missed frames bridged inside one event.
    - ``mask``: the station's mask, as GMN stations keep one (``mask.bmp``): an image file or array of the frames'
      size, non-zero where the sky is searched, zero over what is to be ignored (the camera's housing, buildings,
      the timestamp). Ignored pixels are set to the mean of the rest before classification, in both modes.
    - ``flicker``: in ``stack`` mode, take ``flicker`` times each pixel's excess temporal noise, as measured in
      neighbouring windows, off its ``max - mean`` (see :mod:`meteorfast.stream.flicker`): codec-refreshed edges,
      twinkling stars and cloud edges fade, a meteor keeps its contrast. 0 turns it off. The first windows of a
      source wait for the first window that shares no frame with them (one window's time, at the default stride).
    - ``tta``: average the meteor probability over each model input and its left-right and upside-down mirror
      images (test-time augmentation; three times the inference). The point and the CAM come from the input as
      it is. Meant for stills, which arrive seconds apart: on simulated stills it let fewer negatives through
      (``benchmarks/RESULTS.md``).
    - ``verifier``: the second look (see :mod:`meteorfast.verify`): a model that classifies a native-resolution
      crop around the located point of each item whose probability lies in its band, and whose probability then
      replaces the first look's (or is blended with it, as the verifier's spec says). ``"auto"`` (default) takes
      the verifier shipped for the shipped default model, with that model, in the modes it serves (single frames),
      and none otherwise; ``None`` turns it off; a path names a verifier ``.onnx`` or ``.engine``. With a
      verifier, the threshold the verifier stores is the default.
    - ``satellite_veto``: for stills (long exposures), in ``frame`` mode: each detection whose streak is a short
      dash that a satellite's even level explains better than a meteor's light curve is turned down (see
      :mod:`meteorfast.cam.dash`; its probability is scaled under the threshold by the likelihood ratio). On
      simulated stills it brought satellites under 2 % on every seed for about one meteor in 1,000
      (``benchmarks/RESULTS.md``). A video frame must not be judged so: a meteor's 40 ms is itself an even dash.
      ``"auto"`` (default) judges the items known to be stills: frames of a source whose ``stills`` is set (image
      files, :class:`~meteorfast.stream.sources.ImageSource`) and :meth:`classify` calls given ``stills=True``;
      ``True`` judges every frame (``frame`` mode only), ``False`` none. It costs about 0.5 s per judged detection
      whose streak is 100 px or shorter, on one CPU.
    - ``star_veto``: for stills, in ``frame`` mode, after the satellite veto: each detection whose object has the
      shape of the frame's stars, where those are all smeared alike (a shaken camera, a drifting sky), is turned
      down (see :mod:`meteorfast.cam.stars`; its probability is halved under the threshold). Off by default: on
      simulated stills it turned down too many meteors whose point had landed on a trailed star for the shaken
      frames it caught (``benchmarks/RESULTS.md``). ``"auto"`` judges stills, ``True`` every frame (``frame`` mode
      only), ``False`` (default) none. It costs about 0.1 s per judged detection of a 1280x720 still on one CPU
      (66-101 ms measured, most of it the sky's 15 px median filter).
    - ``rescue``: for stills, in ``frame`` mode, after the vetoes: the shipped proposal net scans each judged still
      at native resolution and gives a second opinion, weighed with the detector's own logit (see
      :mod:`meteorfast.rescue`). A still turned down is taken back where the net's best cell, a quarter of the
      detector's logit and the dash fit at the net's best cells together reach the rule's bar (the point moves to the
      net's best cell); a detection is turned down where the detector is unsure of it and the net sees no streak
      within one cell of its point. On 12,000 fresh simulated stills (``benchmarks/RESULTS.md``, stop 50) this
      raised recall from 0.977 to 0.984 for one false positive fewer (42 in all). ``"auto"``, ``True`` and
      ``False`` choose the frames as for ``satellite_veto``. It costs a scan of each judged still (about 0.23 s on
      one CPU thread for 1280x720, in windows of that size for other sizes) and a fit at up to three of the net's
      cells where the score is near the bar.
    """

    def __init__(
        self,
        model: str | Path = "default",
        backend: str = "auto",
        batch_size: int = 32,
        mode: Mode = "frame",
        window: int = 25,
        tile: tuple[int, int] | None = None,
        threshold: float | None = None,
        localize: LocalizeMode = "fused",
        *,
        stride: int | None = None,
        refine: bool = True,
        candidates: int = 16,
        search: Literal["detections", "all"] = "detections",
        resize: ResizeMode = "stretch",
        queue_depth: int | None = None,
        push_timeout_s: float = 0.05,
        max_gap: int = 1,
        threads: int | None = None,
        mask: str | Path | npt.ArrayLike | None = None,
        flicker: float = DEFAULT_FLICKER,
        tta: bool = False,
        verifier: str | Path | None = "auto",
        satellite_veto: bool | Literal["auto"] = "auto",
        rescue: bool | Literal["auto"] = "auto",
        star_veto: bool | Literal["auto"] = False,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"Detector: expected batch_size >= 1, got {batch_size}")
        if mode not in ("frame", "stack"):
            raise InputError(f"Detector: expected mode 'frame' or 'stack', got {mode!r}")
        if mode == "stack" and not 2 <= window <= 65535:
            raise InputError(f"Detector: expected a stacking window of 2..65535 frames, got {window}")
        self.stride = window if stride is None else stride
        if mode == "stack" and self.stride < 1:
            raise InputError(f"Detector: expected stride >= 1, got {stride}")
        if tile is not None and (len(tile) != 2 or tile[0] < 16 or not 0 <= tile[1] < tile[0]):
            raise InputError(f"Detector: expected tile=(size >= 16, 0 <= overlap < size), got {tile}")
        if localize not in ("fused", "paper"):
            raise InputError(f"Detector: expected localize 'fused' or 'paper', got {localize!r}")
        if candidates < 1:
            raise InputError(f"Detector: expected candidates >= 1 (1 refines the located point only), got {candidates}")
        if search not in ("detections", "all"):
            raise InputError(f"Detector: expected search 'detections' or 'all', got {search!r}")
        if not (np.isfinite(flicker) and flicker >= 0):
            raise InputError(f"Detector: expected flicker >= 0 (0 turns it off), got {flicker}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise InputError(f"Detector: expected a threshold in [0, 1], got {threshold}")
        self.satellite_veto = _stills_setting("satellite_veto", satellite_veto, mode)
        self.rescue = _stills_setting("rescue", rescue, mode)
        self.star_veto = _stills_setting("star_veto", star_veto, mode)
        from meteorfast.data import resolve_model, resolve_verifier

        self.model = resolve_model(model)
        # An explicit verifier must serve this detector's mode; the automatic one is simply not used where it does not.
        self._verifier_explicit = verifier is not None and not (isinstance(verifier, str) and verifier == "auto")
        self.verifier: Path | None = resolve_verifier(verifier, self.model)
        self.backend_name = backend
        self.batch_size = batch_size
        self.mode: Mode = mode
        self.window = window
        self.tile = tile
        self.localize: LocalizeMode = localize
        self.refine = refine
        self.candidates = candidates
        self.search = search
        self.resize: ResizeMode = resize
        self.queue_depth = queue_depth or 2 * batch_size
        self.push_timeout_s = push_timeout_s
        self.max_gap = max_gap
        self.flicker = float(flicker)
        self.tta = tta
        self.threads = threads
        if max_gap < 0:
            raise InputError(f"Detector: expected max_gap >= 0 frames, got {max_gap}")
        self.mask = _load_mask(mask)
        # Derived once: cv2.mean wants a uint8 mask, and the fill goes where the mask is zero.
        self._mask_u8 = None if self.mask is None else self.mask.astype(np.uint8)
        self._ignored = None if self.mask is None else ~self.mask
        self._threshold_arg = threshold
        # The model's own threshold (``meteorfast.threshold`` in its metadata) replaces this when it opens.
        self.threshold = threshold if threshold is not None else DEFAULT_THRESHOLD
        self.stats: list[SourceStats] = []
        self._readers: list[Reader] = []
        self.times = StageTimes()
        self._backend: Any = None
        self._verify_backend: Any = None
        self._verify_spec: VerifySpec | None = None
        self._verify_prep: Preprocessor | None = None
        self._prep: Preprocessor | None = None
        self._fine: tuple[int, int] = (0, 0)
        self._tile_hw: tuple[int, int] = (0, 0)  # a tile's (height, width), set when the model opens
        self._lock = threading.Lock()
        self._rescuer: Rescuer | None = None  # opened on the first still to rescue
        self._rescuer_lock = threading.Lock()  # its own: _finish may run under _lock

    # ------------------------------------------------------------ lifecycle

    def open(self) -> Detector:
        """Load the model (done on first use; call it to pay the cost up front)."""
        if self._backend is not None:
            return self
        backend = self._open_backend(self.model)
        outs = backend.output_specs
        ins = backend.input_specs
        if any(n not in outs for n in REQUIRED_OUTPUTS) or "frames" not in ins:
            backend.close()
            raise EngineMismatchError(
                f"model {str(self.model)!r}: expected a meteorfast graph with input 'frames' and outputs "
                f"{list(REQUIRED_OUTPUTS)}, got inputs {sorted(ins)} and outputs {sorted(outs)}; "
                "export it with `meteorfast export` (which adds the Grad-CAM outputs)"
            )
        shape = ins["frames"].shape
        fine = outs["conv1_map"].shape
        if not all(isinstance(d, int) for d in (*shape[1:], *fine[2:])):
            backend.close()
            raise EngineMismatchError(
                f"model {str(self.model)!r}: expected fixed input and map sizes, got frames {shape}, conv1_map {fine}"
            )
        size = (int(shape[2]), int(shape[3]))
        verify: tuple[Any, VerifySpec, Preprocessor] | None = None
        try:
            tile_hw = self._tile_shape(size)
            verify = self._open_verifier()
            metadata = verify[0].metadata if verify is not None else backend.metadata
            stored = None if self._threshold_arg is not None else stored_threshold(metadata, self.mode)
        except BaseException:
            if verify is not None:
                verify[0].close()
            backend.close()
            raise
        if self._threshold_arg is None:
            # With a verifier the verifier's own threshold applies: the final probability is partly its.
            self.threshold = stored if stored is not None else DEFAULT_THRESHOLD
        if verify is not None:
            self._verify_backend, self._verify_spec, self._verify_prep = verify
        self._prep = Preprocessor(size, int(shape[1]), self.resize)
        self._fine = (int(fine[2]), int(fine[3]))
        self._tile_hw = tile_hw
        self._backend = backend
        return self

    def _open_backend(self, path: Path) -> Any:
        """An opened backend for the graph or engine at ``path`` (TensorRT builds an engine from an ``.onnx``)."""
        from meteorfast.backends import choose_backend, get_backend

        name = choose_backend(path, self.backend_name)
        cls: Any = get_backend(name)  # the runtimes' constructors take their own options
        if name == "tensorrt":
            if path.suffix.lower() == ".onnx":
                from meteorfast.backends.tensorrt import build_engine

                path = build_engine(path, batch=(1, self.batch_size, self.batch_size))
            backend = cls(path, mode=self.localize)
        else:
            # No spinning: idle ONNX Runtime threads would spin on the cores the decode and stack threads need.
            backend = cls(path, threads=self.threads, spin=False)
        backend.open()
        return backend

    def _open_verifier(self) -> tuple[Any, VerifySpec, Preprocessor] | None:
        """The verifier's opened backend, its band and its input's preprocessor; None without one (or with the
        automatic one in a mode it does not serve)."""
        from meteorfast.verify import read_spec

        if self.verifier is None:
            return None
        backend = self._open_backend(self.verifier)
        try:
            ins, outs = backend.input_specs, backend.output_specs
            shape: tuple[Any, ...] = ins["frames"].shape if "frames" in ins else ()
            spec = read_spec(backend.metadata)
            if "prob" not in outs or len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]) or spec is None:
                raise EngineMismatchError(
                    f"verifier {str(self.verifier)!r}: expected a meteorfast verifier graph (input 'frames' of a fixed "
                    f"size, output 'prob', and {VERIFY_KEY} in its metadata), got inputs {sorted(ins)}, outputs "
                    f"{sorted(outs)} and {'no' if spec is None else 'a'} {VERIFY_KEY}; train one with "
                    "`meteorfast train --verifier-for MODEL`"
                )
            if self.mode not in spec.modes:
                if self._verifier_explicit:
                    raise InputError(
                        f"verifier {str(self.verifier)!r}: expected a verifier for mode {self.mode!r}, got one for "
                        f"{', '.join(spec.modes)}; pass verifier=None (--verifier none) in this mode"
                    )
                backend.close()
                return None
        except BaseException:
            backend.close()
            raise
        return backend, spec, Preprocessor((int(shape[2]), int(shape[3])), int(shape[1]))

    def close(self) -> None:
        if self._rescuer is not None:
            self._rescuer.close()
            self._rescuer = None
        if self._verify_backend is not None:
            self._verify_backend.close()
            self._verify_backend = None
            self._verify_spec = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Detector:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """The runtime in use (``onnxruntime`` or ``tensorrt``); opens the model."""
        self.open()
        return str(self._backend.name)

    @property
    def verifying(self) -> bool:
        """Whether a verifier looks again at the items in its band (see ``verifier``); opens the model."""
        self.open()
        return self._verify_spec is not None

    @property
    def metadata(self) -> dict[str, str]:
        """The model's ``metadata_props`` (see :func:`meteorfast.export.metadata`); opens the model."""
        self.open()
        if self._backend is None:
            raise InputError("Detector: the model did not open")
        return dict(self._backend.metadata)

    def model_threshold(self, mode: str | None = None) -> float | None:
        """The threshold the model stores for ``mode`` (default: this detector's), or None; opens the model. See
        :mod:`meteorfast.calibration`."""
        self.open()
        if self._backend is None:
            raise InputError("Detector: the model did not open")
        return stored_threshold(self._backend.metadata, mode or self.mode)

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` of the model input."""
        self.open()
        if self._prep is None:
            raise InputError("Detector: the model did not open")
        return self._prep.size

    # ------------------------------------------------------------ preparation (reader threads)

    def _prepare_image(self, image: npt.NDArray[Any]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        prep = self._prep
        if prep is None:
            raise InputError("Detector: expected an open detector; call open() first")
        if image.ndim not in (2, 3) or image.size == 0:
            raise InputError(f"frames: expected a non-empty image [H,W] or [H,W,3], got shape {image.shape}")
        began = time.perf_counter()
        h, w = image.shape[:2]
        th, tw = self._tile_hw
        if self.tile is not None and h > th and w > tw:
            origins = tile_origins((h, w), (th, tw), self.tile[1])
            inputs, geo = prep.batch([image[y : y + th, x : x + tw] for y, x in origins])
            geo[:, 2] += np.array([x for _, x in origins], np.float32)
            geo[:, 3] += np.array([y for y, _ in origins], np.float32)
        else:
            inputs, geo = prep.batch([image])
        self.times.add("preprocess", time.perf_counter() - began, 1)
        return inputs, geo

    def _tile_shape(self, input_size: tuple[int, int]) -> tuple[int, int]:
        """``(height, width)`` of a tile: ``tile[0]`` high, with the model input's aspect; (0, 0) without tiles."""
        if self.tile is None:
            return 0, 0
        width = max(1, round(self.tile[0] * input_size[1] / input_size[0]))
        if width <= self.tile[1]:
            raise InputError(
                f"Detector: expected a tile overlap under the tile's width ({width} px, from height {self.tile[0]} and "
                f"the model input {input_size[0]}x{input_size[1]}), got {self.tile[1]}; use a smaller overlap"
            )
        return self.tile[0], width

    def _masked(self, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``image`` with the mask's ignored pixels set to the mean of the searched ones (a copy; as is without a
        mask)."""
        keep, ignored = self._mask_u8, self._ignored
        if keep is None or ignored is None:
            return image
        if image.shape[:2] != keep.shape:
            raise InputError(
                f"mask: expected frames of the mask's size {keep.shape[1]}x{keep.shape[0]}, got "
                f"{image.shape[1]}x{image.shape[0]}; give each camera its own Detector and mask"
            )
        import cv2

        channels = image.shape[2] if image.ndim == 3 else 1
        fill = np.round(cv2.mean(image, mask=keep)[:channels]).astype(image.dtype)
        out = image.copy()
        out[ignored] = fill if image.ndim == 3 else fill[0]
        return out

    def _items(self, frames: Iterator[Frame], still: bool = False) -> Iterator[Item]:
        """Frames of one source -> inference items (frames, or stacked windows); ``still``: the source's frames are
        single exposures (a stacked window never is)."""
        if self.mode == "frame":
            for seq, f in enumerate(frames):
                image = self._masked(f.image)
                inputs, geo = self._prepare_image(image)
                yield Item(f.source, seq, f.index, f.index, f.time_s, f.time_s, image, inputs, geo, still)
            return
        yield from self._windows(frames)

    def _windows(self, frames: Iterator[Frame]) -> Iterator[Item]:
        from meteorfast.cam import Stacker
        from meteorfast.stream.flicker import FlickerReference

        free: list[Stacker] = []
        active: list[tuple[Stacker, Frame]] = []  # each open window with its first frame
        held: FlickerReference[tuple[npt.NDArray[np.unsignedinteger], Frame, Frame]] = FlickerReference(
            self.window, self.stride
        )
        last: Frame | None = None
        seq = 0

        def emit(
            ready: list[tuple[tuple[npt.NDArray[np.unsignedinteger], Frame, Frame], npt.NDArray[np.float32] | None]],
        ) -> Iterator[Item]:
            nonlocal seq
            for (candidate, a, b), reference in ready:
                yield self._window_item(candidate, reference, a, b, seq)
                seq += 1

        def close(st: Stacker, first: Frame, end: Frame) -> Iterator[Item]:
            began = time.perf_counter()
            result = st.result()
            self.times.add("stack", time.perf_counter() - began, 0)
            if self.flicker == 0:
                yield from emit([((result.candidate, first, end), None)])
            else:  # held back until a neighbouring window has measured the noise (result() arrays are fresh)
                yield from emit(held.add(first.index, end.index, result.std, (result.candidate, first, end)))

        for count, f in enumerate(frames):
            image = to_grey(f.image)
            if count % self.stride == 0:
                reuse = free and free[-1].shape == image.shape and free[-1].dtype == image.dtype
                st = free.pop() if reuse else Stacker(image.shape, image.dtype)
                active.append((st, f))
            last = f
            began = time.perf_counter()
            for st, _ in active:
                st.add(image)
            self.times.add("stack", time.perf_counter() - began, 1)
            if active and active[0][0].frames == self.window:
                st, first = active.pop(0)
                yield from close(st, first, f)
                st.reset()
                free.append(st)
        # A file's tail shorter than a window still counts (a meteor in the last second must not be lost).
        if active and last is not None and active[0][0].frames >= 2:
            st, first = active[0]
            yield from close(st, first, last)
        yield from emit(held.finish())

    def _window_item(
        self, candidate: npt.NDArray[np.unsignedinteger], reference: npt.NDArray[np.float32] | None, first: Frame,
        last: Frame, seq: int,
    ) -> Item:  # fmt: skip
        from meteorfast.stream.flicker import suppress_flicker

        began = time.perf_counter()
        if reference is not None:
            candidate = suppress_flicker(candidate, reference, self.flicker)
        candidate = self._masked(candidate)
        self.times.add("stack", time.perf_counter() - began, 0)
        inputs, geo = self._prepare_image(candidate)
        return Item(first.source, seq, first.index, last.index, first.time_s, last.time_s, candidate, inputs, geo)

    # ------------------------------------------------------------ inference (this thread)

    def _run(
        self, inputs: npt.NDArray[np.uint8], geometry: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], ...]:
        """``inputs: uint8 [M,C,h,w]``, ``geometry: float32 [M,4]`` -> ``prob, x, y, peak: [M]``, ``cam [M,h',w']``,
        ``fine [M,H1,W1]`` (the first-layer map)."""
        import meteorfast.cam as mc

        backend = self._backend
        prep = self._prep
        if backend is None or prep is None:
            raise InputError("Detector: expected an open detector; call open() first")
        parts: list[tuple[npt.NDArray[np.float32], ...]] = []
        for start in range(0, len(inputs), self.batch_size):
            x = inputs[start : start + self.batch_size]
            g = geometry[start : start + self.batch_size]
            t0 = time.perf_counter()
            if backend.name == "tensorrt":  # CAM and localisation run on the device, inside collect()
                r = backend.collect(backend.submit(x, g, want_cam=True))
                parts.append((r.prob, r.x, r.y, r.peak, r.cam, r.fine))
                self.times.add("infer", time.perf_counter() - t0, len(x))
                continue
            out = backend.infer({"frames": x}, ["prob", "features", "cam_weights", "conv1_map"])
            t1 = time.perf_counter()
            cam = mc.grad_cam(out["features"], weights=out["cam_weights"])
            t2 = time.perf_counter()
            fine = np.asarray(out["conv1_map"], np.float32)[:, 0]
            loc = mc.localize(cam, fine, input_size=prep.size, geometry=g, mode=self.localize)
            parts.append((np.asarray(out["prob"], np.float32).reshape(-1), loc.x, loc.y, loc.peak, cam, fine))
            self.times.add("infer", t1 - t0, len(x))
            self.times.add("cam", t2 - t1, len(x))
            self.times.add("post", time.perf_counter() - t2, len(x))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(6))

    def _probs(self, backend: Any, inputs: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The meteor probability of each of ``inputs: uint8 [M,C,h,w]`` from ``backend`` (in batches of
        ``batch_size``): float32 [M]."""
        out = np.empty(len(inputs), np.float32)
        for start in range(0, len(inputs), self.batch_size):
            x = np.ascontiguousarray(inputs[start : start + self.batch_size])
            if backend.name == "tensorrt":
                p = backend.collect(backend.submit(x)).prob
            else:
                p = backend.infer({"frames": x}, ["prob"])["prob"]
            out[start : start + len(x)] = np.asarray(p, np.float32).reshape(-1)
        return out

    def _mirrored_prob(self, inputs: npt.NDArray[np.uint8], prob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``prob`` (float32 [M], of ``inputs: uint8 [M,C,h,w]`` as they are) averaged with the probabilities of
        the inputs mirrored left-right and upside down: float32 [M]."""
        began = time.perf_counter()
        total = prob.astype(np.float64)
        for mirrored in (inputs[..., ::-1], inputs[..., ::-1, :]):
            total += self._probs(self._backend, mirrored)
        self.times.add("tta", time.perf_counter() - began, len(inputs))
        out: npt.NDArray[np.float32] = (total / 3).astype(np.float32)
        return out

    def _second_look(
        self, images: Sequence[npt.NDArray[Any]], x: npt.NDArray[np.float32], y: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """The verifier's meteor probability for the crop around ``(x[i], y[i])`` (frame pixels, float32 [M]) of
        each of ``images``: float32 [M]."""
        from meteorfast.verify import crops

        prep = self._verify_prep
        if prep is None or self._verify_backend is None:
            raise InputError("Detector: expected an open verifier; call open() first")
        began = time.perf_counter()
        inputs, _ = prep.batch(crops(images, x, y, prep.size))
        out = self._probs(self._verify_backend, inputs)
        self.times.add("verify", time.perf_counter() - began, len(images))
        return out

    def _finish(self, items: Sequence[Item]) -> list[FrameResult]:
        """Infer a batch of items (tiles flattened), regroup tiles per item, refine, threshold."""
        from meteorfast.cam.refine import brightest_on_streak, refine_points

        prep = self._prep
        if prep is None:
            raise InputError("Detector: expected an open detector; call open() first")
        inputs = np.concatenate([it.inputs for it in items])
        geo = np.concatenate([it.geometry for it in items])
        prob, xs, ys, peak, cams, fine = self._run(inputs, geo)
        if self.tta:
            prob = self._mirrored_prob(inputs, prob)
        in_h, in_w = prep.size
        cell_in = np.array([in_w / self._fine[1], in_h / self._fine[0]], np.float32)
        results: list[FrameResult] = []
        bounds = np.cumsum([0] + [len(it.inputs) for it in items])
        best_idx = [int(bounds[i] + np.argmax(prob[bounds[i] : bounds[i + 1]])) for i in range(len(items))]
        px = xs[best_idx].copy()
        py = ys[best_idx].copy()
        final = prob[best_idx]
        spec = self._verify_spec
        band = in_band(final, spec) if spec is not None else np.zeros(len(items), np.bool_)
        if self.refine:  # points are frame pixels even for tiles, and the cell is the best tile's
            began = time.perf_counter()
            cx, cy, weight = self._candidates(prob, px, py, cams, fine, geo, best_idx, (in_h, in_w), band)
            px, py = refine_points([it.image for it in items], cx, cy, geo[best_idx, :2] * cell_in, weight=weight)
            self.times.add("refine", time.perf_counter() - began, len(items))
        if spec is not None and band.any():  # the second look, at the point the search settled on
            sel = np.flatnonzero(band)
            second = np.zeros_like(final)
            second[sel] = self._second_look([items[int(i)].image for i in sel], px[sel], py[sel])
            final = combine(final, second, spec)
        if self.refine:  # after the second look, whose crops are centred as in its training
            began = time.perf_counter()
            walk = np.flatnonzero((final >= self.threshold) | (self.search == "all"))
            if walk.size:
                px[walk], py[walk] = brightest_on_streak([items[int(i)].image for i in walk], px[walk], py[walk])
            self.times.add("refine", time.perf_counter() - began, 0)
        judged = self._judged(items, self.satellite_veto)
        if judged.any():  # on the point the walk settled on, as the rule was chosen
            final = self._veto_dashes(items, final, px, py, judged)
        judged = self._judged(items, self.star_veto)
        if judged.any():
            final = self._veto_stars(items, final, px, py, judged)
        judged = self._judged(items, self.rescue)
        if judged.any():  # after the vetoes, on the point the walk settled on
            final = self._second_opinion(items, final, px, py, judged)
        for i, it in enumerate(items):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            b = best_idx[i]
            cam = cams[b] if hi - lo == 1 else self._stitch(it, prob[lo:hi], cams[lo:hi])
            p = float(final[i])
            fields = (float(px[i]), float(py[i]), float(peak[b]), cam, it.image)
            results.append(
                FrameResult(
                    it.source, it.index, it.end_index, it.time_s, it.end_time_s, p, p >= self.threshold, *fields
                )
            )
        return results

    def _judged(self, items: Sequence[Item], setting: bool | Literal["auto"]) -> npt.NDArray[np.bool_]:
        """Which of ``items`` a stills stage (the satellite veto, the star veto, the rescue) set to ``setting``
        judges (bool [M]): stills under ``"auto"``, every frame under ``True``, none in ``stack`` mode or under
        ``False``."""
        if self.mode != "frame" or setting is False:
            return np.zeros(len(items), np.bool_)
        return np.array([setting is True or it.still for it in items], np.bool_)

    def _second_opinion(
        self, items: Sequence[Item], final: npt.NDArray[np.float32], px: npt.NDArray[np.float32],
        py: npt.NDArray[np.float32], judged: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.float32]:  # fmt: skip
        """``final`` (float32 [M]) with each ``judged`` (bool [M]) still asked of the shipped proposal net
        (:class:`~meteorfast.rescue.Rescuer`): a detection it vetoes turned down to
        :func:`~meteorfast.rescue.vetoed_probability`; a still turned down that it takes back raised to its
        :func:`~meteorfast.rescue.rescued_probability`, and its point ``(px, py)`` (frame pixels, float32 [M],
        updated in place) moved to the streak it found."""
        began = time.perf_counter()
        with self._rescuer_lock:
            if self._rescuer is None:
                self._rescuer = shipped_rescuer(threads=self.threads)
        rescuer = self._rescuer
        out = final.copy()
        sel = np.flatnonzero(judged)
        for i in sel:
            image, p = items[int(i)].image, float(final[i])
            if p >= self.threshold:
                if rescuer.vetoes(image, float(px[i]), float(py[i]), p):
                    out[i] = vetoed_probability(p, self.threshold)
                continue
            found = rescuer(image, p)
            if found is not None:
                out[i] = rescued_probability(self.threshold, found.score, found.bar)
                px[i], py[i] = found.x, found.y
        self.times.add("rescue", time.perf_counter() - began, len(sel))
        return out

    def _veto(
        self, stage: str, final: npt.NDArray[np.float32], judged: npt.NDArray[np.bool_],
        turned_down: Callable[[int], float | None],
    ) -> npt.NDArray[np.float32]:  # fmt: skip
        """``final`` (float32 [M]) with each ``judged`` (bool [M]) detection set to ``turned_down(i)`` where that is
        not None (a stills veto's probability under the threshold), timed as ``stage``."""
        began = time.perf_counter()
        out = final.copy()
        sel = np.flatnonzero(judged & (final >= self.threshold))
        for i in sel:
            p = turned_down(int(i))
            if p is not None:
                out[i] = p
        self.times.add(stage, time.perf_counter() - began, len(sel))
        return out

    def _veto_dashes(
        self, items: Sequence[Item], final: npt.NDArray[np.float32], px: npt.NDArray[np.float32],
        py: npt.NDArray[np.float32], judged: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.float32]:  # fmt: skip
        """``final`` (float32 [M]) with each ``judged`` (bool [M]) detection that the default
        :class:`~meteorfast.cam.dash.DashRule` takes for a satellite's dash at ``(px, py)`` (frame pixels, float32
        [M]) scaled under the threshold."""
        from meteorfast.cam.dash import DashRule, fit_at, vetoed_probability

        rule = DashRule()

        def turned_down(i: int) -> float | None:
            # no fit beyond the rule's length: a longer streak is never vetoed
            fit = fit_at(items[i].image, float(px[i]), float(py[i]), rule.max_len_px)
            if fit is not None and fit.delta is not None and rule.vetoes(fit):
                return vetoed_probability(float(final[i]), self.threshold, fit.delta)
            return None

        return self._veto("veto", final, judged, turned_down)

    def _veto_stars(
        self, items: Sequence[Item], final: npt.NDArray[np.float32], px: npt.NDArray[np.float32],
        py: npt.NDArray[np.float32], judged: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.float32]:  # fmt: skip
        """``final`` (float32 [M]) with each ``judged`` (bool [M]) detection whose object at ``(px, py)`` (frame
        pixels, float32 [M]) the default :class:`~meteorfast.cam.stars.StarRule` takes for a smeared star turned down
        to :func:`~meteorfast.cam.stars.vetoed_probability`."""
        from meteorfast.cam.stars import StarRule, vetoed_probability

        rule = StarRule()

        def turned_down(i: int) -> float | None:
            if rule.vetoes(items[i].image, float(px[i]), float(py[i])):
                return vetoed_probability(float(final[i]), self.threshold)
            return None

        return self._veto("stars", final, judged, turned_down)

    def _candidates(
        self, prob: npt.NDArray[np.float32], px: npt.NDArray[np.float32], py: npt.NDArray[np.float32],
        cams: npt.NDArray[np.float32], fine: npt.NDArray[np.float32], geo: npt.NDArray[np.float32],
        best_idx: list[int], input_size: tuple[int, int], verified: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.float32], ...]:  # fmt: skip
        """The points :func:`~meteorfast.cam.refine.refine_points` chooses from, ``x, y, weight: float32
        [items, candidates]``: the located point alone for an item that is not searched; for one that is (a
        detection, an item the verifier will look at (``verified``, bool [items]), or any with ``search="all"``),
        the fused-map peaks of its best tile, weighted by their values. (Peaks of every detected tile were tried on
        the MeteorFinder frames: one more meteor found in its box, one lost, as other tiles hold star trails.)"""
        from meteorfast.cam.refine import fused_peaks

        n, k = len(best_idx), self.candidates
        cx = np.full((n, k), np.nan, np.float32)
        cy = np.full((n, k), np.nan, np.float32)
        weight = np.zeros((n, k), np.float32)
        cx[:, 0], cy[:, 0], weight[:, 0] = px, py, 1.0
        search = [i for i, b in enumerate(best_idx) if self.search == "all" or prob[b] >= self.threshold or verified[i]]
        if k > 1 and search:
            rows = [best_idx[i] for i in search]
            cx[search], cy[search], weight[search] = fused_peaks(cams[rows], fine[rows], geo[rows], input_size, k)
        return cx, cy, weight

    def _stitch(
        self, item: Item, prob: npt.NDArray[np.float32], cams: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """Tiles' CAMs -> one frame-level map (each weighted by its tile's probability; max where tiles overlap)."""
        tile = self.tile
        if tile is None:
            raise InputError("Detector: stitching needs tile=(size, overlap)")
        h, w = item.image.shape[:2]
        ch, cw = cams.shape[1:]
        th, tw = self._tile_hw
        cell_y, cell_x = th / ch, tw / cw
        out = np.zeros((int(np.ceil(h / cell_y)), int(np.ceil(w / cell_x))), np.float32)
        for (y, x), p, cam in zip(tile_origins((h, w), (th, tw), tile[1]), prob, cams, strict=True):
            r0, c0 = min(round(y / cell_y), out.shape[0] - ch), min(round(x / cell_x), out.shape[1] - cw)
            view = out[r0 : r0 + ch, c0 : c0 + cw]
            np.maximum(view, cam * np.float32(p), out=view)
        return out

    # ------------------------------------------------------------ public API

    def classify(
        self, frames: npt.ArrayLike | Sequence[npt.ArrayLike], *, stills: bool | Sequence[bool] = False
    ) -> BatchResult:
        """Classify a batch of frames: uint8 or uint16 ``[N,H,W]`` / ``[N,H,W,3]`` arrays, or a list of frames
        (any sizes). ``stills``: whether the frames (all, or each) are single exposures (photos) rather than video
        frames, which the automatic satellite veto judges. Returns a :class:`BatchResult`; ``x, y`` are pixels of
        each original frame."""
        self.open()
        batch = _as_frames(frames)
        still = [bool(stills)] * len(batch) if isinstance(stills, bool | np.bool_) else [bool(s) for s in stills]
        if len(still) != len(batch):
            raise InputError(f"classify: expected one stills flag per frame ({len(batch)}), got {len(still)}")
        with self._lock:
            items = []
            for i, frame in enumerate(batch):
                image = self._masked(frame)
                inputs, geo = self._prepare_image(image)
                items.append(Item("classify", i, i, i, 0.0, 0.0, image, inputs, geo, still[i]))
            results: list[FrameResult] = []
            step = max(1, self.batch_size)
            for start in range(0, len(items), step):
                results += self._finish(items[start : start + step])
        cams = [r.cam for r in results]
        hmax = max(c.shape[0] for c in cams)
        wmax = max(c.shape[1] for c in cams)
        cam = np.zeros((len(cams), hmax, wmax), np.float32)
        for i, c in enumerate(cams):
            cam[i, : c.shape[0], : c.shape[1]] = c
        return BatchResult(
            np.array([r.prob for r in results], np.float32), np.array([r.is_meteor for r in results], np.bool_),
            np.array([r.x for r in results], np.float32), np.array([r.y for r in results], np.float32),
            np.array([r.peak for r in results], np.float32), cam,
        )  # fmt: skip

    def stream(
        self, sources: SourceSpec | Sequence[SourceSpec], *, on_error: str = "raise",
        on_source_end: Callable[[str], None] | None = None,
    ) -> Iterator[FrameResult]:  # fmt: skip
        """Classify every frame (or window) of ``sources``, batched across them; yields :class:`FrameResult` in
        order per source. ``sources``: one source or a list (paths, URLs, camera indices, arrays, iterables,
        :class:`~meteorfast.stream.sources.Source` objects; a list is always a list of sources). Per-source counters
        are in :attr:`stats`. ``on_error="raise"`` re-raises a source's error here, ``"skip"`` ends that source and
        keeps the message in its stats. ``on_source_end(source_id)`` is called once each source is done."""
        self.open()
        srcs = _open_sources(sources)
        cond = threading.Condition()
        readers = [Reader(s, functools.partial(self._items, still=s.stills), self.queue_depth, cond) for s in srcs]
        self.stats = [r.stats for r in readers]
        self._readers = readers
        ended: set[str] = set()

        def report_ended(all_done: bool) -> None:
            for r in readers:
                if on_source_end is not None and (all_done or r.exhausted) and r.source.id not in ended:
                    ended.add(r.source.id)
                    on_source_end(r.source.id)

        with self._lock:
            for r in readers:
                r.start()
            try:
                for batch in Batcher(readers, cond, self.batch_size, self.push_timeout_s, on_error):
                    yield from self._finish(batch)
                    report_ended(False)
                report_ended(True)
            finally:
                for r in readers:
                    r.stop()
                for r in readers:
                    r.join(timeout=10)

    def stop(self) -> None:
        """End the running :meth:`stream` / :meth:`detect` early and cleanly (safe from a signal handler or another
        thread): every source stops reading, the items already read are classified, open events are closed and
        reported, and each unfinished source's :class:`SourceStats` says ``stopped`` and its ``last_index``."""
        for r in list(self._readers):
            r.stop()

    def detect(
        self, sources: SourceSpec | Sequence[SourceSpec], *, on_event: Callable[[Event], None] | None = None,
        on_result: Callable[[FrameResult], None] | None = None, on_error: str = "raise",
        on_source_end: Callable[[SourceStats], None] | None = None,
    ) -> list[Event]:  # fmt: skip
        """Meteor events in ``sources``: consecutive positive frames (or windows) of a source merged, with a track
        and a line fit. ``on_event`` is called as each event closes, ``on_result`` for every classified item, and
        ``on_source_end`` with a source's final counters once all of its events have been reported."""
        builder = EventBuilder(self.max_gap)
        events: list[Event] = []

        def emit(closed: Iterable[Event]) -> None:
            for ev in closed:
                events.append(ev)
                if on_event is not None:
                    on_event(ev)

        def source_end(sid: str) -> None:
            emit(builder.flush(sid))
            if on_source_end is not None:
                for st in self.stats:
                    if st.source == sid:
                        on_source_end(st)

        for r in self.stream(sources, on_error=on_error, on_source_end=source_end):
            # An item may close the event before it: report that event before the item itself.
            emit(builder.add(r.source, r.index, r.end_index, r.time_s, r.end_time_s, r.is_meteor, r.x, r.y, r.prob))
            if on_result is not None:
                on_result(r)
        emit(builder.flush())
        return events


def _stills_setting(name: str, value: object, mode: str) -> bool | Literal["auto"]:
    """A stills stage's setting (``satellite_veto``, ``star_veto``, ``rescue``) checked: True, False or ``"auto"``;
    True only in ``frame`` mode."""
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


def _load_mask(mask: str | Path | npt.ArrayLike | None) -> npt.NDArray[np.bool_] | None:
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


def _as_frames(frames: npt.ArrayLike | Sequence[npt.ArrayLike]) -> list[npt.NDArray[Any]]:
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
    for i, f in enumerate(batch):
        batch[i] = check_frame(f, "classify", i)
    return batch


def _open_sources(sources: SourceSpec | Sequence[SourceSpec]) -> list[Source]:
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


__all__ = ["BatchResult", "Detector", "FrameResult", "tile_origins"]
