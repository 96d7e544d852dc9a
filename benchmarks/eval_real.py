"""A model on the real data in ../shared/realdata (never trained on).

    python benchmarks/eval_real.py --model runs/lite0/model.onnx [--json benchmarks/results/eval_real.json]

* MeteorFinder: 22 DSLR frames (2880x1920), boxes inpainted first; run in native-resolution 224 px tiles. Reports
  how many meteors are detected, and how many located points fall inside their box.
* GMN clip CZ0003 (201 frames, meteor in about frames 60-125): per-frame probabilities inside and outside the event
  (frames 50-59 and 126-135 are left out as the fuzzy edges), and the same for 25-frame max-mean stacks.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import meteorfast.cam as mc
    from meteorfast.datasets import meteorfinder_frames, sample_clip_frames, shared_realdata
    from meteorfast.evaluate import EvalItem, predict
    from meteorfast.io import emit_json

    root = shared_realdata()
    if root is None:
        print("../shared/realdata not found", file=sys.stderr)
        return 2
    result: dict[str, object] = {"model": args.model, "threshold": args.threshold}
    mf = meteorfinder_frames(root / "meteorfinder" / "MeterosOutput")
    items = [EvalItem(f.image, 1, None, (), f.path.name) for f in mf]
    pred = predict(args.model, items, tile=(224, 32))
    detected = pred.prob >= args.threshold
    inside = [
        any(x0 - 8 <= px <= x1 + 8 and y0 - 8 <= py <= y1 + 8 for x0, y0, x1, y1 in f.boxes)
        for f, px, py in zip(mf, pred.x, pred.y, strict=True)
    ]
    result["meteorfinder"] = {
        "frames": len(mf),
        "detected": int(detected.sum()),
        "located_inside_box": int(sum(d and i for d, i in zip(detected, inside, strict=True))),
        "probs": [round(float(p), 3) for p in pred.prob],
    }
    frames = sample_clip_frames()
    event = [i for i in range(len(frames)) if 60 <= i <= 125]
    quiet = [i for i in range(len(frames)) if i < 50 or i > 135]
    fp = predict(args.model, [EvalItem(f, 0, None, ()) for f in frames])
    result["gmn_frames"] = {
        "event_frames_detected": int((fp.prob[event] >= args.threshold).sum()),
        "event_frames": len(event),
        "quiet_frames_false_positives": int((fp.prob[quiet] >= args.threshold).sum()),
        "quiet_frames": len(quiet),
    }
    windows = [(s, s + 25) for s in range(0, len(frames) - 24, 25)]
    stacks = [np.asarray(mc.stack(np.stack(frames[a:b])).candidate) for a, b in windows]
    sp = predict(args.model, [EvalItem(s, 0, None, ()) for s in stacks])
    result["gmn_stacks"] = [
        {"frames": f"{a}-{b - 1}", "prob": round(float(p), 3), "x": round(float(x), 1), "y": round(float(y), 1)}
        for (a, b), p, x, y in zip(windows, sp.prob, sp.x, sp.y, strict=True)
    ]
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
