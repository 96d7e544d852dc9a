"""What the second look costs: the shipped default model with and without its verifier, on the same stills.

256 simulated 720p stills (seed 2026), the two detectors alternating (A B A B), five pairs; per pair the ratio of the
wall times, and for the verifier's run the share of stills it looked at and its ``verify`` stage per crop. With a
verifier the unsure stills also get the candidate search (the crop goes where the search settles), which the
ratio includes. Ratios inside one run, so the machine's noise cancels.

    python benchmarks/verify_cost.py [--frames 256] [--pairs 5] [--verifier V]
        [--json benchmarks/results/verify_cost.json]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--verifier", default="auto", help="the verifier (default: the one shipped for the model)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from meteorfast.detector import Detector
    from meteorfast.evaluate import synthetic_items
    from meteorfast.io import emit_json

    images = [it.image for it in synthetic_items(args.frames, 2026)]
    plain, second = Detector(verifier=None), Detector(verifier=args.verifier)
    if not second.verifying:
        parser.error(f"expected a verifier, got none for --verifier {args.verifier}; pass --verifier V")
    for det in (plain, second):
        det.classify(images[:32])  # warm-up: the runtime's first runs and caches
    ratios, plain_s, second_s, verified, verify_ms = [], [], [], [], []
    for _ in range(args.pairs):
        t0 = time.perf_counter()
        plain.classify(images)
        t1 = time.perf_counter()
        second.times.reset()
        second.classify(images)
        t2 = time.perf_counter()
        plain_s.append(t1 - t0)
        second_s.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
        verified.append(second.times.items["second_look"] / len(images))
        verify_ms.append(second.times.ms_per_item()["second_look"])
    result = {
        "command": "python " + " ".join(sys.argv),
        "verifier": str(second.verifier),
        "frames": len(images),
        "pairs": args.pairs,
        "ms_per_frame_without": round(1e3 * float(np.median(plain_s)) / len(images), 2),
        "ms_per_frame_with": round(1e3 * float(np.median(second_s)) / len(images), 2),
        "ratio_with_to_without": {
            "min": round(min(ratios), 3),
            "median": round(float(np.median(ratios)), 3),
            "max": round(max(ratios), 3),
        },
        "share_verified": round(float(np.median(verified)), 3),
        "verify_ms_per_crop": round(float(np.median(verify_ms)), 2),
    }
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
