"""ONNX Runtime INT8 (QDQ) against FP32 on the default backbone: speed and agreement, interleaved in one run.

    python benchmarks/int8_vs_fp32.py [--calib 64] [--pairs 7] --json benchmarks/results/int8.json

The graph is the pretrained EfficientNet-Lite0 (ImageNet body) with a seeded random GAP head at 224x224, not the
shipped meteor model, so "accuracy" here is agreement with FP32 on held-out frames (real GMN frames and synthetic
skies): probability, pooled features, the CAM and the localised position. ``--calib`` frames calibrate the INT8
graph; speed is FP32 against INT8 at batch 1, 8 and 32, ``--pairs`` interleaved pairs each, reported as ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calib", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import onnxruntime as ort
    import torch

    import meteorfast.cam as mc
    from meteorfast.datasets import sample_clip_frames
    from meteorfast.export import export_onnx
    from meteorfast.io import emit_json
    from meteorfast.models import create
    from meteorfast.preprocess import Preprocessor
    from meteorfast.quantize import quantize_onnx
    from meteorfast.synth import SimConfig, sample

    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp())
    fp32 = export_onnx(create("efficientnet_lite0", pretrained=True), tmp / "lite0.onnx")
    report = quantize_onnx(fp32, tmp / "lite0.int8.onnx", calib=args.calib, seed=0)
    # Held out: other clip frames (the calibration took every 4th) and other synthetic seeds.
    clip = [f for i, f in enumerate(sample_clip_frames()) if i % 4 == 2][:32]
    synth = [f.image for f in sample(32, 1234, config=SimConfig(size=(360, 640)))]
    frames, _ = Preprocessor((224, 224)).batch(clip + synth)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    s32 = ort.InferenceSession(str(fp32), so, providers=["CPUExecutionProvider"])
    s8 = ort.InferenceSession(str(report.path), so, providers=["CPUExecutionProvider"])
    names = ["logits", "prob", "features", "cam_weights", "conv1_map"]

    def run(s: Any, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, s.run(names, {"frames": x}), strict=True))

    o32, o8 = run(s32, frames), run(s8, frames)
    g32, g8 = o32["features"].mean((2, 3)), o8["features"].mean((2, 3))
    cos = (g32 * g8).sum(1) / (np.linalg.norm(g32, axis=1) * np.linalg.norm(g8, axis=1) + 1e-12)
    c32 = mc.grad_cam(o32["features"], weights=o32["cam_weights"])
    c8 = mc.grad_cam(o8["features"], weights=o8["cam_weights"])
    l32 = mc.localize(c32, o32["conv1_map"][:, 0], input_size=(224, 224))
    l8 = mc.localize(c8, o8["conv1_map"][:, 0], input_size=(224, 224))
    dist = np.hypot(l32.x - l8.x, l32.y - l8.y)
    agreement = {
        "frames": len(frames),
        "prob_abs_diff_mean": float(np.abs(o32["prob"] - o8["prob"]).mean()),
        "prob_abs_diff_max": float(np.abs(o32["prob"] - o8["prob"]).max()),
        "decision_agreement_at_0.5": float(((o32["prob"] > 0.5) == (o8["prob"] > 0.5)).mean()),
        "pooled_feature_cosine_median": float(np.median(cos)),
        "cam_correlation": float(np.corrcoef(c32.ravel(), c8.ravel())[0, 1]),
        "localisation_shift_px_median": float(np.median(dist)),
        "localisation_shift_px_p90": float(np.percentile(dist, 90)),
        "conv1_map_rel_error": float(
            np.abs(o32["conv1_map"] - o8["conv1_map"]).mean() / np.abs(o32["conv1_map"]).mean()
        ),
    }
    speed: dict[str, Any] = {}
    for batch in (1, 8, 32):
        x = frames[:batch]
        run(s32, x), run(s8, x)
        ratios, t32, t8 = [], [], []
        for _ in range(args.pairs):
            a = time.perf_counter()
            run(s32, x)
            b = time.perf_counter()
            run(s8, x)
            c = time.perf_counter()
            t32.append(b - a)
            t8.append(c - b)
            ratios.append((b - a) / (c - b))
        speed[f"batch_{batch}"] = {
            "fp32_ms_median": statistics.median(t32) * 1e3, "int8_ms_median": statistics.median(t8) * 1e3,
            "fp32_fps": batch / statistics.median(t32), "int8_fps": batch / statistics.median(t8),
            "int8_speedup_min": min(ratios), "int8_speedup_median": statistics.median(ratios),
            "int8_speedup_max": max(ratios),
        }  # fmt: skip
    result = {
        "command": "python " + " ".join(sys.argv),
        "onnxruntime": ort.__version__,
        "calibration": report.calibration,
        "agreement": agreement,
        "speed": speed,
    }
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
