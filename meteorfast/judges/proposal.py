"""The proposal net's second opinion on stills: its map at native resolution, weighed with the detector's own logit.

The first look sees a 720p still shrunk 3.3 times, and with the verifier it was taught to turn down short dashes,
a satellite's flare being the commonest false alarm in a still; it turns down some short or faint meteors with them,
clear ones among them, and it accepts a few negatives where nothing at native resolution looks like a streak
(``benchmarks/RESULTS.md``). The shipped proposal net (:mod:`meteorfast.proposals`) sees the whole still at native
resolution and gives one logit per 16 px cell: how likely a meteor's streak crosses it. It was mined three times
over on the false alarms of stills (satellites, shaken frames, lightning, birds). The dash fit
(:mod:`meteorfast.analysis.dash`) asks whether the light along a streak rises and fades as a meteor's does or holds
even as a satellite's dash.

:class:`Rescuer` scans a still once and answers one of two questions, by the detector's verdict on it:

- **A still the detector turns down** (:class:`RescueRule`) is taken back where the net's best cell logit, plus a
  quarter of the detector's logit, plus one where any of the net's three best cells passes the dash fit, reaches
  :attr:`RescueRule.bar`. Neither the net alone nor the fit alone is enough: the net's best cells also land on
  satellites, shaken stars, fog and trailed stars, and many things fit a light curve; the detector's logit says how
  near the first look and the verifier came.
- **A still the detector accepts** (:class:`VetoRule`) is turned down where the detector's logit plus a quarter of
  the net's highest logit within one cell of the located point stays under :attr:`VetoRule.bar`: a detection the
  detector is unsure of, where the net sees no streak at its point.

The rules' weights and bars were chosen on simulated stills behind the shipped detector and read on others
(``benchmarks/RESULTS.md``). This is for stills only, as the dash fit is: in a 25 fps video frame a
meteor's 40 ms is itself an even dash.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from meteorfast.analysis.image import grey_uint8
from meteorfast.errors import InputError
from meteorfast.judges.base import Judge, Setup, StillsJudge, Verdict, View

# The net's veto turns a detection down as the star veto does: to half of min(prob, threshold).
from meteorfast.judges.stars import vetoed_probability
from meteorfast.odds import logistic, logit


def detector_logit(prob: float, low: float, high: float) -> float:
    """The logit of the detector's probability ``prob`` (:func:`meteorfast.odds.logit`), clipped to ``[low,
    high]``."""
    return float(min(max(float(logit(prob)), low), high))


def _check(name: str, values: dict[str, float], low: float, high: float) -> None:
    if not all(math.isfinite(v) for v in values.values()) or not low < high:
        got = ", ".join(f"{k}={v}" for k, v in values.items())
        raise InputError(f"rescue: expected finite {name} settings and a clip with low < high, got {got}, "
                         f"clip=({low}, {high})")  # fmt: skip


@dataclass(frozen=True)
class RescueRule:
    """Take back a still the detector turned down when ``best + weight * lp + fit_bonus * fitted >= bar``.

    ``best`` is the net's best cell logit (a still where no cell reaches ``floor`` is never taken: there is nowhere to
    put its point); ``lp`` the logit of the detector's probability, clipped to ``clip``; ``fitted`` whether any of
    the net's ``cells`` best cells (at least ``apart`` cells apart, logit ``floor`` or more) passes the dash fit: a
    streak of 160 px or less walked there, the meteor model fitting it at least as well as the dash (``delta <=
    0``)."""

    bar: float = 2.5
    weight: float = 0.25
    fit_bonus: float = 1.0
    floor: float = 0.5
    cells: int = 3
    apart: int = 7
    clip: tuple[float, float] = (-10.0, 4.0)

    def __post_init__(self) -> None:
        _check("rescue", {"bar": self.bar, "weight": self.weight, "fit_bonus": self.fit_bonus, "floor": self.floor},
               *self.clip)  # fmt: skip
        if self.fit_bonus < 0 or self.cells < 1 or self.apart < 0:
            raise InputError(f"rescue: expected fit_bonus >= 0, cells >= 1 and apart >= 0, got {self.fit_bonus}, "
                             f"{self.cells}, {self.apart}")  # fmt: skip

    def base(self, best: float, prob: float) -> float:
        """The score without the fit: ``best + weight * lp``."""
        return best + self.weight * detector_logit(prob, *self.clip)


@dataclass(frozen=True)
class VetoRule:
    """Turn down a still the detector accepted when ``lp + weight * reach < bar``: ``lp`` the logit of the
    detector's probability, clipped to ``clip``; ``reach`` the net's highest cell logit within ``radius`` cells (a
    square of ``2 * radius + 1``) of the cell holding the located point."""

    bar: float = 1.5
    weight: float = 0.25
    radius: int = 1
    clip: tuple[float, float] = (-10.0, 12.0)

    def __post_init__(self) -> None:
        _check("veto", {"bar": self.bar, "weight": self.weight}, *self.clip)
        if self.radius < 0:
            raise InputError(f"rescue: expected a veto radius >= 0, got {self.radius}")

    def reach(self, logits: npt.NDArray[np.floating], x: float, y: float) -> float:
        """The highest of ``logits`` (``float [rows, cols]``, one per :data:`meteorfast.proposals.CELL` px cell) within
        ``radius`` cells of the cell holding frame point ``(x, y)`` (clamped into the map)."""
        from meteorfast.proposals import CELL

        rows, cols = logits.shape
        r = min(max(int(y // CELL), 0), rows - 1)
        c = min(max(int(x // CELL), 0), cols - 1)
        k = self.radius
        return float(np.max(logits[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]))

    def score(self, logits: npt.NDArray[np.floating], x: float, y: float, prob: float) -> float:
        """``lp + weight * reach`` for a detection of probability ``prob`` located at frame point ``(x, y)``."""
        return detector_logit(prob, *self.clip) + self.weight * self.reach(logits, x, y)


@dataclass(frozen=True)
class Rescue:
    """A still taken back: the point on its streak ``(x, y)`` (frame px), the ``score`` that took it and the ``bar``
    it had to reach, and the dash fit's ``delta`` at the net's best cell (the meteor model's chi-squared less the
    dash's; None where nothing was walked there, or the streak was too long to fit)."""

    x: float
    y: float
    score: float
    delta: float | None
    bar: float


def rescued_probability(threshold: float, score: float, bar: float) -> float:
    """A still taken back gets a probability from ``threshold`` (at ``score == bar``) towards 1 as its ``score``
    grows: ``threshold + (1 - threshold) * (s(score) - s(bar)) / (1 - s(bar))``, with ``s`` the logistic, so the
    rescued stills rank among themselves by their score."""

    share = (logistic(score) - logistic(bar)) / (1.0 - logistic(bar))
    return float(threshold + (1.0 - threshold) * min(max(share, 0.0), 1.0))


def shipped_rescuer(threads: int | None = None) -> Rescuer:
    """The second opinion :class:`~meteorfast.detector.Detector` asks: the shipped proposal net under
    :class:`RescueRule`'s and :class:`VetoRule`'s defaults."""
    from meteorfast.data import proposal_net

    return Rescuer(proposal_net(), threads=threads)


class Rescuer:
    """The proposal net ``model`` (an exported ``.onnx``, run with ONNX Runtime on ``threads``) under ``rule`` and
    ``veto``, over one still at a time."""

    def __init__(
        self, model: str | Path, rule: RescueRule | None = None, threads: int | None = None, *,
        veto: VetoRule | None = None,
    ) -> None:  # fmt: skip
        from meteorfast.proposals import ProposalScanner

        self.rule = rule if rule is not None else RescueRule()
        self.veto = veto if veto is not None else VetoRule()
        self._scanner = ProposalScanner(model, threads=threads)

    def __call__(self, image: npt.NDArray[Any], prob: float) -> Rescue | None:
        """The still ``image`` (uint8 or uint16, ``[H, W]`` or ``[H, W, 3|4]``), to which the detector gave ``prob``
        and turned down, taken back, or None."""
        from meteorfast.analysis.dash import fit_at
        from meteorfast.analysis.streak import brightest_on_streak, refine_points
        from meteorfast.proposals import CELL

        rule = self.rule
        grey = grey_uint8(image)
        proposals = self._scanner.scan(grey, rule.cells, rule.apart)
        cells = [(logit, pt) for (_, _, logit), pt in zip(proposals.cells, proposals.points, strict=True)
                 if logit >= rule.floor]  # fmt: skip
        if not cells:
            return None  # a cell is needed for the point
        base = rule.base(cells[0][0], prob)
        if base + rule.fit_bonus < rule.bar:
            return None  # no fit could lift the score to the bar

        def fitted(cx: float, cy: float) -> tuple[float, float, float | None]:
            rx, ry = refine_points([grey], [cx], [cy], [float(CELL), float(CELL)])
            x, y = float(rx[0]), float(ry[0])
            fit = fit_at(grey, x, y)
            return x, y, None if fit is None else fit.delta

        x, y, delta = fitted(*cells[0][1])
        passes = delta is not None and delta <= 0
        # The best cell's fit decides where the point goes; another cell's passing fit lifts the score as well.
        for _, (cx, cy) in cells[1:]:
            if passes or base >= rule.bar:
                break
            other = fitted(cx, cy)[2]
            passes = other is not None and other <= 0
        score = base + (rule.fit_bonus if passes else 0.0)
        if score < rule.bar:
            return None
        if delta is not None and delta <= 0:  # a streak the fit walked: its point moves to its brightest stretch
            ox, oy = brightest_on_streak([image], np.array([x], np.float32), np.array([y], np.float32))
            x, y = float(ox[0]), float(oy[0])
        return Rescue(x, y, score, delta, rule.bar)

    def vetoes(self, image: npt.NDArray[Any], x: float, y: float, prob: float) -> bool:
        """Whether the detection of probability ``prob`` located at frame point ``(x, y)`` of the still ``image`` is
        turned down; a point that is not finite is not judged."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return False
        logits = self._scanner.logits(grey_uint8(image))
        return self.veto.score(logits, x, y, prob) < self.veto.bar

    def close(self) -> None:
        """Release the net's session."""
        self._scanner.close()


class ProposalOpinion(StillsJudge):
    """Asks the shipped proposal net about each judged still: a detection it vetoes is turned down to
    :func:`vetoed_probability`; a still turned down that it takes back is raised to its :func:`rescued_probability`,
    its point moved to the streak it found. The net opens on the first still it is asked about."""

    name = "proposal"
    option = "rescue"

    def __init__(self, setting: bool | Literal["auto"], threshold: float, threads: int | None = None) -> None:
        super().__init__(setting, threshold)
        self.threads = threads
        self._rescuer: Rescuer | None = None
        self._lock = threading.Lock()

    @classmethod
    def build(cls, setup: Setup) -> Judge | None:
        setting = cls.setting(setup)
        return None if setting is None else cls(setting, setup.threshold, setup.config.threads)

    def _opened(self) -> Rescuer:
        with self._lock:
            if self._rescuer is None:
                self._rescuer = shipped_rescuer(threads=self.threads)
            return self._rescuer

    def __call__(self, view: View, verdict: Verdict) -> Verdict:
        rescuer, image, p = self._opened(), view.item.image, verdict.score
        if p >= self.threshold:
            if rescuer.vetoes(image, verdict.x, verdict.y, p):
                return verdict.decided(self.name, vetoed_probability(p, self.threshold))
            return verdict
        found = rescuer(image, p)
        if found is None:
            return verdict
        return verdict.decided(self.name, rescued_probability(self.threshold, found.score, found.bar)).moved(
            found.x, found.y
        )

    def close(self) -> None:
        with self._lock:
            if self._rescuer is not None:
                self._rescuer.close()
                self._rescuer = None


__all__ = [
    "ProposalOpinion", "Rescue", "RescueRule", "Rescuer", "VetoRule", "detector_logit", "rescued_probability",
    "shipped_rescuer", "vetoed_probability",
]  # fmt: skip
