"""The CI version of the soak run (the 10-minute one is in benchmarks/RESULTS.md): live synthetic cameras through
the whole pipeline, with the shipped model. Resident memory must stay flat after warm-up, every frame must be
either classified or counted as dropped, and every event must be on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SECONDS, WARMUP = 40, 10  # the cameras play 40 s; memory is judged after the first 10


@pytest.mark.slow
def test_soak_memory_stays_flat_and_every_frame_is_accounted_for(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    out = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "soak", "--sources", "4", "--seconds", str(SECONDS), "--warmup",
         str(WARMUP), "--json", str(report_path)],
        capture_output=True, text=True, timeout=600, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(report_path.read_text())
    rss = report["rss_mb"]
    samples = report["rss_samples"]  # [seconds since the start, MiB], one a second
    # Flat while the cameras play, after warm-up: the second half's peak within 5 % of the first half's (about
    # 100 MiB at the shipped model's 2 GiB; the steady state measured drifts by under 10 MiB). A loaded machine
    # drops more frames but holds no more of them: the queues are bounded.
    playing = [mb for t, mb in samples if WARMUP <= t <= SECONDS]
    assert len(playing) >= (SECONDS - WARMUP) // 3, samples  # the sampler ran through the run
    first, second = playing[: len(playing) // 2], playing[len(playing) // 2 :]
    assert max(second) - max(first) <= 0.05 * max(first), samples
    # The whole run, the drain of the queued items once the cameras stop included (a one-time step of about 55 MiB
    # was measured there): within 15 %, five times that.
    assert rss["drift"] <= 0.15 * rss["first_half_peak"], rss
    for src in report["per_source"]:
        assert src["status"] == "complete"
        assert src["frames"] == SECONDS * 25  # the camera delivered every frame; the late ones are counted as dropped
        assert 0 <= src["dropped_frames"] < src["frames"]
        assert src["decode_errors"] == 0
    assert report["events_on_disk"] == report["events"]
    assert len(samples) >= report["seconds"] / 3  # one a second, and a starved sampler still takes a third of them
