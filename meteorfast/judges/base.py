"""One protocol for every stage that decides after the first look, and the chain that runs them in order.

The first look gives each item a :class:`Verdict`: the model's probability, the score that decides (the same, at
first) and the located point. Each :class:`Judge` then reads the item's :class:`View` (its frame, and the first
look's maps) and returns a new verdict: it may move the point, replace the model's probability (a second model
looked) or set the score alone (a rule turned a detection down, or took a still back). A verdict is immutable, so a
stage can only hand on what it decided, and ``decided_by`` names the last stage that set the score.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

import numpy as np
import numpy.typing as npt

from meteorfast.results import FIRST_LOOK, Item, StageTimes

if TYPE_CHECKING:
    from meteorfast.backends.base import Backend
    from meteorfast.preprocess import Preprocessor
    from meteorfast.verify import VerifySpec


def _f32(value: float) -> float:
    # Results are reported as float32 arrays; each stage keeps its values as such, so the next stage reads exactly
    # what will be reported.
    return float(np.float32(value))


@dataclass(frozen=True)
class Verdict:
    """An item's decision so far: ``prob``, the model's meteor probability; ``score``, what decides (``score >=
    threshold`` is a meteor); the located point ``x, y`` (frame pixels); ``decided_by``, the stage that set the score
    last."""

    prob: float
    score: float
    x: float
    y: float
    decided_by: str = FIRST_LOOK

    def moved(self, x: float, y: float) -> Verdict:
        """This verdict with the point at ``(x, y)``."""
        return replace(self, x=_f32(x), y=_f32(y))

    def decided(self, by: str, score: float, *, prob: float | None = None) -> Verdict:
        """This verdict with ``score`` set by the stage ``by`` (and the model's ``prob`` too, where a model looked)."""
        return replace(self, score=_f32(score), prob=self.prob if prob is None else _f32(prob), decided_by=by)


@dataclass(frozen=True)
class View:
    """What a judge may read of one item: the ``item`` (its native-resolution ``image``, whether it is a ``still``),
    and its best tile's first look: ``cam`` (float32 ``[h,w]``), ``fine`` (the first-layer map, float32 ``[H1,W1]``),
    ``geometry`` (float32 ``[4]``, the map from model-input to frame pixels) and ``cell`` (float32 ``[2]``, one
    first-layer cell in frame pixels, ``(cw, ch)``)."""

    item: Item
    cam: npt.NDArray[np.float32] = field(repr=False)
    fine: npt.NDArray[np.float32] = field(repr=False)
    geometry: npt.NDArray[np.float32] = field(repr=False)
    cell: npt.NDArray[np.float32] = field(repr=False)


@dataclass(frozen=True)
class Verifier:
    """An opened second-look model: its backend, its :class:`~meteorfast.verify.VerifySpec` and its input's
    preprocessor."""

    backend: Backend
    spec: VerifySpec
    prep: Preprocessor


class Options(Protocol):
    """The detector options the stages read (:class:`~meteorfast.detector_config.DetectorConfig` has them all)."""

    @property
    def mode(self) -> str: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def threads(self) -> int | None: ...
    @property
    def refine(self) -> bool: ...
    @property
    def candidates(self) -> int: ...
    @property
    def search(self) -> str: ...
    @property
    def satellite_veto(self) -> bool | Literal["auto"]: ...
    @property
    def star_veto(self) -> bool | Literal["auto"]: ...
    @property
    def rescue(self) -> bool | Literal["auto"]: ...


@dataclass(frozen=True)
class Setup:
    """What the stages are built from once the model is open: the detector's options (``config``), its
    ``threshold``, the model's ``input_size`` ``(H, W)`` and the opened ``verifier`` (None without one)."""

    config: Options
    threshold: float
    input_size: tuple[int, int]
    verifier: Verifier | None = None


class Judge(ABC):
    """A stage after the first look. ``name`` names it in :class:`~meteorfast.results.StageTimes` and in
    ``decided_by``; :meth:`build` makes it for a detector (None where the detector's settings leave it off);
    :meth:`applies` says which items it judges; calling it judges one. :meth:`judge_all` judges several at once, which
    a stage that runs a model overrides to batch them."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def build(cls, setup: Setup) -> Judge | None:
        """This stage for the detector ``setup`` describes, or None where it is off."""

    def applies(self, item: Item) -> bool:
        """Whether this stage judges ``item`` (default: every item)."""
        return True

    @abstractmethod
    def __call__(self, view: View, verdict: Verdict) -> Verdict:
        """The verdict on ``view``'s item after this stage, given the one before it."""

    def judge_all(self, views: Sequence[View], verdicts: Sequence[Verdict]) -> list[Verdict]:
        """:meth:`__call__` on each of ``views`` with its verdict."""
        return [self(v, d) for v, d in zip(views, verdicts, strict=True)]

    def close(self) -> None:  # noqa: B027 - most stages open nothing
        """Release what the stage opened (default: nothing)."""


class BatchJudge(Judge):
    """A stage that judges a batch at once (it runs a model, or a vectorised search): it implements
    :meth:`judge_all`, and judging one item is judging a batch of one."""

    def __call__(self, view: View, verdict: Verdict) -> Verdict:
        return self.judge_all([view], [verdict])[0]

    @abstractmethod
    def judge_all(self, views: Sequence[View], verdicts: Sequence[Verdict]) -> list[Verdict]:
        """The verdicts on ``views``' items after this stage, given the ones before it."""


class StillsJudge(Judge):
    """A stage for stills (long exposures) in ``frame`` mode, set by the detector option named ``option``: True
    (every frame), ``"auto"`` (the items known to be stills) or False (off). It judges against ``threshold``."""

    option: ClassVar[str]

    def __init__(self, setting: bool | Literal["auto"], threshold: float) -> None:
        self.every_frame = setting is True
        self.threshold = threshold

    @classmethod
    def setting(cls, setup: Setup) -> bool | Literal["auto"] | None:
        """The option's setting where the stage runs; None where it does not: never in stack mode, whose windows
        are no stills, nor when the option is False."""
        value: bool | Literal["auto"] = getattr(setup.config, cls.option)
        return value if setup.config.mode == "frame" and value is not False else None

    @classmethod
    def build(cls, setup: Setup) -> Judge | None:
        setting = cls.setting(setup)
        return None if setting is None else cls(setting, setup.threshold)

    def applies(self, item: Item) -> bool:
        return self.every_frame or item.still


class Chain:
    """``judges`` in their order over a batch: each sees the items it applies to, and is timed by its name in
    ``times``, counting those items."""

    def __init__(self, judges: Sequence[Judge], times: StageTimes) -> None:
        self.judges = list(judges)
        self.times = times

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.judges]

    def __call__(self, views: Sequence[View], verdicts: Sequence[Verdict]) -> list[Verdict]:
        out = list(verdicts)
        for judge in self.judges:
            chosen = [i for i, v in enumerate(views) if judge.applies(v.item)]
            if not chosen:
                continue
            began = time.perf_counter()
            judged = judge.judge_all([views[i] for i in chosen], [out[i] for i in chosen])
            for i, verdict in zip(chosen, judged, strict=True):
                out[i] = verdict
            self.times.add(judge.name, time.perf_counter() - began, len(chosen))
        return out

    def close(self) -> None:
        for judge in self.judges:
            judge.close()


__all__ = ["BatchJudge", "Chain", "Judge", "Options", "Setup", "StillsJudge", "Verdict", "Verifier", "View"]
