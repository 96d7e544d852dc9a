"""The stages that decide after the first look, one protocol (:class:`~meteorfast.judges.base.Judge`) and one
declared order (:data:`CHAIN`).

In order: the point moves to the streak (``refine``); the second look judges the items the first look is unsure of
(``second_look``); a detection's point walks along its streak (``walk``); then, for stills, the satellite veto
(``satellite_veto``), the star veto (``star_veto``, off by default) and the proposal net's second opinion
(``proposal``). Adding a stage is one module with a :class:`~meteorfast.judges.base.Judge` and one entry in the list
given to the detector (``DetectorConfig.judges``, :data:`CHAIN` by default).
"""

from __future__ import annotations

from meteorfast.judges.base import BatchJudge, Chain, Judge, Setup, StillsJudge, Verdict, Verifier, View
from meteorfast.judges.proposal import ProposalOpinion
from meteorfast.judges.refine import Refine
from meteorfast.judges.satellite import SatelliteVeto
from meteorfast.judges.second_look import SecondLook
from meteorfast.judges.stars import StarVeto
from meteorfast.judges.walk import Walk

#: The stages in the order they judge: each reads the point and the score the ones before it left.
CHAIN: tuple[type[Judge], ...] = (Refine, SecondLook, Walk, SatelliteVeto, StarVeto, ProposalOpinion)

__all__ = [
    "CHAIN", "BatchJudge", "Chain", "Judge", "ProposalOpinion", "Refine", "SatelliteVeto", "SecondLook", "Setup",
    "StarVeto", "StillsJudge", "Verdict", "Verifier", "View", "Walk",
]  # fmt: skip
