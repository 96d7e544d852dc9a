"""The satellite veto, for stills: a detection whose streak is a short dash that a satellite's even level explains
better than a meteor's light curve is turned down (see :mod:`meteorfast.analysis.dash`).

In a long exposure a satellite leaves a dash between the shutter's abrupt ends and a meteor its whole light curve; in
a video frame a meteor's 40 ms is itself an even dash, so only stills are judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meteorfast.analysis.dash import Fit, fit_at
from meteorfast.judges.base import StillsJudge, Verdict, View


@dataclass(frozen=True)
class DashRule:
    """A veto on a detection whose walked streak is at most ``max_len_px`` px, whose ``delta`` is ``tau`` or more,
    and whose satellite fit has at most ``max_chi2`` chi-squared a sample (where neither model explains the light,
    say a star the line crosses, their difference means little)."""

    max_len_px: int = 100
    tau: float = 10.0
    max_chi2: float = 2.0

    def vetoes(self, f: Fit | None) -> bool:
        """Whether this rule turns down the detection whose fit is ``f`` (None: nothing to fit there)."""
        if f is None or f.delta is None or f.chi2_satellite is None:
            return False
        return f.length <= self.max_len_px and f.delta >= self.tau and f.chi2_satellite <= self.max_chi2 * f.n


def vetoed_probability(prob: float, threshold: float, delta: float) -> float:
    """A vetoed detection's probability: ``min(prob, threshold)`` times the dash's likelihood ratio
    ``exp(-delta / 2)``: under the threshold (``delta`` > 0), and the lower the clearer the dash."""
    return float(min(prob, threshold) * np.exp(-0.5 * max(delta, 0.0)))


class SatelliteVeto(StillsJudge):
    """Turns down each detection whose fit at its point :class:`DashRule` takes for a satellite's dash, to
    :func:`vetoed_probability`."""

    name = "satellite_veto"
    option = "satellite_veto"
    rule = DashRule()

    def __call__(self, view: View, verdict: Verdict) -> Verdict:
        if verdict.score < self.threshold:
            return verdict
        # No fit beyond the rule's length: a longer streak is never vetoed.
        fit = fit_at(view.item.image, verdict.x, verdict.y, self.rule.max_len_px)
        if fit is not None and fit.delta is not None and self.rule.vetoes(fit):
            return verdict.decided(self.name, vetoed_probability(verdict.score, self.threshold, fit.delta))
        return verdict


__all__ = ["DashRule", "SatelliteVeto", "vetoed_probability"]
