"""The star veto, for stills: a detection whose object has the shape of the frame's stars, where those are all
smeared alike (a shaken camera, a drifting sky), is turned down (see :mod:`meteorfast.analysis.stars`). Off by
default: a meteor whose point lands on a trailed star is turned down too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.stars import Shape, StarField, measure
from meteorfast.judges.base import StillsJudge, Verdict, View


def vetoed_probability(prob: float, threshold: float) -> float:
    """A vetoed detection's probability: half of ``min(prob, threshold)``, under the threshold and in the same order
    as before."""
    return 0.5 * min(prob, threshold)


@dataclass(frozen=True)
class StarRule:
    """A veto on a detection shaped like the frame's stars: at least ``min_stars`` measured, elongated
    (``min_elongation``) and pointing one way (``min_coherence``), with the detection's object within
    ``max_angle_deg`` of their direction and ``length_ratio`` times their length."""

    min_stars: int = 5
    min_elongation: float = 2.0
    min_coherence: float = 0.9
    max_angle_deg: float = 10.0
    length_ratio: tuple[float, float] = (0.6, 1.6)

    def matches(self, stars: StarField | None, obj: Shape | None) -> bool:
        """Whether the object ``obj`` at a detection has the shape of ``stars`` (None: nothing to compare)."""
        if stars is None or obj is None or stars.n < self.min_stars:
            return False
        if stars.elongation < self.min_elongation or stars.coherence < self.min_coherence:
            return False
        off = abs((obj.angle - stars.angle + np.pi / 2) % np.pi - np.pi / 2)
        ratio = obj.length / max(stars.length, 1e-3)
        return bool(np.degrees(off) <= self.max_angle_deg and self.length_ratio[0] <= ratio <= self.length_ratio[1])

    def vetoes(self, image: npt.NDArray[Any], x: float, y: float) -> bool:
        """Whether this rule turns down the detection at ``(x, y)`` (frame pixels) of the still ``image``."""
        return self.matches(*measure(image, x, y))


class StarVeto(StillsJudge):
    """Turns down each detection :class:`StarRule` takes for a smeared star, to :func:`vetoed_probability`."""

    name = "star_veto"
    option = "star_veto"
    rule = StarRule()

    def __call__(self, view: View, verdict: Verdict) -> Verdict:
        if verdict.score >= self.threshold and self.rule.vetoes(view.item.image, verdict.x, verdict.y):
            return verdict.decided(self.name, vetoed_probability(verdict.score, self.threshold))
        return verdict


__all__ = ["StarRule", "StarVeto", "vetoed_probability"]
