"""Taking back a still the detector turns down, where the proposal net and the light along a streak agree.

The first look sees a 720p still shrunk 3.3 times, and with the verifier it was taught to turn down short dashes,
a satellite's flare being the commonest false alarm in a still; it turns down some short or faint meteors with them,
clear ones among them (``benchmarks/RESULTS.md``, "A light-curve rescue at the proposal net's cells"). Two things
see such a still at native resolution: the proposal net (:mod:`meteorfast.propose`), which marks where a meteor may
lie, and the dash fit (:mod:`meteorfast.cam.dash`), which asks whether the light along a streak there rises and fades
as a meteor's does or holds even as a satellite's dash. Neither alone is enough: the net's best cells also land on
satellites, shaken stars, fog and trailed stars, and many things fit a light curve.

:class:`Rescuer` scans a still with the net, takes its :attr:`RescueRule.cells` best cells (at least
:attr:`RescueRule.apart` cells apart), and at each whose logit is at least :attr:`RescueRule.min_logit` moves the
point onto a line (:func:`meteorfast.cam.refine.refine_points`, within one cell) and fits both models there. The
still is taken back at the first cell where a streak of at most :data:`meteorfast.cam.dash.MAX_FIT_PX` is walked
and the meteor model fits it at least :attr:`RescueRule.tau` better than the dash. The rule's defaults were chosen
on simulated stills behind the shipped detector and read on other seeds (``benchmarks/RESULTS.md``).

This is for stills only, as the dash fit is: in a 25 fps video frame a meteor's 40 ms is itself an even dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError


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
class Rescue:
    """A still taken back: the point on its streak ``(x, y)`` (frame px), the cell's ``logit`` and the fit's
    ``delta`` (the meteor model's chi-squared less the dash's)."""

    x: float
    y: float
    logit: float
    delta: float


def rescued_probability(threshold: float, logit: float, min_logit: float) -> float:
    """A still taken back gets a probability from ``threshold`` (at ``logit == min_logit``) towards 1 as the net's
    ``logit`` grows: ``threshold + (1 - threshold) * (s(logit) - s(min_logit)) / (1 - s(min_logit))``, with ``s``
    the logistic, so the rescued stills rank among themselves by the net's confidence."""

    def s(z: float) -> float:  # the logistic, without overflow at either end
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    share = (s(logit) - s(min_logit)) / (1.0 - s(min_logit))
    return float(threshold + (1.0 - threshold) * min(max(share, 0.0), 1.0))


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
    """The proposal net ``model`` (an exported ``.onnx``, run with ONNX Runtime on ``threads``) and ``rule``, over
    one still at a time."""

    def __init__(self, model: str | Path, rule: RescueRule | None = None, threads: int | None = None) -> None:
        from meteorfast.propose import ProposalScanner

        self.rule = rule if rule is not None else RescueRule()
        self._scanner = ProposalScanner(model, threads=threads)

    def __call__(self, image: npt.NDArray[Any]) -> Rescue | None:
        """The still ``image`` (uint8 or uint16, ``[H, W]`` or ``[H, W, 3|4]``) taken back, or None."""
        from meteorfast.cam.dash import fit_at
        from meteorfast.cam.refine import refine_points
        from meteorfast.propose import CELL

        grey = grey_uint8(image)
        rule = self.rule
        found = self._scanner.scan(grey, rule.cells, rule.apart)
        for (_, _, logit), (cx, cy) in zip(found.cells, found.points, strict=True):
            if logit < rule.min_logit:
                break  # best first: no later cell reaches it
            rx, ry = refine_points([grey], [cx], [cy], [float(CELL), float(CELL)])
            x, y = float(rx[0]), float(ry[0])
            fit = fit_at(grey, x, y)
            delta = None if fit is None else fit.delta
            if rule.takes(logit, delta) and delta is not None:
                return Rescue(x, y, logit, delta)
        return None

    def close(self) -> None:
        """Release the net's session."""
        self._scanner.close()


__all__ = ["Rescue", "RescueRule", "Rescuer", "grey_uint8", "rescued_probability"]
