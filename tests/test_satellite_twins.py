"""benchmarks/satellite_twins.py: the satellites it records are eval's; its twin search finds a meteor's own profile
when it is given one, while a flat dash with abrupt ends stays well apart from every meteor; and the turned-round
search finds a satellite's own profile, while a meteor's rise and fall stays apart from every satellite."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

Load = Callable[[str], ModuleType]  # the benchmark_script fixture


@pytest.fixture(scope="module")
def script(benchmark_script: Load) -> ModuleType:
    return benchmark_script("satellite_twins")


@pytest.fixture(scope="module")
def stills(script: ModuleType) -> tuple[list[int], list[np.ndarray], list[Any]]:
    """The satellite stills of eval's first 60 items of seed 4242: indices, images and views (rendered once)."""
    return script.satellite_stills(60, 4242)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def line(script: ModuleType, stills: tuple[Any, ...]) -> Any:
    """The line of the longest of those dashes: a real still's line, its noise and scenery."""
    return script.line_of(max(stills[2], key=lambda v: v.length))


def test_the_stills_recorded_are_evals_satellites(script: ModuleType, stills: tuple[Any, ...]) -> None:
    from meteorfast.evaluate import synthetic_items

    index, images, views = stills
    items = synthetic_items(60, 4242)
    assert index == [i for i, it in enumerate(items) if it.kind == "satellite"]
    assert index
    for i, image, view in zip(index, images, views, strict=True):
        assert np.array_equal(image, items[i].image)
        # The profile model stands for the drawn dash: their matched-filter SNRs agree within a quarter (the drawn
        # line's anti-aliasing varies with its angle; 0.88-1.22 over this seed's first 27 satellites).
        line = script.line_of(view)
        model = np.sqrt((script.satellite_profile(line, view.level, view.flare) ** 2 * line.weight).sum())
        assert abs(model / script.signal_snr(view) - 1) < 0.25


@pytest.mark.slow
def test_a_meteor_is_its_own_twin_and_a_flat_dash_is_not(script: ModuleType, line: Any) -> None:
    truth = np.array([[2.5, 40.0, 1.2, 0.6, 1.5, 0.04, 0.5, 0.0, 0.03, -1.0]])
    meteor = 60 * script.meteor_profiles(line, truth)[0]
    snr = np.sqrt((meteor**2 * line.weight).sum())
    twin = script.fit_twin(line, meteor, np.random.default_rng(1))
    assert snr > 30
    assert twin["dprime"] < 0.02 * snr  # the search reaches the meteor itself, or very near it
    assert abs(twin["length"] - 40) < 2
    assert abs(twin["peak"] - 60) < 3
    # The same line's satellite, a flat dash with the shutter's abrupt ends as bright as that meteor: no light
    # curve in the prior makes it, so its twin stays far off.
    flat = script.satellite_profile(line, 120.0, None)
    far = script.fit_twin(line, flat, np.random.default_rng(1))
    assert far["dprime"] > 5
    assert far["dprime"] > 20 * twin["dprime"]


@pytest.mark.slow
def test_a_satellite_is_its_own_closest_satellite_and_a_domed_meteor_is_not(script: ModuleType, line: Any) -> None:
    own = script.satellite_profile(line, 100.0, (0.4, 3.0))
    assert script.fit_satellite(line, own, np.random.default_rng(2)) < 0.02 * np.sqrt((own**2 * line.weight).sum())
    # A meteor as bright, its light rising and falling over 40 px: no flat dash with abrupt ends makes it.
    dome = 60 * script.meteor_profiles(line, np.array([[2.5, 40.0, 1.5, 0.6, 0.0, 0.03, 0.5, 0.0, 0.03, 1.0]]))[0]
    assert script.fit_satellite(line, dome, np.random.default_rng(2)) > 5
