"""The point moved to the streak on the frame itself, among the fused map's peaks (see
:mod:`meteorfast.analysis.streak`).

The first-layer map pins the meteor to one of its cells, and answers to a bright star as much as to a faint streak.
So an item that is searched (a detection, an item the second look will judge, or every item with ``search="all"``)
offers the fused map's highest peaks of its best tile as candidates, and the most line-like wins; every other item
refines its located point alone, which keeps the search's cost off the quiet frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from meteorfast.judges.base import BatchJudge, Setup, Verdict, View
from meteorfast.verify import VerifySpec, in_band


class Refine(BatchJudge):
    """Moves each item's point to the streak: among ``candidates`` fused-map peaks where the item is searched."""

    name = "refine"

    def __init__(
        self, threshold: float, candidates: int, search_all: bool, input_size: tuple[int, int],
        band: VerifySpec | None = None,
    ) -> None:  # fmt: skip
        self.threshold = threshold
        self.candidates = candidates
        self.search_all = search_all
        self.input_size = input_size
        self.band = band

    @classmethod
    def build(cls, setup: Setup) -> Refine | None:
        c = setup.config
        if not c.refine:
            return None
        band = setup.verifier.spec if setup.verifier is not None else None
        return cls(setup.threshold, c.candidates, c.search == "all", setup.input_size, band)

    def judge_all(self, views: Sequence[View], verdicts: Sequence[Verdict]) -> list[Verdict]:
        from meteorfast.analysis.streak import fused_peaks, refine_points

        n, k = len(views), self.candidates
        cx = np.full((n, k), np.nan, np.float32)
        cy = np.full((n, k), np.nan, np.float32)
        weight = np.zeros((n, k), np.float32)
        cx[:, 0] = [d.x for d in verdicts]
        cy[:, 0] = [d.y for d in verdicts]
        weight[:, 0] = 1.0
        prob = np.array([d.prob for d in verdicts], np.float32)
        # Searched: every item, or a detection, or an item the second look will judge.
        unsure = in_band(prob, self.band) if self.band is not None else np.zeros(n, np.bool_)
        search = [i for i in range(n) if self.search_all or prob[i] >= self.threshold or unsure[i]]
        if k > 1 and search:
            cam, fine, geo = (
                np.stack([getattr(views[i], name) for i in search]) for name in ("cam", "fine", "geometry")
            )
            cx[search], cy[search], weight[search] = fused_peaks(cam, fine, geo, self.input_size, k)
        cells = np.stack([v.cell for v in views])
        px, py = refine_points([v.item.image for v in views], cx, cy, cells, weight=weight)
        return [d.moved(float(px[i]), float(py[i])) for i, d in enumerate(verdicts)]
