"""Native kernels against the NumPy reference, interleaved in one run (A B A B ...), reported as ratios.

    python benchmarks/kernel_ratios.py [--pairs 15] [--json benchmarks/results/kernels.json]

Machines are noisy, so only ratios measured side by side in one process mean anything; each pair gives one ratio,
and min / median / max are reported. The targets: post-processing >= 5x, stacking >= 3x.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import GEOMETRY, N

import meteorfast
import meteorfast.cam as mc
from meteorfast.bench import cpu_model, interleave
from meteorfast.cam import reference as ref
from meteorfast.io import emit_json


def compare(native: Callable[[], Any], reference: Callable[[], Any], pairs: int) -> dict[str, Any]:
    r = interleave(native, reference, pairs)
    return {
        "native_ms_median": r["a_ms_median"],
        "reference_ms_median": r["b_ms_median"],
        "ratio_min": r["ratio_min"],
        "ratio_median": r["ratio_median"],
        "ratio_max": r["ratio_max"],
        "pairs": pairs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    os.environ["METEORFAST_KERNELS"] = "native"
    info = mc.native_info()
    if not info.cpu:
        print(f"native CPU kernels not built: {info.reason}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    feat = np.maximum(rng.standard_normal((N, 1280, 7, 7)), 0).astype(np.float32)
    grad = (rng.standard_normal((N, 1280, 7, 7)) * 1e-3).astype(np.float32)
    fmap = rng.random((N, 112, 112)).astype(np.float32)
    frames = rng.integers(0, 256, (25, 720, 1280), dtype=np.uint8)

    results: dict[str, Any] = {
        "machine": {
            "cpu": cpu_model(),
            "cpus_usable": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "meteorfast": meteorfast.__version__,
            "kernel_threads": info.threads,
        },
        "command": "python " + " ".join(sys.argv),
    }
    for mode in ("fused", "paper"):
        results[f"postprocess_{mode}"] = {
            "load": "N=64 K=1280 7x7 features, 112x112 first-layer map",
            **compare(
                lambda m=mode: mc.postprocess(feat, grad, fmap, input_size=(224, 224), mode=m),  # type: ignore[misc]
                lambda m=mode: ref.localize(ref.grad_cam(feat, grad), fmap, GEOMETRY, (224, 224), m),  # type: ignore[misc]
                args.pairs,
            ),
        }
    results["stacking"] = {
        "load": "25 frames 1280x720 uint8 (native: streamed frame by frame; reference: vectorised over the window)",
        **compare(lambda: mc.stack(frames), lambda: ref.stack(frames), args.pairs),
    }
    emit_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
