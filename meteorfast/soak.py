"""``meteorfast soak``: hours of a station in minutes. Real-time synthetic cameras through the whole pipeline
(decoding, batching, inference, Grad-CAM, events, the output files) while the process's resident memory is sampled,
to show that it stays flat after warm-up and that no frame is lost unaccounted.

Each source is a simulated 1280x720 clip with meteors (``meteorfast.synth``), encoded to MP4 once, then decoded and
played in a loop at ``fps`` as a live camera (it drops its oldest frames when the detector falls behind, and counts
every drop).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from meteorfast.errors import InputError

PAGE = 4096


def rss_mb() -> float:
    """Resident set size of this process in MiB (``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def _clip(path: Path, seed: int, frames: int) -> Path:
    import cv2

    from meteorfast.synth import SimConfig, render_clip

    clip = render_clip(seed, frames, kind="meteor", config=SimConfig(size=(720, 1280)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), clip.fps, (1280, 720), False)
    if not writer.isOpened():
        raise InputError(f"soak: expected OpenCV to write {path} (mp4v), it could not")
    for f in clip.frames:
        writer.write(f)
    writer.release()
    return path


def soak(
    model: str | Path = "default", *, sources: int = 4, seconds: float = 600.0, fps: float = 25.0,
    mode: str = "frame", batch: int = 32, warmup_s: float | None = None, sample_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run ``sources`` live synthetic cameras for ``seconds``; returns a JSON-able report: RSS samples (MiB); the peak
    RSS during warm-up (default: a fifth of the run) and in each half of the rest, and their ``drift`` (second half
    less first: flat memory keeps it near 0, a leak makes it grow with the run); per source frames, drops, decode
    errors and events."""
    from meteorfast.bench import PacedVideo, machine
    from meteorfast.detector import Detector
    from meteorfast.stream.outputs import OutputWriter

    if sources < 1 or seconds <= 0 or fps <= 0:
        raise InputError(f"soak: expected sources >= 1, seconds > 0, fps > 0, got {sources}, {seconds}, {fps}")
    warm = seconds / 5 if warmup_s is None else warmup_s
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    with tempfile.TemporaryDirectory(prefix="meteorfast-soak-") as tmp:
        work = Path(tmp)
        if progress:
            progress(f"rendering {sources} simulated 720p clips")
        clips = [_clip(work / f"cam{i}.mp4", 1000 + i, 50) for i in range(sources)]
        cams = [PacedVideo(c, fps, seconds, f"cam{i}") for i, c in enumerate(clips)]
        writer = OutputWriter(work / "out", overlays=True)
        det = Detector(model, batch_size=batch, mode=mode)
        det.open()
        began = time.perf_counter()

        def sample() -> None:
            while not done.is_set():
                samples.append((time.perf_counter() - began, rss_mb()))
                done.wait(sample_s)

        monitor = threading.Thread(target=sample, name="meteorfast-soak-rss", daemon=True)
        monitor.start()
        try:
            if progress:
                progress(f"playing {sources} cameras at {fps:g} fps for {seconds:g} s")
            events = det.detect(list(cams), on_result=writer.on_result, on_event=writer.on_event)
        finally:
            done.set()
            monitor.join()
            writer.close()
            det.close()
        wall = time.perf_counter() - began
        events_on_disk = sum(1 for _ in (work / "out" / "events.jsonl").open())
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    after = rss[t >= warm]
    if after.size < 4:
        raise InputError(f"soak: expected at least 4 RSS samples after a {warm:g} s warm-up; run longer")
    # RSS breathes as the allocator hands memory back and takes it again, so a trend is judged on peaks: a leak
    # raises the second half's peak above the first half's.
    first, second = after[: after.size // 2], after[after.size // 2 :]
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev.source] = counts.get(ev.source, 0) + 1
    return {
        "command": None, "machine": machine(), "model": str(det.model), "backend": det.backend, "mode": mode,
        "batch": batch, "sources": sources, "fps": fps, "seconds": round(wall, 1), "warmup_s": warm,
        "rss_mb": {"start": round(float(rss[0]), 1), "warmup_peak": round(float(rss[t < warm].max()), 1),
                   "first_half_peak": round(float(first.max()), 1), "second_half_peak": round(float(second.max()), 1),
                   "drift": round(float(second.max() - first.max()), 1), "end": round(float(rss[-1]), 1)},
        "rss_samples": [[round(float(a), 1), round(float(b), 1)] for a, b in zip(t, rss, strict=True)],
        "per_source": [{"source": st.source, "frames": st.frames, "dropped_frames": st.dropped_frames,
                        "decode_errors": st.decode_errors, "events": counts.get(st.source, 0), "status": st.status}
                       for st in det.stats],
        "events": len(events), "events_on_disk": events_on_disk,
        "ms_per_item": det.times.ms_per_item(),
    }  # fmt: skip
