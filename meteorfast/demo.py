"""``meteorfast demo``: the shipped model on the bundled real GMN clip (MIT, ``data/samples/LICENSE``).

Runs :meth:`meteorfast.Detector.detect` over the clip in ``stack`` mode, the way video stations are best served: each
second (25 frames) is stacked to its ``max - mean`` image by the native kernel and classified, so a meteor that is a
dot in any one frame shows as the streak it draws. Decoding runs on its own thread; Grad-CAM and localisation run
in the native kernels. Writes ``events.jsonl``, ``events.csv`` and one overlay PNG per event into the output
directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from meteorfast.data import SAMPLE_VIDEO
from meteorfast.stream.events import Event


@dataclass(frozen=True)
class DemoReport:
    video: str
    model: str
    backend: str
    width: int
    height: int
    frames: int
    seconds: float
    events: list[Event]
    events_path: Path
    overlays: list[Path]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def run_demo(out_dir: str | Path = "meteorfast-demo", *, model: str | Path | None = None) -> DemoReport:
    """Detect meteors in the bundled clip with ``model`` (default: the shipped one); write into ``out_dir``."""
    from meteorfast.detector import Detector
    from meteorfast.stream.outputs import OutputWriter
    from meteorfast.stream.sources import VideoFileSource

    source = VideoFileSource(SAMPLE_VIDEO)
    writer = OutputWriter(out_dir, overlays=True)
    with Detector(model or "default", batch_size=16, mode="stack", window=25) as detector:
        began = time.perf_counter()
        try:
            events = detector.detect([source], on_result=writer.on_result, on_event=writer.on_event)
        finally:
            writer.close()
        seconds = time.perf_counter() - began
        backend = detector.backend
    frames = detector.stats[0].frames if detector.stats else 0
    return DemoReport(
        str(SAMPLE_VIDEO), str(detector.model), backend, source.width, source.height, frames, seconds, events,
        writer.out / "events.jsonl", list(writer.paths["overlays"]),
    )  # fmt: skip
