"""The localisation search's cost per frame against refining the located point alone.

64 simulated 720p stills (seed 2026) through the shipped model, the two detectors alternating, three repeats; the
median of the ``refine`` stage (the search and the sub-cell step) and of ``infer``, per frame. Then the walk alone
(:func:`meteorfast.analysis.streak.brightest_on_streak`) on the detections' points: its median time per point,
against ``infer`` per frame. Ratios inside one run, so the machine's noise cancels.

    python benchmarks/refine_cost.py
"""

from __future__ import annotations

import time

import numpy as np

from meteorfast.analysis.streak import brightest_on_streak
from meteorfast.detector import Detector
from meteorfast.evaluate import synthetic_items


def main() -> None:
    images = [it.image for it in synthetic_items(64, 2026)]
    detectors = {
        "located point only (candidates=1)": Detector(candidates=1),
        "search, 16 candidates (search='all')": Detector(search="all"),
    }
    for det in detectors.values():
        det.classify(images[:8])  # warm-up: the runtime's first runs and caches
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in detectors}
    for _ in range(3):
        for name, det in detectors.items():
            det.times.reset()
            det.classify(images)
            ms = det.times.ms_per_item()
            times[name].append((ms["refine"], ms["infer"]))
    for name, rows in times.items():
        med = np.median(np.array(rows), axis=0)
        print(f"{name}: refine {med[0]:.2f} ms/frame, infer {med[1]:.2f} ms/frame")
    det = Detector()
    res = det.classify(images)
    hits = np.flatnonzero(res.is_meteor)
    walk = []
    for _ in range(3):
        began = time.perf_counter()
        brightest_on_streak([images[i] for i in hits], res.x[hits], res.y[hits])
        walk.append(1e3 * (time.perf_counter() - began) / max(len(hits), 1))
    infer = float(np.median([row[1] for rows in times.values() for row in rows]))
    print(
        f"walk along the streak: {np.median(walk):.2f} ms per detection ({len(hits)} of {len(images)} frames), "
        f"{np.median(walk) / infer:.2f} x infer per frame"
    )


if __name__ == "__main__":
    main()
