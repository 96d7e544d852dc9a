"""``meteorfast detect``: the detector built from the flags, the run, and the table of sources."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from meteorfast.errors import InputError, MeteorfastError

if TYPE_CHECKING:
    from meteorfast.detector_config import DetectorConfig


def stills_stage(flag: bool | None, default: bool | Literal["auto"] = "auto") -> bool | Literal["auto"]:
    """A stills stage's ``--X`` / ``--no-X`` flag (``--satellite-veto``, ``--star-veto``, ``--rescue``) as the
    detector's setting; without either flag, ``default`` (the detector's own default)."""
    return default if flag is None else bool(flag)


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    """The :class:`~meteorfast.detector_config.DetectorConfig` that ``meteorfast detect``'s flags ask for."""
    from meteorfast.detector_config import DetectorConfig

    return DetectorConfig(
        model=args.model or "default", backend=args.backend, batch_size=args.batch, mode=args.mode,
        window=args.window, tile=args.tile, threshold=args.threshold, localize=args.localize, stride=args.stride,
        flicker=args.flicker, mask=args.mask, tta=args.tta, verifier=args.verifier,
        satellite_veto=stills_stage(args.satellite_veto), rescue=stills_stage(args.rescue),
        star_veto=stills_stage(args.star_veto, False),
    )  # fmt: skip


def _summary(
    detector: Any, events: Sequence[Any], unopened: dict[str, str], resumed: Sequence[str]
) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev.source] = counts.get(ev.source, 0) + 1
    rows = [
        {"source": st.source, "status": st.status, "live": st.live, "frames": st.frames, "items": st.items,
         "events": counts.get(st.source, 0), "dropped_frames": st.dropped_frames, "decode_errors": st.decode_errors,
         "reconnects": st.reconnects, "last_frame": st.last_index, "fps": round(st.fps, 1), "error": st.error}
        for st in detector.stats
    ]  # fmt: skip
    empty = {"live": False, "frames": 0, "items": 0, "events": 0, "dropped_frames": 0, "decode_errors": 0,
             "reconnects": 0, "last_frame": -1, "fps": 0.0}  # fmt: skip
    rows += [{"source": src, "status": "failed", **empty, "error": err} for src, err in unopened.items()]
    rows += [{"source": src, "status": "resumed", **empty, "error": None} for src in resumed]
    return rows


def _print_summary(rows: Sequence[dict[str, Any]]) -> None:
    width = max([len("source"), *(len(r["source"]) for r in rows)])
    print(f"{'source':<{width}}  {'frames':>7}  {'events':>6}  {'dropped':>7}  {'errors':>6}  {'fps':>7}  status")
    for r in rows:
        status = {
            "complete": "ok",
            "failed": f"failed: {r['error']}",
            "stopped": f"stopped after frame {r['last_frame']}",
            "resumed": "complete in an earlier run, skipped",
        }[r["status"]]
        if r["status"] == "complete" and r["decode_errors"]:
            status = f"ok, {r['decode_errors']} frame(s) or file(s) could not be decoded and were skipped"
        if r["reconnects"]:
            status += f" ({r['reconnects']} reconnection(s))"
        print(f"{r['source']:<{width}}  {r['frames']:>7}  {r['events']:>6}  {r['dropped_frames']:>7}  "
              f"{r['decode_errors']:>6}  {r['fps']:>7.1f}  {status}")  # fmt: skip


def cmd_detect(args: argparse.Namespace) -> int:
    import signal

    from tqdm import tqdm

    from meteorfast.detector import Detector
    from meteorfast.stream.outputs import OutputWriter
    from meteorfast.stream.sources import open_source

    if args.resume and not args.out:
        raise InputError("detect: --resume continues the run in --out DIR; give --out")
    # The model and the sources are checked before --out is touched: a typo must not cost an earlier run's files.
    detector = Detector(config=detector_config(args)).open()
    opened, unopened = [], {}
    for spec in args.sources:
        try:
            opened.append(open_source(spec, retries=args.retries, decoder=args.decoder))
        except MeteorfastError as err:
            if len(args.sources) == 1:
                raise
            # A bad source among good ones must not cost the night's other cameras: report it and go on.
            unopened[spec] = str(err)
            print(f"meteorfast: error: {err}", file=sys.stderr)
    if not opened:
        raise InputError(f"detect: expected at least one source that opens, got {len(unopened)} that do not (above)")
    writer = (
        OutputWriter(args.out, frames=args.save_frames, overlays=args.save_overlays, clips=args.save_clips,
                     resume=args.resume)
        if args.out
        else None
    )  # fmt: skip
    done = writer.completed if writer is not None else set()
    sources = [s for s in opened if s.id not in done]
    resumed = [s.id for s in opened if s.id in done]
    bars = {
        s.id: tqdm(total=s.frame_count, desc=s.id[-32:], unit="frame", position=i, leave=False, disable=None)
        for i, s in enumerate(sources)
    }

    def on_result(r: Any) -> None:
        bar = bars.get(r.source)
        if bar is not None:
            bar.update(r.end_index + 1 - bar.n)
        if writer is not None:
            writer.on_result(r)

    # The first SIGINT or SIGTERM stops the run cleanly (what is read is classified, open events are closed and
    # written); a second one interrupts at once.
    stopped_by: list[str] = []

    def on_signal(signum: int, frame: Any) -> None:
        if stopped_by:
            raise KeyboardInterrupt
        stopped_by.append(signal.Signals(signum).name)
        detector.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    events: list[Any] = []
    try:
        with detector:
            if sources:
                events = detector.detect(
                    sources, on_result=on_result, on_event=writer.on_event if writer else None, on_error="skip",
                    on_source_end=writer.on_source_end if writer else None,
                )  # fmt: skip
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for bar in bars.values():
            bar.close()
        if writer is not None:
            writer.close()
    rows = _summary(detector, events, unopened, resumed)
    if args.json:
        print(json.dumps({"events": [ev.to_json() for ev in events], "sources": rows}, indent=2))
    else:
        for ev in events:
            print(f"event {ev.source} frames {ev.start_frame}-{ev.end_frame} ({ev.start_time_s:.2f}-"
                  f"{ev.end_time_s:.2f} s) p={ev.peak_prob:.3f} at ({ev.x:.1f}, {ev.y:.1f})")  # fmt: skip
        _print_summary(rows)
        if writer is not None:
            print(f"events: {writer.out / 'events.jsonl'} and {writer.out / 'events.csv'}")
    if stopped_by:
        where = ", ".join(f"{r['source']} after frame {r['last_frame']}" for r in rows if r["status"] == "stopped")
        print(f"meteorfast: stopped by {stopped_by[0]}" + (f": {where}" if where else "") +
              ("; rerun with --resume to finish" if writer is not None else ""), file=sys.stderr)  # fmt: skip
        return 128 + int(getattr(signal, stopped_by[0]))
    failed = [r["source"] for r in rows if r["status"] == "failed"]
    skipped = sum(r["decode_errors"] for r in rows)
    if failed or skipped:
        parts = [f"{len(failed)} of {len(rows)} sources failed ({', '.join(failed)})"] if failed else []
        parts += [f"{skipped} frame(s) or file(s) could not be decoded and were skipped"] if skipped else []
        print(f"meteorfast: {'; '.join(parts)}", file=sys.stderr)
        return 1
    return 0
