"""The proposal net (:mod:`meteorfast.propose`) as a third stage behind the shipped detector: what it would add.

For each seed, the same 3,000 stills as ``meteorfast eval --synthetic 3000 --seed S`` are run through the shipped
detector (first look and verifier, at its stored threshold; cached per seed), and every still is scanned whole by
the proposal net (cached per seed and net). A rule then reads:

- rescue: a still the detector turns down is accepted when the net's best cell logit exceeds ``rescue``;
- veto (optional): a still the detector accepts is dropped when the net's best cell logit is under ``veto``.

A rescued meteor counts as found only when the best cell lies within 56 px of its streak (the verifier's own
on-streak distance), so the counts are a floor. ``--fix-on SEED --let K`` sets ``rescue`` so that K of that seed's
turned-down negatives pass, and reads the rule on the other seeds.

    python benchmarks/proposal_rescue.py --net runs/p27/b/model.onnx --tag b --seeds 2026,4242 --fix-on 2026 --let 4
        [--veto -1] [--cache runs/p27] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ON_STREAK_PX = 56.0


def load_npz(path: Path) -> dict[str, Any]:
    """A cached ``.npz`` as a dict of its arrays, read whole so the file is closed."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def detector_run(seed: int, n: int, cache: Path) -> dict[str, Any]:
    """The shipped detector on ``n`` stills of ``seed``: prob, threshold, labels, confounders (cached)."""
    path = cache / f"det_{seed}_{n}.npz"
    if path.exists():
        return load_npz(path)
    from meteorfast.evaluate import predict, synthetic_items

    items = synthetic_items(n, seed)
    # as recorded: the detector before the veto and the rescue
    pred = predict("default", items, satellite_veto=False, rescue=False)
    out = {"prob": pred.prob, "threshold": np.float32(pred.threshold), "label": np.array([it.label for it in items]),
           "conf": np.array([it.confounder or "" for it in items])}  # fmt: skip
    np.savez(path, **out)
    return out


def net_run(seed: int, n: int, net: str, tag: str, cache: Path, skip: Any = None) -> dict[str, Any]:
    """The proposal net's best cell logit and its distance to the streak (inf for negatives) per still (cached);
    stills where ``skip`` (bool [n]) is set are not scanned (best +inf, so never vetoed). A whole-seed scan takes
    what a down-only scan of the same net and seed has cached and scans the rest."""
    whole = cache / f"scan_{tag}_{seed}_{n}.npz"
    down = cache / f"scan_{tag}_{seed}_{n}_down.npz"
    path = whole if skip is None else down
    if path.exists():
        return load_npz(path)
    done: dict[str, Any] | None = None
    if skip is None and down.exists():
        # a whole-seed scan after a down-only one: only the stills that one skipped are left to scan
        done = load_npz(down)
        skip = np.isfinite(done["best"])
    from meteorfast.evaluate import point_to_segment
    from meteorfast.propose import ProposalScanner
    from meteorfast.stream import prefetch
    from meteorfast.synth import sample

    scanner = ProposalScanner(net)
    best, off = [], []
    spent = 0.0  # the scans alone, not the simulator's rendering
    for i, f in enumerate(prefetch(sample(n, seed), depth=4)):
        if skip is not None and skip[i]:
            best.append(float("inf"))
            off.append(float("inf"))
            continue
        t0 = time.perf_counter()
        p = scanner.scan(np.asarray(f.image, np.uint8), k=1)
        spent += time.perf_counter() - t0
        best.append(p.best)
        segs = [s for s in f.truth.segments if s is not None]
        x, y = p.points[0]
        off.append(min((point_to_segment(x, y, g) for g in segs), default=np.inf) if f.truth.label else np.inf)
    scanned = n if skip is None else n - int(np.sum(skip))
    out = {"best": np.asarray(best, np.float32), "off": np.asarray(off, np.float64),
           "ms_per_still": np.float64(1000 * spent / max(scanned, 1))}  # fmt: skip
    if done is not None:  # ``skip`` marks the stills the down-only scan holds
        out["best"][skip], out["off"][skip] = done["best"][skip], done["off"][skip]
        out["ms_per_still"] = np.float64((out["ms_per_still"] * scanned + done["ms_per_still"] * skip.sum()) / n)
    np.savez(path, **out)
    return out


def accepted_by_detector(det: dict[str, Any]) -> Any:
    """The stills the shipped detector accepts at its stored threshold: bool [n]."""
    return det["prob"] >= det["threshold"]


def letting_through(negatives: Any, k: int) -> float:
    """The rescue threshold that lets exactly ``k`` of ``negatives`` (the turned-down negatives' best logits,
    float32 [m]) through: the (k+1)-th highest, or -inf when there are no more than ``k``."""
    return float(np.sort(negatives)[::-1][k]) if len(negatives) > k else float("-inf")


def read_rule(det: dict[str, Any], scan: dict[str, Any], rescue: float, veto: float | None) -> dict[str, Any]:
    label = det["label"].astype(bool)
    accepted = accepted_by_detector(det)
    passed = accepted.copy()
    if veto is not None:
        passed &= scan["best"] >= veto
    rescued = ~accepted & (scan["best"] > rescue)
    tp = int((passed & label).sum() + (rescued & label & (scan["off"] <= ON_STREAK_PX)).sum())
    fp = int(((passed | rescued) & ~label).sum())
    n_pos = int(label.sum())
    fpr = {}
    for c in sorted(set(det["conf"][~label].tolist()) - {""}):
        sel = det["conf"] == c
        fpr[c] = round(float(((passed | rescued) & sel).sum() / sel.sum()), 4)
    return {"tp": tp, "fp": fp, "fn": n_pos - tp, "precision": round(tp / max(tp + fp, 1), 4),
            "recall": round(tp / n_pos, 4), "fpr_by_confounder": fpr}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--seeds", default="2026,4242")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--rescue", type=float, default=None)
    ap.add_argument("--fix-on", type=int, default=None)
    ap.add_argument("--let", type=int, default=4)
    ap.add_argument("--veto", type=float, default=None)
    ap.add_argument("--cache", default="runs/p27")
    ap.add_argument("--json", default=None)
    ap.add_argument("--down-only", action="store_true", help="scan only the stills the detector turns down")
    args = ap.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.down_only and args.veto is not None:
        ap.error("--veto needs the accepted stills scanned too; drop --down-only")
    runs = {}
    for s in seeds:
        det = detector_run(s, args.n, cache)
        skip = accepted_by_detector(det) if args.down_only else None
        runs[s] = (det, net_run(s, args.n, args.net, args.tag, cache, skip))
    rescue = args.rescue
    if args.fix_on is not None:
        det, scan = runs[args.fix_on]
        rescue = letting_through(scan["best"][~accepted_by_detector(det) & (det["label"] == 0)], args.let)
    if rescue is None:
        ap.error("expected --rescue T or --fix-on SEED")
    result: dict[str, Any] = {"command": "python " + " ".join(sys.argv), "net": args.net, "rescue": rescue,
                              "veto": args.veto, "seeds": {}}  # fmt: skip
    for s, (det, scan) in runs.items():
        label = det["label"] == 1
        down = ~accepted_by_detector(det)
        missed = down & label
        auc_pos, auc_neg = scan["best"][missed], scan["best"][down & ~label]
        auc = float((auc_pos[:, None] > auc_neg[None, :]).mean()) if len(auc_pos) and len(auc_neg) else float("nan")
        # this seed's own threshold, set after the fact: an upper bound on what a fixed rule adds
        own = letting_through(auc_neg, args.let)
        on = missed & (scan["off"] <= ON_STREAK_PX)
        result["seeds"][s] = {
            "shipped": read_rule(det, scan, float("inf"), None),
            "rule": read_rule(det, scan, rescue, args.veto),
            "missed": int(missed.sum()), "missed_on_streak": int(on.sum()),
            "auc_turned_down": round(auc, 4), f"added_at_{args.let}_own": int((on & (scan["best"] > own)).sum()),
            "neg_q99_turned_down": round(float(np.quantile(auc_neg, 0.99)), 3),
            "ms_per_still_scanned": round(float(scan["ms_per_still"]), 1),
        }  # fmt: skip
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        from meteorfast.io import atomic_write_bytes

        atomic_write_bytes(args.json, text.encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
