"""The likelihood-ratio veto of :mod:`meteorfast.cam.dash` (a satellite's dash against a meteor, on the light along
the streak through the detector's point), measured on the stills ``meteorfast eval --synthetic N --seed S`` renders,
with the detector it runs, at its stored threshold, as the veto would act after it.

Read as a grid of rules (:class:`~meteorfast.cam.dash.DashRule`: ``max_len`` in {60, 100} px, ``tau`` in {0, 10, 25,
50}, ``max_chi2`` in {2, 3, none} a sample) over the detections (meteors lost, negatives removed, satellites
removed), and at every satellite the detector scores 0.3 or more with its point on the dash, whatever the threshold.
``--rule MAX_LEN,TAU,MAX_CHI2`` applies one rule and reports precision, recall and each confounder's rate with and
without it. This reads the simulator's internals for the satellites, so it is a benchmark, not an API; ``meteorfast
eval`` runs the shipped rule inside the detector, on stills by default.

    python benchmarks/dash_likelihood.py [--synthetic 3000] [--seed 2026] [--rule 100,10,2] [--json out.json]
"""

from __future__ import annotations

import sys
import time
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.cam.dash import DashRule, fit_at

LOW_PROB = 0.3
MAX_LENS = (60, 100)
TAUS = (0.0, 10.0, 25.0, 50.0)
MAX_CHI2S = (2.0, 3.0, float("inf"))  # per sample


def main() -> int:
    from satellite_twins import ON_DASH, eval_parser, point_to_dash, satellite_stills  # this script's neighbour

    from meteorfast.evaluate import predict, synthetic_items
    from meteorfast.io import emit_json

    parser = eval_parser(__doc__)
    parser.add_argument("--rule", default=None, help="MAX_LEN,TAU,MAX_CHI2: report the metrics with this veto")
    args = parser.parse_args()

    items = synthetic_items(args.synthetic, args.seed)
    pred = predict(
        args.model,
        items,
        verifier=None if args.verifier == "none" else args.verifier,
        satellite_veto=False,
        rescue=False,
    )  # the veto is what this reads, on the detector without it
    label = np.array([it.label for it in items])
    conf = np.array([it.confounder or "" for it in items])
    det = pred.prob >= pred.threshold
    looked = np.flatnonzero(det | ((conf == "satellite") & (pred.prob >= LOW_PROB)))
    t = time.perf_counter()
    fits = {int(i): fit_at(items[i].image, float(pred.x[i]), float(pred.y[i])) for i in looked}
    fit_s = time.perf_counter() - t
    fitted = sum(f is not None and f.delta is not None for f in fits.values())
    del items

    index, _, views = satellite_stills(args.synthetic, args.seed)
    near = [point_to_dash(v, float(pred.x[i]), float(pred.y[i])) for i, v in zip(index, views, strict=True)]
    on_dash = [i for i, d in zip(index, near, strict=True) if pred.prob[i] >= LOW_PROB and d <= ON_DASH]

    def veto_mask(rule: DashRule) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(label), bool)
        for i, f in fits.items():
            out[i] = rule.vetoes(f)
        return out

    rules = []
    for max_len, tau, max_chi2 in product(MAX_LENS, TAUS, MAX_CHI2S):
        rule = DashRule(max_len, tau, max_chi2)
        v = veto_mask(rule) & det
        rules.append({"max_len_px": max_len, "tau": tau, "max_chi2": max_chi2,
                      "meteors_lost": int((v & (label == 1)).sum()),
                      "negatives_removed": int((v & (label == 0)).sum()),
                      "satellites_removed": int((v & (conf == "satellite")).sum()),
                      "satellites_on_dash_p03_vetoed": sum(rule.vetoes(fits[i]) for i in on_dash)})  # fmt: skip

    def metrics(accept: npt.NDArray[np.bool_]) -> dict[str, Any]:
        tp, fp = int((accept & (label == 1)).sum()), int((accept & (label == 0)).sum())
        fn = int(((~accept) & (label == 1)).sum())
        kinds = sorted(set(conf[label == 0]))
        return {"tp": tp, "fp": fp, "fn": fn, "precision": round(tp / max(tp + fp, 1), 4),
                "recall": round(tp / max(tp + fn, 1), 4),
                "fpr_by_confounder": {k: round(float(accept[conf == k].mean()), 4) for k in kinds}}  # fmt: skip

    out: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv), "seed": args.seed, "n": args.synthetic,
        "threshold": pred.threshold, "shipped": metrics(det), "satellites": len(index),
        "satellites_on_dash_p03": len(on_dash), "fitted": fitted, "fit_ms_each": round(1000 * fit_s / max(fitted, 1)),
        "rules": rules,
        "fits": [{"item": i, "label": int(label[i]), "kind": str(conf[i]), "prob": round(float(pred.prob[i]), 4),
                  "detected": bool(det[i]), "on_dash": i in on_dash, "length": f.length, "n": f.n,
                  "chi2_satellite": round(float(f.chi2_satellite or 0), 2),
                  "chi2_meteor": round(float(f.chi2_meteor or 0), 2)}
                 for i, f in fits.items() if f is not None and f.delta is not None],
    }  # fmt: skip
    if args.rule:
        text_len, text_tau, text_chi2 = args.rule.split(",")
        chosen = DashRule(int(text_len), float(text_tau), float(text_chi2))
        out["rule"] = {"max_len_px": chosen.max_len_px, "tau": chosen.tau, "max_chi2": chosen.max_chi2,
                       **metrics(det & ~veto_mask(chosen))}  # fmt: skip
    emit_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
