"""A model on real data it was never trained on: ../shared/realdata and the bundled GMN clip.

    python benchmarks/eval_real.py [--model M] [--verifier V] [--tta] [--json benchmarks/results/eval_real.json]
        [--meteorfinder DIR | --meteorfinder none] [--no-gmn] [--threshold T]

* MeteorFinder: 22 DSLR frames (2880x1920), boxes inpainted first, run as native-resolution tiles 224 px high
  (overlap 32). Reports how many meteors are detected, and how many located points fall inside their box (8 px
  margin). For each detected point outside its boxes it reports how far it is from the nearest box, and from the
  nearest line of a meteor inside a box (fitted through the box's pixels 6 noise sigmas above its median): a
  burned-in box need not enclose the whole streak. ``--meteorfinder DIR`` reads the ``*.JPG`` frames of another
  directory (default: ``../shared/realdata/meteorfinder/MeterosOutput`` where it exists; ``none`` skips them).
* GMN clip CZ0003 (201 frames; the meteor is visible in frames 39-148, see meteorfast.datasets.SAMPLE_STREAK):
  - frame mode: event frames detected and located on the streak (within 8 px), false positives among the quiet
    frames (before 35 and after 152; the fuzzy edges are left out);
  - stack mode (25-frame windows): the events ``Detector.detect`` reports, their frames, and how far their track
    points are from the streak; false positives among the windows with no meteor frame.

``--tta`` averages each probability over the input and its mirror images in the MeteorFinder tiles and the single
frames (the best tile, and so the point, can change); the stacks run as the detector runs them live, without.
``--verifier`` is the detector's second look (``auto``: the shipped one for the default model), which serves the
MeteorFinder frames and the single frames; stacks have none. ``--no-gmn`` leaves the GMN clip out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt


def box_streak_line(
    image: npt.NDArray[np.uint8], box: tuple[int, int, int, int]
) -> tuple[float, float, float, float] | None:
    """The line ``(vx, vy, cx, cy)`` through the bright pixels of grey ``image`` ``[H, W]`` inside ``box``, 3 px in
    from its inpainted edges; None if fewer than 10 pixels stand 6 noise sigmas above the box's median."""
    import cv2

    x0, y0, x1, y1 = box
    inner = image[y0 + 3 : y1 - 2, x0 + 3 : x1 - 2].astype(np.float32)
    med = float(np.median(inner))
    sigma = 1.4826 * float(np.median(np.abs(inner - med)))
    ys, xs = np.nonzero(inner > med + max(6 * sigma, 6.0))
    if len(xs) < 10:
        return None
    pts = np.stack([xs + x0 + 3, ys + y0 + 3], 1).astype(np.float32)
    vx, vy, cx, cy = (float(v) for v in cv2.fitLine(pts, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel())
    return vx, vy, cx, cy


def distance_to_line(line: tuple[float, float, float, float], x: float, y: float) -> float:
    """The distance of ``(x, y)`` from ``line`` ``(vx, vy, cx, cy)`` (a unit direction through a point)."""
    vx, vy, cx, cy = line
    return abs((x - cx) * vy - (y - cy) * vx)


def distance_to_box(box: tuple[int, int, int, int], x: float, y: float) -> float:
    """The distance of ``(x, y)`` from ``box`` ``(x0, y0, x1, y1)``; 0 inside it."""
    x0, y0, x1, y1 = box
    return float(np.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--tta", action="store_true", help="mirror images at test time (stills and single frames)")
    parser.add_argument("--verifier", default="auto", help="auto, none or a verifier .onnx (stills and single frames)")
    parser.add_argument("--star-veto", action="store_true", help="the star veto on the MeteorFinder stills (off by "
                        "default, as in Detector())")  # fmt: skip
    parser.add_argument("--meteorfinder", default=None, help="a directory of MeteorFinder-style *.JPG frames with "
                        "burned-in boxes (default: the shared real data's; none skips them)")  # fmt: skip
    parser.add_argument("--gmn", action=argparse.BooleanOptionalAction, default=True, help="the bundled GMN clip, "
                        "as frames and as stacks (default on)")  # fmt: skip
    args = parser.parse_args()

    from meteorfast.datasets import meteorfinder_frames, shared_realdata
    from meteorfast.detector import Detector
    from meteorfast.io import emit_json

    result: dict[str, object] = {"model": args.model, "command": "python " + " ".join(sys.argv), "tta": args.tta,
                                 "verifier": args.verifier, "star_veto": args.star_veto}  # fmt: skip
    if args.meteorfinder is None:
        root = shared_realdata()
        mf_dir = None if root is None else root / "meteorfinder" / "MeterosOutput"
    else:
        mf_dir = None if args.meteorfinder == "none" else Path(args.meteorfinder)
    if mf_dir is not None:
        mf = meteorfinder_frames(mf_dir)
        tiled = Detector(args.model, batch_size=32, tile=(224, 32), threshold=args.threshold, tta=args.tta,
                         verifier=args.verifier, star_veto="auto" if args.star_veto else False)  # fmt: skip
        res = tiled.classify([f.image for f in mf], stills=True)  # DSLR exposures, judged by the satellite veto
        inside = [bool(res.is_meteor[i]) and f.holds(float(res.x[i]), float(res.y[i])) for i, f in enumerate(mf)]
        outside = []
        for i, f in enumerate(mf):
            if not res.is_meteor[i] or inside[i]:
                continue
            px, py = float(res.x[i]), float(res.y[i])
            box = min(f.boxes, key=lambda b: distance_to_box(b, px, py))
            lines = [line for b in f.boxes if (line := box_streak_line(f.image, b)) is not None]
            outside.append({
                "frame": f.path.name, "point": [round(px), round(py)], "box": list(box),
                "from_box_px": round(distance_to_box(box, px, py), 1),
                "from_streak_line_px": round(min(distance_to_line(ln, px, py) for ln in lines), 1) if lines else None,
            })  # fmt: skip
        result["threshold"] = tiled.threshold
        result["meteorfinder"] = {
            "frames": len(mf), "detected": int(res.is_meteor.sum()), "located_inside_box": int(sum(inside)),
            "outside_box": outside, "probs": [round(float(p), 3) for p in res.prob],
        }  # fmt: skip
    else:
        result["meteorfinder"] = "skipped: ../shared/realdata not found" if args.meteorfinder is None else "skipped"
    if args.gmn:
        result.update(gmn(args))
    emit_json(result, args.json)
    return 0


def gmn(args: argparse.Namespace) -> dict[str, object]:
    """The bundled GMN clip as single frames and as 25-frame stacks (see the module docstring)."""
    from meteorfast.data import SAMPLE_VIDEO
    from meteorfast.datasets import SAMPLE_EVENT_FRAMES, SAMPLE_STREAK, sample_clip_frames
    from meteorfast.detector import Detector
    from meteorfast.evaluate import point_to_segment

    result: dict[str, object] = {}
    first, last = SAMPLE_EVENT_FRAMES
    frames = sample_clip_frames()
    det = Detector(args.model, batch_size=32, threshold=args.threshold, tta=args.tta, verifier=args.verifier)
    res = det.classify(frames)
    event = [i for i in range(len(frames)) if first <= i <= last]
    quiet = [i for i in range(len(frames)) if i < first - 4 or i > last + 4]
    on_streak = [point_to_segment(float(res.x[i]), float(res.y[i]), SAMPLE_STREAK) for i in event if res.is_meteor[i]]
    result["gmn_frames"] = {
        "event_frames": len(event), "event_frames_detected": int(res.is_meteor[event].sum()),
        "detected_located_within_8px": int(sum(d <= 8 for d in on_streak)),
        "quiet_frames": len(quiet), "quiet_frames_false_positives": int(res.is_meteor[quiet].sum()),
        "quiet_prob_max": round(float(res.prob[quiet].max()), 3),
    }  # fmt: skip
    stacker = Detector(args.model, batch_size=32, mode="stack", window=25, threshold=args.threshold)
    windows = list(stacker.stream(str(SAMPLE_VIDEO)))
    events = Detector(args.model, batch_size=32, mode="stack", window=25, threshold=args.threshold).detect(
        str(SAMPLE_VIDEO)
    )
    quiet_windows = [w for w in windows if w.end_index < first or w.index > last]
    result["gmn_stacks"] = {
        "windows": [{"frames": f"{w.index}-{w.end_index}", "prob": round(w.prob, 3), "x": round(w.x, 1),
                     "y": round(w.y, 1), "to_streak_px": round(point_to_segment(w.x, w.y, SAMPLE_STREAK), 1)}
                    for w in windows],
        "quiet_windows": len(quiet_windows),
        "quiet_windows_false_positives": sum(w.is_meteor for w in quiet_windows),
        "events": [{"frames": f"{e.start_frame}-{e.end_frame}", "peak_prob": round(e.peak_prob, 3),
                    "track_to_streak_px_max": round(max(point_to_segment(p.x, p.y, SAMPLE_STREAK) for p in e.track), 1)}
                   for e in events],
    }  # fmt: skip
    result["gmn_stacks_summary"] = {
        "events": len(events),
        "meteor_windows_detected": sum(w.is_meteor for w in windows if not (w.end_index < first or w.index > last)),
    }
    return result


if __name__ == "__main__":
    sys.exit(main())
