"""Simulator speed on one core: 1280x720 frames per second of 50-frame clips of each kind (the scene reused across
frames, median of three clips) and of 60 stills of random kinds (a new scene each).

    python benchmarks/synth_speed.py
"""

from __future__ import annotations

import statistics
import sys
import time

import cv2


def main() -> int:
    from meteorfast.synth import KINDS, render_clip, render_frame

    cv2.setNumThreads(1)  # the speed is quoted per core
    render_clip(0, 3, "meteor")
    for kind in KINDS:
        times = []
        for seed in range(3):
            start = time.perf_counter()
            render_clip(seed, 50, kind)
            times.append(time.perf_counter() - start)
        print(f"clip  {kind:13s} {50 / statistics.median(times):6.1f} frames/s (1280x720, 50-frame clips)")
    start = time.perf_counter()
    for seed in range(60):
        render_frame(seed)
    print(f"stills (random kinds) {60 / (time.perf_counter() - start):6.1f} frames/s (1280x720)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
