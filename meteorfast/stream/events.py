"""Meteor events: consecutive positive frames (or windows) of one source merged, with a straight-line fit.

A positive item extends its source's open event when it starts at most ``max_gap`` frames after the event's last
positive item ended (``max_gap=0``: strictly consecutive; the default 1 bridges one missed frame, as a flickering
score on a faint meteor would otherwise split it). The event closes at the first item past that gap, or at the end
of the stream. A still (a photo of its own exposure) is never merged with its neighbours: a positive still is an
event of its own (:func:`still_event`), named by its file, whose line is the streak's two ends walked in the still.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from meteorfast.errors import InputError


@dataclass(frozen=True)
class TrackPoint:
    """One positive item of an event: its (first) frame, time, located point (frame pixels) and probability."""

    frame: int
    time_s: float
    x: float
    y: float
    prob: float


@dataclass(frozen=True)
class LineFit:
    """The track's straight line: start ``(x0, y0)`` and end ``(x1, y1)`` (frame pixels, in the direction of
    motion), the angular speed along it in px/s (0 when the track has one time), and the RMS distance of the track's
    points from the line."""

    x0: float
    y0: float
    x1: float
    y1: float
    speed_px_s: float
    rms_px: float

    @property
    def length_px(self) -> float:
        """The line's length, start to end (px)."""
        return float(np.hypot(self.x1 - self.x0, self.y1 - self.y0))


def fit_line(track: Iterable[TrackPoint]) -> LineFit | None:
    """Total-least-squares line through the track's points; endpoints are the extreme projections, oriented by
    time; speed is the least-squares slope of position along the line against time. None for an empty track."""
    pts = list(track)
    if not pts:
        return None
    xy = np.array([(p.x, p.y) for p in pts], np.float64)
    t = np.array([p.time_s for p in pts], np.float64)
    centre = xy.mean(axis=0)
    if len(pts) == 1:
        return LineFit(float(xy[0, 0]), float(xy[0, 1]), float(xy[0, 0]), float(xy[0, 1]), 0.0, 0.0)
    _, _, vt = np.linalg.svd(xy - centre, full_matrices=False)
    direction = vt[0]
    along = (xy - centre) @ direction
    across = (xy - centre) @ np.array([-direction[1], direction[0]])
    speed = 0.0
    if np.ptp(t) > 0:
        slope = float(np.polyfit(t, along, 1)[0])
        if slope < 0:  # orient the line with the motion
            direction, along, slope = -direction, -along, -slope
        speed = slope
    p0 = centre + along.min() * direction
    p1 = centre + along.max() * direction
    rms = float(np.sqrt(np.mean(across**2)))
    return LineFit(float(p0[0]), float(p0[1]), float(p1[0]), float(p1[1]), speed, rms)


@dataclass(frozen=True)
class StillStreak:
    """What a still brings to its event: its ``file``, and the ``ends`` ``(x0, y0, x1, y1)`` of its streak in frame
    pixels (None where no streak was walked at its point)."""

    file: str
    ends: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Event:
    """One meteor seen by one source, from ``start_frame`` to ``end_frame``.

    ``x, y`` is the located point of the most probable item (``peak_prob``); ``track`` holds every positive item;
    ``line`` is the straight-line fit of the track, or for a still the streak's walked ends; ``file`` is a still's
    image file ("" for events of video).
    """

    source: str
    start_frame: int
    end_frame: int
    start_time_s: float
    end_time_s: float
    peak_prob: float
    x: float
    y: float
    track: tuple[TrackPoint, ...]
    line: LineFit | None
    peak_frame: int = -1
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``events.jsonl`` record: the keys above, ``track`` as ``[frame, time_s, x, y, prob]`` rows."""
        out = asdict(self)
        out["track"] = [
            [p.frame, round(p.time_s, 4), round(p.x, 2), round(p.y, 2), round(p.prob, 4)] for p in self.track
        ]
        out["line"] = None if self.line is None else {k: round(v, 3) for k, v in asdict(self.line).items()}
        if self.line is not None:
            out["line"]["length_px"] = round(
                float(np.hypot(self.line.x1 - self.line.x0, self.line.y1 - self.line.y0)), 3
            )
        out["file"] = self.file or None
        for key in ("start_time_s", "end_time_s", "x", "y"):
            out[key] = round(out[key], 4)
        out["peak_prob"] = round(self.peak_prob, 4)
        return out


@dataclass
class _Open:
    source: str
    start_frame: int
    end_frame: int
    start_time_s: float
    end_time_s: float
    track: list[TrackPoint] = field(default_factory=list)
    peak: TrackPoint | None = None

    def close(self) -> Event:
        peak = self.peak or self.track[0]
        return Event(
            self.source, self.start_frame, self.end_frame, self.start_time_s, self.end_time_s, peak.prob, peak.x,
            peak.y, tuple(self.track), fit_line(self.track), peak.frame,
        )  # fmt: skip


def still_event(source: str, index: int, time_s: float, x: float, y: float, prob: float, still: StillStreak) -> Event:
    """The event of one positive still, item ``index`` of ``source``: its point, and its streak's walked ends as the
    line (the point alone where none was walked)."""
    point = TrackPoint(index, float(time_s), float(x), float(y), float(prob))
    x0, y0, x1, y1 = still.ends if still.ends is not None else (point.x, point.y, point.x, point.y)
    line = LineFit(x0, y0, x1, y1, 0.0, 0.0)
    return Event(source, index, index, point.time_s, point.time_s, point.prob, point.x, point.y, (point,), line, index,
                 still.file)  # fmt: skip


class EventBuilder:
    """Feeds on classified items, in order per source; returns events as they close."""

    def __init__(self, max_gap: int = 1) -> None:
        if max_gap < 0:
            raise InputError(f"events: expected max_gap >= 0 frames, got {max_gap}")
        self.max_gap = max_gap
        self._open: dict[str, _Open] = {}
        self._last: dict[str, int] = {}

    def add(
        self, source: str, index: int, end_index: int, time_s: float, end_time_s: float, positive: bool,
        x: float, y: float, prob: float, *, alone: bool = False,
    ) -> list[Event]:  # fmt: skip
        """One item of ``source`` (frames ``index..end_index``); ``alone``: the item is a still, which joins no event
        (its own, if positive, is :func:`still_event`'s). Returns the events this item closed (0 or 1)."""
        last = self._last.get(source)
        if last is not None and index <= last:
            raise InputError(f"events: expected items of {source!r} in order, got frame {index} after {last}")
        self._last[source] = end_index
        closed: list[Event] = []
        current = self._open.get(source)
        if current is not None and index - current.end_frame - 1 > self.max_gap:
            closed.append(self._open.pop(source).close())
            current = None
        if alone:
            # A still is an event of its own (see still_event): the one open before it closes, and it joins none.
            if source in self._open:
                closed.append(self._open.pop(source).close())
            return closed
        if not positive:
            return closed
        point = TrackPoint(index, float(time_s), float(x), float(y), float(prob))
        if current is None:
            current = self._open[source] = _Open(source, index, end_index, float(time_s), float(end_time_s))
        current.end_frame, current.end_time_s = end_index, float(end_time_s)
        current.track.append(point)
        if current.peak is None or point.prob > current.peak.prob:
            current.peak = point
        return closed

    def open_events(self) -> int:
        return len(self._open)

    def flush(self, source: str | None = None) -> list[Event]:
        """Close the open event of ``source`` (every source when None), as at the end of its stream."""
        keys = [source] if source is not None else list(self._open)
        return [self._open.pop(k).close() for k in keys if k in self._open]
