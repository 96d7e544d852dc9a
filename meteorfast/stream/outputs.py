"""What ``meteorfast detect --out DIR`` leaves on disk.

* ``events.jsonl``: one event per line, appended whole, flushed and fsynced as each event closes, so a crash or a
  power cut never leaves half a line and never loses an event already reported.
* ``events.csv``: the events of ``events.jsonl`` as a table, written (to a temporary file, then renamed) when the
  run ends.
* ``sources.jsonl``: one line per source as it ends (``status`` ``complete``, ``failed`` or ``stopped``, and its
  counters), appended and fsynced like the events. ``resume=True`` keeps the complete sources' lines and events
  and drops everything of the others, which are then run again; without it a run starts these files afresh.
* ``frames.jsonl`` (optional): every classified frame or window.
* ``overlays/`` (optional): per event, a PNG of the CAM heatmap on the peak frame, the located pixel and the line.
* ``clips/`` (optional): per event, an MP4 of the classified images from ``pre`` before the event to ``post``
  after it, for station operators to review.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import OutputError
from meteorfast.io import atomic_write_bytes
from meteorfast.results import FrameResult
from meteorfast.stream.events import Event
from meteorfast.stream.pipeline import SourceStats

log = logging.getLogger("meteorfast.stream")

CSV_FIELDS = (
    "source", "start_frame", "end_frame", "start_time_s", "end_time_s", "peak_prob", "x", "y", "points",
    "line_x0", "line_y0", "line_x1", "line_y1", "speed_px_s", "line_rms_px", "line_length_px", "file",
)  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).name or text).strip("_") or "source"


def _bgr(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    import cv2

    from meteorfast.analysis.image import to_uint8

    img = to_uint8(np.asarray(image))
    return np.asarray(img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), np.uint8)


def render_overlay(result: FrameResult, event: Event) -> npt.NDArray[np.uint8]:
    """The peak image (BGR uint8 ``[H,W,3]``) with the CAM as a heatmap, the located pixel and the fitted line."""
    import cv2

    img = _bgr(result.image)
    h, w = img.shape[:2]
    heat = cv2.resize(np.clip(result.cam, 0, 1), (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.asarray(heat * 255, np.uint8), cv2.COLORMAP_JET)
    out = cv2.addWeighted(img, 0.65, colour, 0.35, 0)
    if event.line is not None:
        ln = event.line
        cv2.line(out, (round(ln.x0), round(ln.y0)), (round(ln.x1), round(ln.y1)), (0, 255, 0), 1, cv2.LINE_AA)
    cv2.circle(out, (round(result.x), round(result.y)), 12, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.drawMarker(out, (round(result.x), round(result.y)), (255, 255, 255), cv2.MARKER_CROSS, 6, 1)
    label = f"{event.source}  frames {event.start_frame}-{event.end_frame}  p={event.peak_prob:.3f}"
    cv2.putText(out, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return np.asarray(out, np.uint8)


class _Appender:
    """A JSONL file that only ever grows by whole lines. Each line goes out in unbuffered writes (nothing is left in
    a buffer to be flushed, or to fail, later); if the disk fills part-way through a line, the file is cut back to
    where the line began, so a reader never meets half a record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # less the umask
        except OSError as err:
            raise OutputError(
                f"--out: expected to write {str(path)!r}, got {err.strerror or err}; choose another --out"
            ) from err

    def append(self, record: dict[str, Any], sync: bool) -> None:
        fd = self._fd
        if fd is None:
            raise OutputError(f"expected {str(self.path)!r} to be open for appending, it was closed")
        data = memoryview((json.dumps(record) + "\n").encode())
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(fd, data) :]
            if sync:
                os.fsync(fd)
        except OSError as err:
            try:
                os.ftruncate(fd, start)
            except OSError:
                log.warning("%s: could not cut a partial line back; readers skip it", self.path)
            raise OutputError(
                f"expected to append to {str(self.path)!r}, got {err.strerror or err}; free disk space and rerun "
                "with --resume (events already written are kept)"
            ) from err

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class _Clip:
    tmp: Path
    final: Path
    writer: Any
    post_left: int | None = None


@dataclass
class _SourceState:
    history: deque[FrameResult]
    best: FrameResult | None = None
    clip: _Clip | None = None
    fps: float = 25.0
    pending: list[_Clip] = field(default_factory=list)


class OutputWriter:
    """Writes results and events into ``out_dir`` as they come (see the module docstring).

    Feed it every :class:`FrameResult` (``on_result``) and every closed :class:`Event` (``on_event``) of
    :meth:`meteorfast.Detector.detect`, then call :meth:`close`.
    """

    def __init__(
        self, out_dir: str | Path, *, frames: bool = False, overlays: bool = False, clips: bool = False,
        pre: int = 25, post: int = 25, clip_fps: float = 25.0, resume: bool = False,
    ) -> None:  # fmt: skip
        self.out = Path(out_dir)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            probe = self.out / f".meteorfast-write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise OutputError(
                f"--out: expected a writable directory, got {str(self.out)!r} ({err.strerror or err}); choose "
                "another directory or fix its permissions"
            ) from err
        self.overlays = overlays
        self.clips = clips
        self.pre, self.post, self.clip_fps = pre, post, clip_fps
        self.paths: dict[str, list[Path]] = {"overlays": [], "clips": []}
        #: Sources a previous run completed in ``out_dir`` (only with ``resume``); skip them.
        self.completed: set[str] = set()
        if resume:
            done = read_jsonl(self.out / "sources.jsonl")
            self.completed = {str(r.get("source")) for r in done if r.get("status") == "complete"}
        for name in ("events.jsonl", "sources.jsonl", "frames.jsonl"):
            path = self.out / name
            if path.exists() or name != "frames.jsonl":
                kept = [r for r in read_jsonl(path) if r.get("source") in self.completed] if resume else []
                atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode())
        self._events_file = self._open_append("events.jsonl")
        self._sources_file = self._open_append("sources.jsonl")
        self._frames_file = self._open_append("frames.jsonl") if frames else None
        self._state: dict[str, _SourceState] = {}

    def _open_append(self, name: str) -> _Appender:
        return _Appender(self.out / name)

    def on_source_end(self, stats: SourceStats) -> None:
        """Record that a source ended (after its events were reported), so ``resume`` can skip it if complete."""
        record = {
            "source": stats.source, "status": stats.status, "frames": stats.frames, "last_index": stats.last_index,
            "decode_errors": stats.decode_errors, "dropped_frames": stats.dropped_frames,
            "reconnects": stats.reconnects, "error": stats.error,
        }  # fmt: skip
        self._sources_file.append(record, sync=True)

    def _source(self, source: str) -> _SourceState:
        st = self._state.get(source)
        if st is None:
            st = self._state[source] = _SourceState(deque(maxlen=max(self.pre, 1)), fps=self.clip_fps)
        return st

    # ------------------------------------------------------------ results

    def on_result(self, r: FrameResult) -> None:
        if self._frames_file is not None:
            self._frames_file.append(r.to_json(), sync=False)
        st = self._source(r.source)
        if r.is_meteor and (self.overlays or self.clips) and (st.best is None or r.score > st.best.score):
            st.best = r
        if self.clips:
            self._clip_frame(st, r)
        st.history.append(r)

    def _clip_frame(self, st: _SourceState, r: FrameResult) -> None:
        import cv2

        if st.clip is None and r.is_meteor:
            slug = _slug(r.source)
            final = self.out / "clips" / f"{slug}_{r.index:07d}.mp4"
            final.parent.mkdir(exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp.mp4")
            h, w = r.image.shape[:2]
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), st.fps, (w, h), True)
            if not writer.isOpened():
                raise OutputError(f"--save-clips: expected OpenCV to write {str(tmp)!r} (mp4v), it could not")
            st.clip = _Clip(tmp, final, writer)
            for old in st.history:
                writer.write(_bgr(old.image))
        for clip in [st.clip, *st.pending]:
            if clip is not None:
                clip.writer.write(_bgr(r.image))
        for clip in list(st.pending):
            clip.post_left = (clip.post_left or 0) - 1
            if clip.post_left <= 0:
                self._finish_clip(clip)
                st.pending.remove(clip)

    def _finish_clip(self, clip: _Clip) -> None:
        clip.writer.release()
        os.replace(clip.tmp, clip.final)
        self.paths["clips"].append(clip.final)

    # ------------------------------------------------------------ events

    def on_event(self, event: Event) -> None:
        self._events_file.append(event.to_json(), sync=True)
        st = self._source(event.source)
        if self.overlays and st.best is not None:
            import cv2

            ok, png = cv2.imencode(".png", render_overlay(st.best, event))
            if ok:
                path = self.out / "overlays" / f"{_slug(event.source)}_{event.start_frame:07d}.png"
                path.parent.mkdir(exist_ok=True)
                self.paths["overlays"].append(atomic_write_bytes(path, png.tobytes()))
        st.best = None
        if st.clip is not None:
            # The event closes a gap's worth of frames after its end; those are in the clip already.
            last = st.history[-1].end_index if st.history else event.end_frame
            st.clip.post_left = self.post - (last - event.end_frame)
            if st.clip.post_left <= 0:
                self._finish_clip(st.clip)
            else:
                st.pending.append(st.clip)
            st.clip = None

    def close(self) -> None:
        """Finish open clips, write ``events.csv``, close the JSONL files."""
        for st in self._state.values():
            for clip in [*st.pending, *([st.clip] if st.clip else [])]:
                self._finish_clip(clip)
            st.pending.clear()
            st.clip = None
        for handle in (self._events_file, self._sources_file, self._frames_file):
            if handle is not None:
                handle.close()
        # From the file, not memory: after a resume it also holds the events of the earlier run.
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_FIELDS)
        for ev in read_jsonl(self.out / "events.jsonl"):
            ln = ev.get("line") or {}
            line = [ln.get(k, "") for k in ("x0", "y0", "x1", "y1", "speed_px_s", "rms_px", "length_px")]
            writer.writerow([ev["source"], ev["start_frame"], ev["end_frame"], f"{ev['start_time_s']:.4f}",
                             f"{ev['end_time_s']:.4f}", f"{ev['peak_prob']:.4f}", f"{ev['x']:.2f}", f"{ev['y']:.2f}",
                             len(ev["track"]), *(f"{v:.3f}" if v != "" else "" for v in line),
                             ev.get("file") or ""])  # fmt: skip
        atomic_write_bytes(self.out / "events.csv", buf.getvalue().encode())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file (none if it does not exist). A line that is not a JSON object, as a power cut
    in the middle of an append could leave, is left out with a warning."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"--out: expected to read {str(path)!r}, got {err}; move it away and rerun") from err
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif line.strip():
            log.warning("%s line %d is not a whole JSON record; left out", path, n)
    return records
