"""Where the missed meteors are, by what an ideal detector could see: recall per matched-filter SNR.

For each simulated meteor still, the SNR a detector that knew the streak's every pixel would reach: the root of the
sum, over the meteor's own (noise-free) pixels, of (signal / that pixel's noise sigma)^2, with the noise the
simulator then adds (shot and read noise, and 8-bit quantisation) and without the pixels the scenery hides. A
detector that must also find the streak's place, direction and length in the frame pays for that search (about
6 sigma for a few false alarms per thousand 1280x720 frames), so meteors under that are out of any still
detector's reach, and meteors well above it are the model's to find. The stills are the same as ``meteorfast eval
--synthetic N --seed S`` draws, and the detector is the one it runs (at its stored threshold).

This reads the simulator's internals (the meteor's drawing and the sensor step), so it is a benchmark, not an API.

    python benchmarks/recall_by_snr.py [--synthetic 3000] [--seed 2026] [--model default] [--verifier auto]
        [--json benchmarks/results/recall_by_snr.json]
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

import numpy as np

EDGES = (0.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, float("inf"))


@contextmanager
def oracle_snr() -> Iterator[list[float]]:
    """While active, every rendered meteor frame appends its matched-filter SNR (see the module docstring) to the
    list it yields; other frames append NaN."""
    from satellite_twins import _visible_and_variance  # this script's neighbour in benchmarks/

    from meteorfast.synth import render

    out: list[float] = []
    pending: dict[str, Any] = {}
    draw, finish = render._Meteor.draw, render._Scene.finish

    def meteor_draw(self: Any, img: Any, scene: Any, t0: float, t1: float) -> Any:
        signal = np.zeros_like(img)
        seg = draw(self, signal, scene, t0, t1)
        img += signal
        if self.kind == "fireball":  # its sky-wide brightening is not the streak
            signal -= np.float32(np.median(signal))
        pending["signal"] = signal
        return seg

    def scene_finish(self: Any, img: Any, t: float, frame_rng: Any) -> Any:
        signal = pending.pop("signal", None)
        if signal is None:
            out.append(float("nan"))
        else:
            seen, var = _visible_and_variance(self, img, np.s_[:, :])
            out.append(float(np.sqrt(np.sum(np.where(seen, signal, 0).astype(np.float64) ** 2 / var))))
        return finish(self, img, t, frame_rng)

    with patch.object(render._Meteor, "draw", meteor_draw), patch.object(render._Scene, "finish", scene_finish):
        yield out


def main() -> int:
    from satellite_twins import eval_parser  # this script's neighbour in benchmarks/

    args = eval_parser(__doc__).parse_args()

    from meteorfast.evaluate import predict, synthetic_items
    from meteorfast.io import emit_json

    # Rendered twice: with the meteor drawn on its own buffer the sums differ in the last float bits, so the items
    # the detector sees are rendered as eval renders them.
    with oracle_snr() as snrs:
        synthetic_items(args.synthetic, args.seed)
    snr = np.array(snrs)
    items = synthetic_items(args.synthetic, args.seed)
    pred = predict(
        args.model,
        items,
        verifier=None if args.verifier == "none" else args.verifier,
        satellite_veto=False,
        rescue=False,
    )  # as recorded: the detector before the veto and the rescue
    meteors = np.array([it.label == 1 for it in items])
    faint = np.array([it.kind == "faint_meteor" for it in items])
    found = meteors & (pred.prob >= pred.threshold)
    bins = []
    for lo, hi in itertools.pairwise(EDGES):
        sel = meteors & (snr >= lo) & (snr < hi)
        bins.append({"snr": f"{lo:g}-{hi:g}", "meteors": int(sel.sum()), "found": int((sel & found).sum()),
                     "faint": int((sel & faint).sum())})  # fmt: skip
    emit_json({
        "command": "python " + " ".join(sys.argv), "seed": args.seed, "n": len(items), "threshold": pred.threshold,
        "meteors": int(meteors.sum()), "found": int(found.sum()), "by_snr": bins,
        "snr_min": float(np.min(snr[meteors])), "missed_snr_median": float(np.median(snr[meteors & ~found])),
    }, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
