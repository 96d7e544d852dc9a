"""benchmarks/confounder_rates.py, run as a program: its split of a kind's stills into those the detector accepts
(less those the proposal net's veto turns down) and those the rescue takes back is the shipped Detector's own
decision with the rescue on, and its counts and intervals follow from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

# The first stills of this kind and seed hold both stills the detector accepts and one only the rescue takes back
# (found by running the script on them), so the test walks both of the script's paths.
KIND, SEED, N = "faint_meteor", 7300, 4


@pytest.fixture(scope="module")
def row(run_benchmark: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    from meteorfast.synth import METEOR_KINDS, NEGATIVE_KINDS

    # The script draws the j-th meteor kind on --seed + len(NEGATIVE_KINDS) + j.
    base = SEED - len(NEGATIVE_KINDS) - METEOR_KINDS.index(KIND)
    report = run_benchmark("confounder_rates", "--kinds", KIND, "--per-kind", str(N), "--seed", str(base),
                           "--jobs", "1")  # fmt: skip
    assert report["seeds"] == {KIND: SEED}
    assert report["per_kind"] == N
    (got,) = report["kinds"]
    assert (got["kind"], got["seed"], got["n"]) == (KIND, SEED, N)
    return got  # type: ignore[no-any-return]


def test_the_split_is_the_detectors_own_decision_with_the_rescue(row: dict[str, Any]) -> None:
    from meteorfast.detector import Detector
    from meteorfast.synth import sample

    frames = list(sample(N, SEED, kinds=(KIND,)))
    with Detector("default", search="all") as det:  # the rescue as shipped: on for stills
        res = det.classify([f.image for f in frames], stills=True)
        assert row["threshold"] == pytest.approx(det.threshold)
    accepted, vetoed, rescued = list(row["accepted"]), list(row["vetoed"]), list(row["rescued"])
    assert accepted, "none of the chosen stills is accepted any more; choose others"
    assert rescued, "none of the chosen stills is rescued any more; choose others"
    assert set(vetoed) <= set(accepted)
    assert not set(accepted) & set(rescued)
    kept = sorted(set(accepted) - set(vetoed))
    assert sorted(kept + rescued) == np.flatnonzero(res.is_meteor).tolist()


def test_the_counts_and_intervals_follow_from_the_split(row: dict[str, Any]) -> None:
    from meteorfast.evaluate import wilson_interval

    accepted, vetoed, rescued = list(row["accepted"]), list(row["vetoed"]), list(row["rescued"])
    final = len(accepted) - len(vetoed) + len(rescued)
    assert row["fp_without_rescue"] == len(accepted)
    assert row["fp"] == final
    assert row["fpr"] == pytest.approx(final / N)
    assert row["fpr_without_rescue"] == pytest.approx(len(accepted) / N)
    assert row["ci95"] == pytest.approx(list(wilson_interval(final, N)))
    assert row["ci95_without_rescue"] == pytest.approx(list(wilson_interval(len(accepted), N)))
