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
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from meteorfast.cam.reference import LocalizeMode
from meteorfast.errors import InputError

Segment = tuple[float, float, float, float]


@dataclass(frozen=True)
class EvalItem:
    """``image``: uint8 or uint16 ``[H,W]``; ``label`` 1 for a meteor; ``segments``: the true streaks (frame px);
    ``still``: a single long exposure (a photo), not a video frame or a stack of them."""

    image: npt.NDArray[np.generic]
    label: int
    confounder: str | None
    segments: tuple[Segment, ...]
    name: str = ""
    kind: str = ""
    still: bool = True


@dataclass(frozen=True)
class Predictions:
    """Per item: ``prob``, the detector's score (what decides it: the model's probability unless a judge changed
    it), and the located point ``x``, ``y`` in frame pixels (float32 ``[N]`` each);
    ``threshold``: the one the model (or, with one, the verifier) stores for the items' representation, else 0.5;
    ``verifier``: the second look that decided the unsure items, if any."""

    prob: npt.NDArray[np.float32]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    threshold: float = 0.5
    verifier: Path | None = None


def synthetic_items(
    n: int, seed: int, size: tuple[int, int] = (720, 1280), *, representation: str = "frame",
    video_fraction: float = 0.0, flicker: float = 0.0,
) -> list[EvalItem]:  # fmt: skip
    """``n`` simulated items of ``size``: single frames (stills, with ``video_fraction`` of video frames), or with
    ``representation="stack"`` the ``max - mean`` images of 25-frame clips (what ``Detector(mode="stack")``
    classifies), whose segments are the meteor's per-frame pieces; ``flicker`` > 0 suppresses flicker in them as the
    detector does (see :func:`meteorfast.synth.render_stack`)."""
    from meteorfast.synth import METEOR_KINDS, NEGATIVE_KINDS, SimConfig, render_stack, sample

    if representation == "frame":
        cfg = SimConfig(size=size)
        return [
            EvalItem(f.image, f.truth.label, f.truth.confounder or (None if f.truth.label else "clean"),
                     tuple(s for s in f.truth.segments if s is not None), f"synthetic-{seed}-{i}", f.truth.kind,
                     still=f.exposure_s is not None and f.exposure_s > cfg.exposure)
            for i, f in enumerate(sample(n, seed, config=cfg, video_fraction=video_fraction))
        ]  # fmt: skip
    if representation != "stack":
        raise InputError(f"eval: expected representation 'frame' or 'stack', got {representation!r}")
    rng = np.random.default_rng([seed, 77])
    items = []
    for i in range(n):
        kind = str(rng.choice(METEOR_KINDS) if rng.random() < 0.5 else rng.choice(NEGATIVE_KINDS))
        stacked = render_stack(int(rng.integers(0, 2**31)), 25, kind, SimConfig(size=size), flicker=flicker)
        t = stacked.truth
        confounder = t.confounder or (None if t.label else "clean")
        segments = tuple(s for s in t.segments if s is not None)
        items.append(
            EvalItem(stacked.image, t.label, confounder, segments, f"synthetic-stack-{seed}-{i}", t.kind, still=False)
        )
    return items


def folder_items(root: str | Path) -> list[EvalItem]:
    from meteorfast.stream.sources import IMAGE_SUFFIXES, read_image

    base = Path(root)
    labels_path = base / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.is_file() else {}
    items: list[EvalItem] = []
    for sub, label in (("meteor", 1), ("non_meteor", 0)):
        for path in sorted((base / sub).rglob("*")) if (base / sub).is_dir() else []:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            img = read_image(path)
            segs = tuple(tuple(map(float, s)) for s in labels.get(path.name, {}).get("segments", []))
            items.append(EvalItem(img, label, None if label else "real", segs, path.name))  # type: ignore[arg-type]
    if not items:
        raise InputError(f"eval: expected images in {base}/meteor and {base}/non_meteor, found none")
    return items


def predict(
    model: str | Path, items: Sequence[EvalItem], *, tile: tuple[int, int] | None = None, batch: int = 32,
    mode: LocalizeMode = "fused", refine: bool = True, tta: bool = False, representation: str = "frame",
    verifier: str | Path | None = "auto", satellite_veto: bool | Literal["auto"] = "auto",
    rescue: bool | Literal["auto"] = "auto", star_veto: bool | Literal["auto"] = False,
) -> Predictions:  # fmt: skip
    """Run ``model`` over ``items`` with :class:`~meteorfast.detector.Detector`: the meteor probability and the
    located point of each.

    With ``tile = (size, overlap)`` each frame is cut into overlapping ``size`` px tiles at native resolution; the
    frame's probability is its best tile's, and so is the point. ``refine`` moves each point to the streak within
    its first-layer cell on the frame itself, choosing among the fused map's peaks
    (:func:`meteorfast.analysis.streak.refine_points`). ``tta`` averages each probability over the input and its
    mirror images (see :class:`~meteorfast.detector.Detector`). ``representation`` (``frame`` or ``stack``: what
    the items are) picks the threshold the model stores that is returned with the predictions. ``verifier`` is the
    detector's (see :mod:`meteorfast.verify`): in ``representation`` mode, the automatic one looks again at the
    frames the shipped default model is unsure of. ``satellite_veto`` turns down the detections a satellite's dash
    explains better than a meteor (see :mod:`meteorfast.analysis.dash`): ``"auto"`` on the items that are stills
    (``EvalItem.still``), ``True`` on every frame, ``False`` on none. ``star_veto`` (off by default) turns down, on the
    same items, the detections shaped like the frame's stars where those are all smeared alike (see
    :mod:`meteorfast.analysis.stars`). ``rescue`` asks the proposal net for a second opinion on the same items: it takes
    back a still the detector turns down where the net (with the light along a streak) is sure of a meteor, and turns
    down an unsure detection where the net sees no streak at its point (see :mod:`meteorfast.judges.proposal`).
    """
    from meteorfast.detector import Detector

    probs, xs, ys = [], [], []
    # Every item's candidates are searched, so that points do not depend on the model's threshold (the metrics may
    # apply another, calibrated one).
    if representation not in ("frame", "stack"):
        raise InputError(f"eval: expected representation 'frame' or 'stack', got {representation!r}")
    # The detector runs in the items' mode, so a verifier applies exactly where it would in use.
    with Detector(model, batch_size=batch, tile=tile, localize=mode, refine=refine, search="all", tta=tta,
                  mode=representation, verifier=verifier,
                  satellite_veto=satellite_veto, rescue=rescue, star_veto=star_veto) as det:  # fmt: skip
        for start in range(0, len(items), batch):
            part = items[start : start + batch]
            res = det.classify([it.image for it in part], stills=[it.still for it in part])
            probs.append(res.score)  # what decided each item: the metrics score the detector's decisions
            xs.append(res.x)
            ys.append(res.y)
        used = det.verifier if det.verifying else None
    return Predictions(np.concatenate(probs), np.concatenate(xs), np.concatenate(ys), det.threshold, used)


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


Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` of a proportion ``successes / n``, 95 % by default. Unlike the
    normal approximation it stays inside [0, 1] and is not empty at 0 or n successes, which matters here: a
    confounder may hold only a few dozen items of a set, and 0 false positives of 37 still allows a rate near 9 %."""
    if not 0 <= successes <= n:
        raise InputError(f"eval: expected 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * float(np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / denom
    # At 0 or n successes a bound is exactly 0 or 1; rounding would leave it a hair inside.
    return 0.0 if successes == 0 else max(0.0, centre - half), 1.0 if successes == n else min(1.0, centre + half)


# Meteors by the length of their true streak (frame px, all of an item's segments): the short ones are the dashes a
# downscaled still shows as satellites do, and most of the misses (benchmarks/RESULTS.md).
LENGTH_EDGES_PX = (60.0, 120.0, 250.0)
LENGTH_BINS = ("<60", "60-120", "120-250", ">=250")


def length_bin(length_px: float) -> str:
    """The :data:`LENGTH_BINS` label of a streak ``length_px`` long."""
    return LENGTH_BINS[int(np.searchsorted(LENGTH_EDGES_PX, length_px, side="right"))]


def metrics(items: Sequence[EvalItem], pred: Predictions, threshold: float = 0.5) -> dict[str, Any]:
    """The ``eval`` report. Besides the rates, ``*_ci95`` give each rate's 95 % Wilson interval
    (:func:`wilson_interval`), and ``n_by_confounder`` / ``n_by_kind`` / ``n_by_length`` the items behind each
    per-kind or per-length rate, so a target such as a 2 % false-positive rate can be read against what the set can
    show. ``recall_by_length`` bins the meteors that have segments by their summed length in frame pixels
    (:data:`LENGTH_BINS`)."""
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
    by_kind: dict[str, list[bool]] = {}
    for it, p in zip(items, positive, strict=True):
        if it.label == 1:
            by_kind.setdefault(it.kind or "meteor", []).append(bool(p))
    by_length: dict[str, list[bool]] = {}
    for it, p in zip(items, positive, strict=True):
        if it.label == 1 and it.segments:
            by_length.setdefault(length_bin(sum(np.hypot(x1 - x0, y1 - y0) for x0, y0, x1, y1 in it.segments)),
                                 []).append(bool(p))  # fmt: skip
    by_length = {k: by_length[k] for k in LENGTH_BINS if k in by_length}  # shortest first
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
        "precision_ci95": wilson_interval(tp, tp + fp),
        "recall_ci95": wilson_interval(tp, tp + fn),
        "fpr_by_confounder": {k: float(np.mean(v)) for k, v in sorted(by_conf.items())},
        "fpr_by_confounder_ci95": {k: wilson_interval(sum(v), len(v)) for k, v in sorted(by_conf.items())},
        "n_by_confounder": {k: len(v) for k, v in sorted(by_conf.items())},
        "recall_by_kind": {k: float(np.mean(v)) for k, v in sorted(by_kind.items())},
        "recall_by_kind_ci95": {k: wilson_interval(sum(v), len(v)) for k, v in sorted(by_kind.items())},
        "n_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "recall_by_length": {k: float(np.mean(v)) for k, v in by_length.items()},
        "recall_by_length_ci95": {k: wilson_interval(sum(v), len(v)) for k, v in by_length.items()},
        "n_by_length": {k: len(v) for k, v in by_length.items()},
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
