"""The streaming meteor detector: :class:`Detector` with ``classify``, ``stream`` and ``detect``.

One reader thread per source decodes, stacks and resizes frames into items (:mod:`meteorfast.stream.prepare`); a
round-robin batcher fills batches across sources (:mod:`meteorfast.stream.pipeline`); this thread gives each batch
its first look (:mod:`meteorfast.look`) and the chain of judges (:mod:`meteorfast.judges`). Results come out in
order per source. Located points are in pixels of the original frame (pixel ``(r, c)`` spans
``[c, c+1) x [r, r+1)``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.backends.base import Backend
from meteorfast.calibration import stored_threshold
from meteorfast.detector_config import DetectorConfig
from meteorfast.errors import InputError
from meteorfast.judges import CHAIN, Chain, Judge, Setup, Verifier
from meteorfast.look import FirstLook, graph_geometry
from meteorfast.preprocess import Preprocessor
from meteorfast.results import BatchResult, FrameResult, Item, StageTimes
from meteorfast.stream.events import Event, EventBuilder, StillStreak, still_event
from meteorfast.stream.pipeline import Batcher, Reader, SourceStats
from meteorfast.stream.prepare import Preparer, load_mask, tile_shape
from meteorfast.stream.sources import SourceSpec
from meteorfast.stream.specs import as_frames, open_sources

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class _Opened:
    """What :meth:`Detector.open` builds: the model's backend, its input's preprocessor, the first look, the
    reader threads' preparer, the chain of judges and the verifier it opened (the detector closes it, whether or not
    a judge of the chain reads it)."""

    backend: Backend
    prep: Preprocessor
    look: FirstLook
    preparer: Preparer
    chain: Chain
    verifier: Verifier | None


class Detector:
    """Classify frames as meteor / non-meteor and locate the meteor (Grad-CAM, then the first-layer map), then let
    the judges decide. ``Detector(model, **options)`` takes the options of
    :class:`~meteorfast.detector_config.DetectorConfig`; ``Detector(config=...)`` takes one."""

    def __init__(self, model: str | Path | None = None, *, config: DetectorConfig | None = None, **options: Any):
        if model is not None:
            options["model"] = model
        base = config if config is not None else DetectorConfig()
        self.config = base.but(**options) if options else base
        from meteorfast.data import resolve_model, resolve_verifier

        c = self.config
        self.model = resolve_model(c.model)
        self.verifier: Path | None = resolve_verifier(c.verifier, self.model)
        self.mask = load_mask(c.mask)
        # The model's own threshold (``meteorfast.threshold`` in its metadata) replaces this when it opens.
        self.threshold = c.threshold if c.threshold is not None else DEFAULT_THRESHOLD
        self.stats: list[SourceStats] = []
        self.times = StageTimes()
        self._readers: list[Reader] = []
        self._opened: _Opened | None = None
        # Reentrant: classify() may be called from inside a stream() loop on the same thread.
        self._lock = threading.RLock()

    # ------------------------------------------------------------ lifecycle

    def open(self) -> Detector:
        """Load the model (done on first use; call it to pay the cost up front)."""
        if self._opened is not None:
            return self
        from meteorfast.backends import open_backend

        c = self.config
        opener = functools.partial(open_backend, backend=c.backend, batch_size=c.batch_size, localize=c.localize,
                                   threads=c.threads)  # fmt: skip
        backend = opener(self.model)
        verifier: Verifier | None = None
        try:
            size, fine = graph_geometry(backend, self.model)
            verifier = self._open_verifier(opener)
            self._set_threshold(verifier.backend if verifier is not None else backend)
            self._opened = self._build(backend, size, fine, verifier)
        except BaseException:
            if verifier is not None:
                verifier.backend.close()
            backend.close()
            raise
        return self

    def _open_verifier(self, opener: Callable[[Path], Backend]) -> Verifier | None:
        from meteorfast.judges.second_look import open_verifier

        return open_verifier(self.verifier, self.config.mode, self.config.explicit_verifier, opener)

    def _set_threshold(self, decider: Backend) -> None:
        # With a verifier the verifier's own threshold applies: the final probability is partly its.
        if self.config.threshold is None:
            stored = stored_threshold(decider.metadata, self.config.mode)
            self.threshold = stored if stored is not None else DEFAULT_THRESHOLD

    def _build(
        self, backend: Backend, size: tuple[int, int], fine: tuple[int, int], verifier: Verifier | None
    ) -> _Opened:
        c = self.config
        tile_hw = tile_shape(c.tile, size)
        channels = backend.input_specs["frames"].shape[1]
        prep = Preprocessor(size, channels if isinstance(channels, int) else 1, c.resize)
        look = FirstLook(backend, self.times, input_size=size, fine_shape=fine, batch_size=c.batch_size,
                         localize=c.localize, tta=c.tta, tile=c.tile, tile_hw=tile_hw)  # fmt: skip
        preparer = Preparer(prep, self.times, mode=c.mode, window=c.window, stride=c.stride_frames, tile=c.tile,
                            tile_hw=tile_hw, mask=self.mask, flicker=float(c.flicker))  # fmt: skip
        setup = Setup(c, self.threshold, size, verifier)
        judges = [j for stage in (c.judges if c.judges is not None else CHAIN) if (j := stage.build(setup))]
        return _Opened(backend, prep, look, preparer, Chain(judges, self.times), verifier)

    def close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            opened.chain.close()
            if opened.verifier is not None:
                opened.verifier.backend.close()
            opened.backend.close()

    def __enter__(self) -> Detector:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _require(self) -> _Opened:
        self.open()
        if self._opened is None:
            raise InputError("Detector: the model did not open")
        return self._opened

    @property
    def backend(self) -> str:
        """The runtime in use (``onnxruntime`` or ``tensorrt``); opens the model."""
        return str(self._require().backend.name)

    @property
    def verifying(self) -> bool:
        """Whether a second look judges the items in its band (see ``verifier``); opens the model."""
        return "second_look" in self._require().chain.names

    @property
    def judges(self) -> list[Judge]:
        """The stages this detector runs after the first look, in order; opens the model."""
        return list(self._require().chain.judges)

    @property
    def metadata(self) -> dict[str, str]:
        """The model's ``metadata_props`` (see :func:`meteorfast.export.metadata`); opens the model."""
        return dict(self._require().backend.metadata)

    def model_threshold(self, mode: str | None = None) -> float | None:
        """The threshold the model stores for ``mode`` (default: this detector's), or None; opens the model. See
        :mod:`meteorfast.calibration`."""
        return stored_threshold(self._require().backend.metadata, mode or self.config.mode)

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` of the model input."""
        return self._require().prep.size

    # ------------------------------------------------------------ deciding (this thread)

    def _finish(self, items: Sequence[Item]) -> list[FrameResult]:
        """The first look at a batch of items, then the judges; one result per item."""
        opened = self._require()
        looked = opened.look(items)
        verdicts = opened.chain([lk.view for lk in looked], [lk.verdict for lk in looked])
        results = []
        for it, lk, v in zip(items, looked, verdicts, strict=True):
            meteor = v.score >= self.threshold
            results.append(FrameResult(it.source, it.index, it.end_index, it.time_s, it.end_time_s, v.prob, v.score,
                                       v.decided_by, meteor, v.x, v.y, lk.peak, lk.cam, it.image, it.still,
                                       it.file))  # fmt: skip
        return results

    # ------------------------------------------------------------ public API

    def classify(
        self, frames: npt.ArrayLike | Sequence[npt.ArrayLike], *, stills: bool | Sequence[bool] = False
    ) -> BatchResult:
        """Classify a batch of frames: uint8 or uint16 ``[N,H,W]`` / ``[N,H,W,3]`` arrays, or a list of frames
        (any sizes). ``stills``: whether the frames (all, or each) are single exposures (photos) rather than video
        frames, which the stills' judges (the vetoes, the proposal net) judge under ``"auto"``. Returns a
        :class:`~meteorfast.results.BatchResult`; ``x, y`` are pixels of each original frame."""
        opened = self._require()
        batch = as_frames(frames)
        still = [bool(stills)] * len(batch) if isinstance(stills, bool | np.bool_) else [bool(s) for s in stills]
        if len(still) != len(batch):
            raise InputError(f"classify: expected one stills flag per frame ({len(batch)}), got {len(still)}")
        with self._lock:
            items = [opened.preparer.item(f, "classify", i, still[i]) for i, f in enumerate(batch)]
            results: list[FrameResult] = []
            step = self.config.batch_size
            for start in range(0, len(items), step):
                results += self._finish(items[start : start + step])
        return BatchResult.of(results)

    def stream(
        self, sources: SourceSpec | Sequence[SourceSpec], *, on_error: str = "raise",
        on_source_end: Callable[[str], None] | None = None,
    ) -> Iterator[FrameResult]:  # fmt: skip
        """Classify every frame (or window) of ``sources``, batched across them; yields
        :class:`~meteorfast.results.FrameResult` in order per source. ``sources``: one source or a list (paths,
        URLs, camera indices, arrays, iterables, :class:`~meteorfast.stream.sources.Source` objects; a list is
        always a list of sources). Per-source counters are in :attr:`stats`. ``on_error="raise"`` re-raises a
        source's error here, ``"skip"`` ends that source and keeps the message in its stats.
        ``on_source_end(source_id)`` is called once each source is done."""
        opened = self._require()
        srcs = open_sources(sources)
        cond = threading.Condition()
        prepare = opened.preparer.items
        readers = [Reader(s, functools.partial(prepare, still=s.stills), self.config.depth, cond) for s in srcs]
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
                batches = Batcher(readers, cond, self.config.batch_size, self.config.push_timeout_s, on_error)
                for batch in batches:
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
        builder = EventBuilder(self.config.max_gap)
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
            # An item may close the event before it: report that event before the item itself. The score is what
            # decided the item, so it is the event's.
            emit(builder.add(r.source, r.index, r.end_index, r.time_s, r.end_time_s, r.is_meteor, r.x, r.y, r.score,
                             alone=r.still))  # fmt: skip
            if on_result is not None:
                on_result(r)
            if r.still and r.is_meteor:  # a still's own event, after the still itself
                emit([still_event(r.source, r.index, r.time_s, r.x, r.y, r.score, _still_streak(r))])
        emit(builder.flush())
        return events


def _still_streak(r: FrameResult) -> StillStreak:
    """A positive still's file and its streak's ends through the located point."""
    from meteorfast.analysis.streak import streak_ends

    return StillStreak(r.file, streak_ends(r.image, r.x, r.y))


__all__ = ["BatchResult", "Detector", "DetectorConfig", "FrameResult"]
