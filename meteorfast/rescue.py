"""Taking back a still the detector turns down, where the proposal nets and the light along a streak agree.

The first look sees a 720p still shrunk 3.3 times, and with the verifier it was taught to turn down short dashes,
a satellite's flare being the commonest false alarm in a still; it turns down some short or faint meteors with them,
clear ones among them (``benchmarks/RESULTS.md``, "A light-curve rescue at the proposal net's cells"). Two things
see such a still at native resolution: a proposal net (:mod:`meteorfast.propose`), which marks where a meteor may
lie, and the dash fit (:mod:`meteorfast.cam.dash`), which asks whether the light along a streak there rises and fades
as a meteor's does or holds even as a satellite's dash. Neither alone is enough: a net's best cells also land on
satellites, shaken stars, fog and trailed stars, and many things fit a light curve.

:class:`Rescuer` asks up to three questions, in order, and the first yes takes the still back:

1. **The first net's cells.** It scans the still with the first net, takes its :attr:`RescueRule.cells` best cells
   (at least :attr:`RescueRule.apart` cells apart), and at each whose logit is at least :attr:`RescueRule.min_logit`
   moves the point onto a line (:func:`meteorfast.cam.refine.refine_points`, within one cell) and fits both models
   there. The still is taken back at the first cell where a streak of at most :data:`meteorfast.cam.dash.MAX_FIT_PX`
   is walked and the meteor model fits it at least :attr:`RescueRule.tau` better than the dash.
2. **The second net's cells**, the same way under their own rule (a higher bar). The second net was mined three
   times over on the false alarms of stills (satellites, shaken frames, lightning), so it ranks the turned-down
   stills better, and takes back meteors the first net scores too low.
3. **The second net at the detector's own point** (:class:`PointRule`): where its map reaches
   :attr:`PointRule.min_logit` within :attr:`PointRule.radius` cells of the point the detector located, and the
   detector gave the still at least :attr:`PointRule.min_probability`, the still is taken there. These are mostly
   meteors the first look and the verifier nearly took, where the second net, which sees the still at native
   resolution, is sure of a streak.

The rules' defaults were chosen on simulated stills behind the shipped detector and read on other seeds
(``benchmarks/RESULTS.md``). This is for stills only, as the dash fit is: in a 25 fps video frame a meteor's 40 ms
is itself an even dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError

if TYPE_CHECKING:
    from meteorfast.propose import Proposals


@dataclass(frozen=True)
class RescueRule:
    """Take back a still at one of the proposal net's ``cells`` best cells (at least ``apart`` cells apart) whose
    logit is at least ``min_logit``, where the dash fit walks a streak of 160 px or less and the meteor model beats
    the dash by at least ``tau`` in chi-squared (``delta <= -tau``)."""

    min_logit: float = 2.0
    tau: float = 0.0
    cells: int = 3
    apart: int = 7

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_logit) and math.isfinite(self.tau) and self.tau >= 0):
            raise InputError(f"rescue: expected a finite min_logit and tau >= 0, got {self.min_logit}, {self.tau}")
        if self.cells < 1 or self.apart < 0:
            raise InputError(f"rescue: expected cells >= 1 and apart >= 0, got {self.cells}, {self.apart}")

    def takes(self, logit: float, delta: float | None) -> bool:
        """Whether a cell of this ``logit``, whose fit gave ``delta`` (None: nothing walked there, or a streak too
        long to fit), takes the still back."""
        return logit >= self.min_logit and delta is not None and delta <= -self.tau


@dataclass(frozen=True)
class PointRule:
    """Take back a still where the second net's map reaches ``min_logit`` within ``radius`` cells (a square of
    ``2 * radius + 1`` cells) of the detector's own point, if the detector gave it at least ``min_probability``."""

    min_logit: float = 3.0
    radius: int = 1
    min_probability: float = 0.1

    def __post_init__(self) -> None:
        if not math.isfinite(self.min_logit) or self.radius < 0 or not 0.0 <= self.min_probability <= 1.0:
            raise InputError(f"rescue: expected a finite min_logit, radius >= 0 and min_probability in [0, 1], got "
                             f"{self.min_logit}, {self.radius}, {self.min_probability}")  # fmt: skip

    def reach(self, logits: npt.NDArray[np.floating], x: float, y: float) -> float:
        """The highest of ``logits`` (``float [rows, cols]``, one per :data:`meteorfast.propose.CELL` px cell) within
        ``radius`` cells of the cell holding frame point ``(x, y)`` (clamped into the map); ``-inf`` for a point that
        is not finite."""
        from meteorfast.propose import CELL

        if not (math.isfinite(x) and math.isfinite(y)):
            return float("-inf")
        rows, cols = logits.shape
        r = min(max(int(y // CELL), 0), rows - 1)
        c = min(max(int(x // CELL), 0), cols - 1)
        k = self.radius
        return float(np.max(logits[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]))


# The second net's rules, as fixed before their fresh reads (benchmarks/RESULTS.md, stop 49): its cells need a higher
# logit than the first net's 2, as negatives reached 2.1-3.82 there where the fit prefers a meteor.
SECOND_RULE = RescueRule(min_logit=4.0)


@dataclass(frozen=True)
class Rescue:
    """A still taken back: the point on its streak ``(x, y)`` (frame px), the ``logit`` that took it and the ``bar``
    it had to reach, the fit's ``delta`` (the meteor model's chi-squared less the dash's; None where the point rule
    took it, with no fit), and the ``stage``: ``"first"`` or ``"second"`` (a net's cells) or ``"point"``."""

    x: float
    y: float
    logit: float
    delta: float | None
    bar: float
    stage: str


def rescued_probability(threshold: float, logit: float, min_logit: float) -> float:
    """A still taken back gets a probability from ``threshold`` (at ``logit == min_logit``) towards 1 as the net's
    ``logit`` grows: ``threshold + (1 - threshold) * (s(logit) - s(min_logit)) / (1 - s(min_logit))``, with ``s``
    the logistic, so the rescued stills rank among themselves by the net's confidence."""

    def s(z: float) -> float:  # the logistic, without overflow at either end
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    share = (s(logit) - s(min_logit)) / (1.0 - s(min_logit))
    return float(threshold + (1.0 - threshold) * min(max(share, 0.0), 1.0))


def shipped_rescuer(threads: int | None = None) -> Rescuer:
    """The rescue :class:`~meteorfast.detector.Detector` runs: the shipped proposal net under :class:`RescueRule`'s
    defaults, then the shipped second net under :data:`SECOND_RULE` and :class:`PointRule`'s defaults."""
    from meteorfast.data import SECOND_PROPOSAL_NET, proposal_net

    return Rescuer(proposal_net(), threads=threads, second=proposal_net(SECOND_PROPOSAL_NET))


def grey_uint8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """A frame as the proposal net takes it: ``uint8 [H, W]`` from uint8 or uint16 ``[H, W]`` or ``[H, W, 1|3|4]``
    (BGR or BGRA, as OpenCV reads them)."""
    from meteorfast.preprocess import to_uint8
    from meteorfast.stream.sources import to_grey

    grey = to_grey(to_uint8(np.asarray(image)))
    if grey.ndim != 2:
        raise InputError(f"rescue: expected a frame [H,W] or [H,W,1|3|4], got shape {np.shape(image)}")
    return np.asarray(grey, np.uint8)


class Rescuer:
    """The first proposal net ``model`` under ``rule``, and optionally the ``second`` net under ``second_rule`` and
    ``point_rule`` (exported ``.onnx`` files, run with ONNX Runtime on ``threads``), over one still at a time."""

    def __init__(
        self, model: str | Path, rule: RescueRule | None = None, threads: int | None = None, *,
        second: str | Path | None = None, second_rule: RescueRule = SECOND_RULE,
        point_rule: PointRule | None = PointRule(),
    ) -> None:  # fmt: skip
        from meteorfast.propose import ProposalScanner

        self.rule = rule if rule is not None else RescueRule()
        self.second_rule = second_rule
        self.point_rule = point_rule
        self._scanner = ProposalScanner(model, threads=threads)
        try:
            self._second = None if second is None else ProposalScanner(second, threads=threads)
        except BaseException:
            self._scanner.close()
            raise

    def __call__(self, image: npt.NDArray[Any], located: tuple[float, float, float] | None = None) -> Rescue | None:
        """The still ``image`` (uint8 or uint16, ``[H, W]`` or ``[H, W, 3|4]``) taken back, or None. ``located`` is
        the detector's point (frame px) and probability ``(x, y, p)``, which the point rule asks the second net
        about."""
        grey = grey_uint8(image)
        found = self._cells(self._scanner.scan(grey, self.rule.cells, self.rule.apart), grey, self.rule, "first")
        if found is not None or self._second is None:
            return found
        rule = self.second_rule
        proposals = self._second.scan(grey, rule.cells, rule.apart)
        found = self._cells(proposals, grey, rule, "second")
        point_rule = self.point_rule
        if found is not None or located is None or point_rule is None:
            return found
        x, y, p = (float(v) for v in located)
        if not p >= point_rule.min_probability:
            return None
        reach = point_rule.reach(proposals.logits, x, y)
        if reach >= point_rule.min_logit:
            return Rescue(x, y, reach, None, point_rule.min_logit, "point")
        return None

    @staticmethod
    def _cells(proposals: Proposals, grey: npt.NDArray[np.uint8], rule: RescueRule, stage: str) -> Rescue | None:
        """The first of ``proposals``' cells (best first) that ``rule`` takes, fitted on ``grey``, or None."""
        from meteorfast.cam.dash import fit_at
        from meteorfast.cam.refine import refine_points
        from meteorfast.propose import CELL

        for (_, _, logit), (cx, cy) in zip(proposals.cells, proposals.points, strict=True):
            if logit < rule.min_logit:
                break  # best first: no later cell reaches it
            rx, ry = refine_points([grey], [cx], [cy], [float(CELL), float(CELL)])
            x, y = float(rx[0]), float(ry[0])
            fit = fit_at(grey, x, y)
            delta = None if fit is None else fit.delta
            if rule.takes(logit, delta) and delta is not None:
                return Rescue(x, y, logit, delta, rule.min_logit, stage)
        return None

    def close(self) -> None:
        """Release the nets' sessions."""
        self._scanner.close()
        if self._second is not None:
            self._second.close()


__all__ = [
    "SECOND_RULE", "PointRule", "Rescue", "RescueRule", "Rescuer", "grey_uint8", "rescued_probability",
    "shipped_rescuer",
]  # fmt: skip
