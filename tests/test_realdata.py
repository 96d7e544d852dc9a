"""The kernels on real meteor data from ../shared/realdata (skipped, with the reason, when it is absent)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import meteorfast.cam as mc
from meteorfast.cam import reference as ref
from meteorfast.data import SAMPLE_VIDEO, SAMPLE_VIDEO_SHA256
from meteorfast.stream import VideoFileSource, prefetch

pytestmark = pytest.mark.realdata


def test_bundled_sample_is_the_shared_clip_with_its_licence(realdata: Path) -> None:
    shared = realdata / "meteordl" / SAMPLE_VIDEO.name
    digest = hashlib.sha256(SAMPLE_VIDEO.read_bytes()).hexdigest()
    assert digest == SAMPLE_VIDEO_SHA256 == hashlib.sha256(shared.read_bytes()).hexdigest()
    assert (SAMPLE_VIDEO.parent / "LICENSE").read_text() == (realdata / "meteordl" / "LICENSE").read_text()


def test_native_stacking_of_the_gmn_clip_matches_reference_and_shows_the_meteor(realdata: Path) -> None:
    source = VideoFileSource(realdata / "meteordl" / SAMPLE_VIDEO.name)
    assert (source.width, source.height) == (1280, 720)
    frames = np.stack([f.image for f in prefetch(source) if 60 <= f.index < 100])
    got = mc.stack(frames)
    want = ref.stack(frames)
    for field in ("max", "argmax", "mean", "std", "candidate"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    # The brightest max-mean pixel away from the timestamp band is on the meteor, lower right.
    cand = got.candidate[:690].astype(np.int32)
    y, x = np.unravel_index(np.argmax(cand), cand.shape)
    assert 1000 < x < 1150
    assert 500 < y < 660
    # The meteor moves: its pixels peak in different frames along the track.
    track = got.argmax[500:660, 1000:1150][got.candidate[500:660, 1000:1150] > 60]
    assert np.ptp(track) > 10


def test_timestamps_and_indices_are_consecutive(realdata: Path) -> None:
    frames = list(VideoFileSource(realdata / "meteordl" / SAMPLE_VIDEO.name))
    assert len(frames) == 201
    assert [f.index for f in frames] == list(range(201))
    times = np.array([f.time_s for f in frames])
    np.testing.assert_allclose(np.diff(times), 1 / 25, atol=2e-3)


def test_shipped_model_finds_the_meteorfinder_meteors_inside_their_boxes(realdata: Path) -> None:
    """The target on the 22 MeteorFinder DSLR frames (boxes inpainted first): at least 20 detected with the
    located point inside the burned-in box (8 px margin, as benchmarks/eval_real.py counts), by the shipped default
    model and its second look on native-resolution tiles."""
    from meteorfast.datasets import meteorfinder_frames
    from meteorfast.detector import Detector

    frames = meteorfinder_frames(realdata / "meteorfinder" / "MeterosOutput")
    assert len(frames) == 22
    with Detector(tile=(224, 32), batch_size=32) as det:
        res = det.classify([f.image for f in frames], stills=True)  # DSLR exposures: the satellite veto judges them
        judged = det.times.items["satellite_veto"]
    assert judged >= int(res.is_meteor.sum())  # every detection was judged, and any vetoed is no longer one
    inside = [bool(res.is_meteor[i]) and f.holds(float(res.x[i]), float(res.y[i])) for i, f in enumerate(frames)]
    assert int(res.is_meteor.sum()) >= 20
    assert sum(inside) >= 20, [f.path.name for f, ok in zip(frames, inside, strict=True) if not ok]
