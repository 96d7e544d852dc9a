"""``meteorfast eval``: classification and localisation quality of a model on labelled frames.

Items come from the simulator (a seed never used in training) or from a folder holding ``meteor/`` and
``non_meteor/`` images with an optional ``labels.json`` (``{"file name": {"segments": [[x0, y0, x1, y1], ...]}}``).
Localisation error is the distance, in original-frame pixels, from the predicted point to the nearest true streak
segment, over true-positive meteors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.cam.reference import LocalizeMode
from meteorfast.errors import InputError
from meteorfast.preprocess import Preprocessor

Segment = tuple[float, float, float, float]


@dataclass(frozen=True)
class EvalItem:
    """``image``: uint8 or uint16 ``[H,W]``; ``label`` 1 for a meteor; ``segments``: the true streaks (frame px)."""

    image: npt.NDArray[np.generic]
    label: int
    confounder: str | None
    segments: tuple[Segment, ...]
    name: str = ""


@dataclass(frozen=True)
class Predictions:
    """Per item: ``prob``, and the located point ``x``, ``y`` in frame pixels (float32 ``[N]`` each)."""

    prob: npt.NDArray[np.float32]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]


def synthetic_items(n: int, seed: int, size: tuple[int, int] = (720, 1280)) -> list[EvalItem]:
    from meteorfast.synth import SimConfig, sample

    return [
        EvalItem(f.image, f.truth.label, f.truth.confounder or (None if f.truth.label else "clean"),
                 tuple(s for s in f.truth.segments if s is not None), f"synthetic-{seed}-{i}")
        for i, f in enumerate(sample(n, seed, config=SimConfig(size=size)))
    ]  # fmt: skip


def folder_items(root: str | Path) -> list[EvalItem]:
    import cv2

    from meteorfast.train import IMAGE_SUFFIXES

    base = Path(root)
    labels_path = base / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.is_file() else {}
    items: list[EvalItem] = []
    for sub, label in (("meteor", 1), ("non_meteor", 0)):
        for path in sorted((base / sub).rglob("*")) if (base / sub).is_dir() else []:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise InputError(f"eval: expected an image, could not decode {str(path)!r}")
            if img.ndim == 3:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
            segs = tuple(tuple(map(float, s)) for s in labels.get(path.name, {}).get("segments", []))
            items.append(EvalItem(img, label, None if label else "real", segs, path.name))  # type: ignore[arg-type]
    if not items:
        raise InputError(f"eval: expected images in {base}/meteor and {base}/non_meteor, found none")
    return items


def _tiles(shape: tuple[int, int], size: int, overlap: int) -> list[tuple[int, int]]:
    h, w = shape
    step = max(size - overlap, 1)
    ys = list(range(0, max(h - size, 0) + 1, step))
    xs = list(range(0, max(w - size, 0) + 1, step))
    if ys[-1] + size < h:
        ys.append(h - size)
    if xs[-1] + size < w:
        xs.append(w - size)
    return [(y, x) for y in ys for x in xs]


def predict(
    model: str | Path, items: Sequence[EvalItem], *, tile: tuple[int, int] | None = None, batch: int = 32,
    mode: LocalizeMode = "fused",
) -> Predictions:  # fmt: skip
    """Run ``model`` (an exported ``.onnx``) over ``items``: the meteor probability and the located point.

    With ``tile = (size, overlap)`` each frame is cut into overlapping ``size`` px tiles at native resolution; the
    frame's probability is its best tile's, and so is the point.
    """
    import meteorfast.cam as mc
    from meteorfast.backends.onnxruntime import OnnxRuntimeBackend

    with OnnxRuntimeBackend(str(model)) as backend:
        spec = backend.input_specs["frames"].shape
        channels, in_h, in_w = int(spec[1]), int(spec[2]), int(spec[3])  # type: ignore[arg-type]
        prep = Preprocessor((in_h, in_w), channels)
        crops: list[npt.NDArray[np.generic]] = []
        owners: list[int] = []
        offsets: list[tuple[int, int]] = []
        for i, item in enumerate(items):
            img = item.image
            places = _tiles(img.shape[:2], tile[0], tile[1]) if tile and min(img.shape[:2]) > tile[0] else [(0, 0)]
            for y, x in places:
                crops.append(img[y : y + tile[0], x : x + tile[0]] if tile and len(places) > 1 else img)
                owners.append(i)
                offsets.append((x, y) if tile and len(places) > 1 else (0, 0))
        probs = np.empty(len(crops), np.float32)
        px = np.empty(len(crops), np.float32)
        py = np.empty(len(crops), np.float32)
        for start in range(0, len(crops), batch):
            chunk = crops[start : start + batch]
            frames, geo = prep.batch(chunk)
            geo[:, 2] += np.array([o[0] for o in offsets[start : start + batch]], np.float32)
            geo[:, 3] += np.array([o[1] for o in offsets[start : start + batch]], np.float32)
            out = backend.infer({"frames": frames})
            cam = mc.grad_cam(out["features"], weights=out["cam_weights"])
            fine = np.asarray(out["conv1_map"], np.float32)[:, 0]
            loc = mc.localize(cam, fine, input_size=(in_h, in_w), geometry=geo, mode=mode)
            probs[start : start + len(chunk)] = np.asarray(out["prob"])
            px[start : start + len(chunk)] = loc.x
            py[start : start + len(chunk)] = loc.y
    n = len(items)
    best = np.full(n, -1.0, np.float32)
    fx = np.zeros(n, np.float32)
    fy = np.zeros(n, np.float32)
    for j, i in enumerate(owners):
        if probs[j] > best[i]:
            best[i], fx[i], fy[i] = probs[j], px[j], py[j]
    return Predictions(best, fx, fy)


def point_to_segment(px: float, py: float, seg: Segment) -> float:
    x0, y0, x1, y1 = seg
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else min(max(((px - x0) * dx + (py - y0) * dy) / length2, 0.0), 1.0)
    return float(np.hypot(px - (x0 + t * dx), py - (y0 + t * dy)))


def roc_auc(scores: npt.NDArray[np.floating], labels: npt.NDArray[np.integer]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    pos, neg = int((labels == 1).sum()), int((labels == 0).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def threshold_for_fpr(probs: npt.NDArray[np.floating], labels: npt.NDArray[np.integer], target: float) -> float:
    """The lowest threshold whose false-positive rate on the negatives is at most ``target``."""
    neg = np.sort(probs[labels == 0])[::-1]
    if neg.size == 0:
        return 0.5
    allowed = int(np.floor(target * neg.size))
    return float(np.nextafter(neg[allowed], np.float32(1))) if allowed < neg.size else 0.0


def metrics(items: Sequence[EvalItem], pred: Predictions, threshold: float = 0.5) -> dict[str, Any]:
    labels = np.array([it.label for it in items], np.int64)
    positive = pred.prob >= threshold
    tp = int((positive & (labels == 1)).sum())
    fp = int((positive & (labels == 0)).sum())
    fn = int((~positive & (labels == 1)).sum())
    tn = int((~positive & (labels == 0)).sum())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    by_conf: dict[str, list[bool]] = {}
    for it, p in zip(items, positive, strict=True):
        if it.label == 0:
            by_conf.setdefault(it.confounder or "clean", []).append(bool(p))
    errors = [
        min(point_to_segment(float(pred.x[i]), float(pred.y[i]), s) for s in it.segments)
        for i, it in enumerate(items) if it.label == 1 and positive[i] and it.segments
    ]  # fmt: skip
    err = np.array(errors, np.float64)
    return {
        "n": len(items),
        "threshold": float(threshold),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "accuracy": (tp + tn) / max(len(items), 1),
        "roc_auc": roc_auc(pred.prob.astype(np.float64), labels),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "fpr_by_confounder": {k: float(np.mean(v)) for k, v in sorted(by_conf.items())},
        "loc_median_px": float(np.median(err)) if err.size else float("nan"),
        "loc_p95_px": float(np.percentile(err, 95)) if err.size else float("nan"),
        "loc_hit5": float((err <= 5).mean()) if err.size else float("nan"),
        "loc_n": int(err.size),
    }


def pr_plot(items: Sequence[EvalItem], pred: Predictions, path: str | Path) -> Path:
    """Precision-recall curve as a PNG (matplotlib, the ``[plot]`` extra), written atomically."""
    import io

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise InputError(f'eval --plot needs matplotlib ({err}); pip install "meteorfast[plot]"') from err
    from meteorfast.io import atomic_write_bytes

    labels = np.array([it.label for it in items])
    order = np.argsort(-pred.prob)
    tp = np.cumsum(labels[order] == 1)
    fp = np.cumsum(labels[order] == 0)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / max(int((labels == 1).sum()), 1)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot(recall, precision)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
