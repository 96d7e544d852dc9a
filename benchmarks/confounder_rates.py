"""Each confounder's false-positive rate on its own, over enough stills to tell 2 % from 1 %.

``meteorfast eval --synthetic 3000 --seed S`` draws about 190 stills of each negative kind, where one false positive
moves a rate by 0.5 % and a true rate of 1.4 % gives 4 or more (over 2 %) on about one seed in four. So here each
negative kind is drawn alone (``meteorfast.synth.sample(n, seed + j, kinds=(kind,))``, the j-th kind of
``NEGATIVE_KINDS`` on seed ``seed + j``), ``n`` stills of it, and put through the shipped detector as ``meteorfast
eval`` runs it on stills (the veto on). The detector's stills turned down then go through the rescue exactly as
:class:`~meteorfast.detector.Detector` would send them (no mask here), and its detections through the net's veto,
so that the rate is given both without that second opinion and with it (the default). Each rate comes with its 95 %
Wilson interval. ``--kinds`` may also name a meteor kind (the j-th of ``METEOR_KINDS`` is drawn on seed ``seed +
len(NEGATIVE_KINDS) + j``), whose "false positives" are then its detections: a quick way to read the rescue's path
on stills the detector turns down.

    python benchmarks/confounder_rates.py [--per-kind 2000] [--seed 7200] [--jobs 2] [--kinds satellite,shake]
        [--json benchmarks/results/confounder_rates.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from typing import Any

BATCH = 32


def one_kind(kind: str, seed: int, n: int, model: str, star_veto: bool = False) -> dict[str, Any]:
    """The false positives of ``n`` stills of ``kind`` drawn on ``seed``, without and with the proposal net's second
    opinion (its veto and its rescue; and the star veto on the stills, which ``Detector()`` leaves off, where
    ``star_veto``)."""
    from meteorfast.detector import Detector
    from meteorfast.evaluate import wilson_interval
    from meteorfast.judges.proposal import shipped_rescuer
    from meteorfast.synth import sample

    began = time.perf_counter()
    accepted: list[int] = []
    rescued: list[int] = []
    vetoed: list[int] = []
    # One thread each: the kinds run side by side, a process per CPU.
    with (
        Detector(model, search="all", rescue=False, star_veto="auto" if star_veto else False, threads=1) as det,
        closing(shipped_rescuer(threads=1)) as rescuer,
    ):
        frames = sample(n, seed, kinds=(kind,))
        for start in range(0, n, BATCH):
            part = [next(frames) for _ in range(min(BATCH, n - start))]
            res = det.classify([f.image for f in part], stills=True)
            for j, f in enumerate(part):
                # what Detector(rescue="auto") does with a still: a second opinion on each verdict
                p = float(res.prob[j])
                if p >= det.threshold:
                    accepted.append(start + j)
                    if rescuer.vetoes(f.image, float(res.x[j]), float(res.y[j]), p):
                        vetoed.append(start + j)
                elif rescuer(f.image, p) is not None:
                    rescued.append(start + j)
        threshold = det.threshold
    fp, fp_rescue = len(accepted), len(accepted) - len(vetoed) + len(rescued)
    seconds = time.perf_counter() - began
    return {
        "kind": kind, "seed": seed, "n": n, "threshold": float(threshold), "star_veto": star_veto,
        "fp_without_rescue": fp, "fpr_without_rescue": fp / n, "ci95_without_rescue": wilson_interval(fp, n),
        "fp": fp_rescue, "fpr": fp_rescue / n, "ci95": wilson_interval(fp_rescue, n),
        "accepted": accepted, "vetoed": vetoed, "rescued": rescued, "seconds": round(seconds, 1),
        "items_per_s": round(n / seconds, 2),
    }  # fmt: skip


def main() -> int:
    from meteorfast.io import emit_json
    from meteorfast.synth import METEOR_KINDS, NEGATIVE_KINDS

    order = (*NEGATIVE_KINDS, *METEOR_KINDS)  # a kind's seed is seed + its place here
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-kind", type=int, default=2000, help="stills of each kind")
    p.add_argument("--seed", type=int, default=7200, help="kind j of NEGATIVE_KINDS is drawn on seed + j, kind j of "
                   f"METEOR_KINDS on seed + {len(NEGATIVE_KINDS)} + j")  # fmt: skip
    p.add_argument("--kinds", default=",".join(NEGATIVE_KINDS), help="comma-separated kinds (default: the negative "
                   "ones)")  # fmt: skip
    p.add_argument("--model", default="default")
    p.add_argument("--star-veto", action=argparse.BooleanOptionalAction, default=False,
                   help="the detector's star veto on the stills (default off, as Detector() has it)")  # fmt: skip
    p.add_argument("--jobs", type=int, default=2, help="kinds run side by side, one process each")
    p.add_argument("--json", default=None, help="write the report here (stdout without)")
    args = p.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(order))
    if unknown or args.per_kind < 1:
        p.error(f"expected kinds among {', '.join(order)} and --per-kind >= 1, got {unknown} / {args.per_kind}")
    seeds = {k: args.seed + order.index(k) for k in kinds}
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {k: pool.submit(one_kind, k, seeds[k], args.per_kind, args.model, args.star_veto) for k in kinds}
        rows = [futures[k].result() for k in kinds]
    emit_json({
        "command": "python " + " ".join(sys.argv), "per_kind": args.per_kind, "seeds": seeds,
        "kinds": rows, "seconds": round(time.perf_counter() - began, 1),
    }, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
