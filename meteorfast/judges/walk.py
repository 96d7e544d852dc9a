"""A detection's point walked along its streak to the streak's brightest stretch, the part the paper's first-layer
maximum marks and an observer boxes (:func:`meteorfast.analysis.streak.brightest_on_streak`).

It runs after the second look, whose crops are centred as in its training, and before the stills' rules, which read
the light along the streak from this point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from meteorfast.judges.base import BatchJudge, Setup, Verdict, View


class Walk(BatchJudge):
    """Walks each detection (each item with ``search="all"``) along its streak."""

    name = "walk"

    def __init__(self, threshold: float, every_item: bool) -> None:
        self.threshold = threshold
        self.every_item = every_item

    @classmethod
    def build(cls, setup: Setup) -> Walk | None:
        return cls(setup.threshold, setup.config.search == "all") if setup.config.refine else None

    def judge_all(self, views: Sequence[View], verdicts: Sequence[Verdict]) -> list[Verdict]:
        from meteorfast.analysis.streak import brightest_on_streak

        out = list(verdicts)
        walk = [i for i, d in enumerate(verdicts) if self.every_item or d.score >= self.threshold]
        if walk:
            x = np.array([verdicts[i].x for i in walk], np.float32)
            y = np.array([verdicts[i].y for i in walk], np.float32)
            px, py = brightest_on_streak([views[i].item.image for i in walk], x, y)
            for j, i in enumerate(walk):
                out[i] = verdicts[i].moved(float(px[j]), float(py[j]))
        return out
