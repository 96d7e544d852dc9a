"""The simulator: determinism, labels, and the geometry of the ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from meteorfast.errors import InputError
from meteorfast.synth import CONFOUNDERS, KINDS, SimConfig, render_clip, render_frame, sample

SMALL = SimConfig(size=(180, 320))


def test_same_seed_same_pixels_other_seed_other_pixels() -> None:
    for kind in KINDS:
        a = render_frame(7, kind, SMALL)
        b = render_frame(7, kind, SMALL)
        np.testing.assert_array_equal(a.image, b.image)
        assert a.truth == b.truth
    assert not np.array_equal(render_frame(7, "meteor", SMALL).image, render_frame(8, "meteor", SMALL).image)
    c1, c2 = render_clip(3, 6, "aircraft", SMALL), render_clip(3, 6, "aircraft", SMALL)
    np.testing.assert_array_equal(c1.frames, c2.frames)


@pytest.mark.parametrize("kind", KINDS)
def test_labels(kind: str) -> None:
    f = render_frame(11, kind, SMALL)
    assert f.image.shape == (180, 320)
    assert f.image.dtype == np.uint8
    assert f.truth.kind == kind
    if kind in ("meteor", "fireball", "faint_meteor"):
        assert f.truth.label == 1
        assert f.truth.confounder is None
        assert f.truth.segments[0] is not None
    else:
        assert f.truth.label == 0
        assert f.truth.segments == (None,)
        assert f.truth.confounder == (None if kind == "clean" else kind)
    assert set(CONFOUNDERS) < set(KINDS)


def brightness_along(img: np.ndarray, seg: tuple[float, float, float, float], offset: float) -> float:
    """Median over the segment's middle half of the brightest pixel within 2 px across it, ``offset`` px aside."""
    x0, y0, x1, y1 = seg
    length = max(np.hypot(x1 - x0, y1 - y0), 1e-6)
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    t = np.linspace(0.25, 0.75, 40)[:, None]
    across = np.arange(-2, 3)[None, :] + offset
    xs = np.clip(np.floor(x0 + t * (x1 - x0) + across * nx).astype(int), 0, img.shape[1] - 1)
    ys = np.clip(np.floor(y0 + t * (y1 - y0) + across * ny).astype(int), 0, img.shape[0] - 1)
    return float(np.median(img[ys, xs].astype(np.float64).max(axis=1)))


@pytest.mark.parametrize("exposure", [5.0, 1 / 25], ids=["still", "video-frame"])
def test_meteor_segments_lie_on_the_streak(exposure: float) -> None:
    cfg = SimConfig(size=(360, 640), compress=False, still_exposure=exposure)
    for seed in range(12):
        f = render_frame(seed, "meteor", cfg)
        seg = f.truth.segments[0]
        assert seg is not None
        for v in seg[0::2]:
            assert 0 <= v < 640
        for v in seg[1::2]:
            assert 0 <= v < 360
        on = brightness_along(f.image, seg, 0)
        off = max(brightness_along(f.image, seg, 12), brightness_along(f.image, seg, -12))
        assert on > off + 5, (seed, on, off)


def test_clip_segments_follow_the_motion() -> None:
    cfg = SimConfig(size=(360, 640))
    clip = render_clip(5, 25, "meteor", cfg)
    assert clip.frames.shape == (25, 360, 640)
    segs = [s for s in clip.truth.segments if s is not None]
    assert len(segs) >= 3
    ends = np.array([(s[2], s[3]) for s in segs])
    starts = np.array([(s[0], s[1]) for s in segs])
    # Each frame's streak starts about where the previous one ended (the gap is the shutter's dead time).
    gaps = np.hypot(*(starts[1:] - ends[:-1]).T)
    steps = np.hypot(*(ends - starts).T)
    assert np.all(gaps <= steps[:-1] + 3)
    direction = ends[-1] - starts[0]
    along = [np.dot(e - s, direction) for s, e in zip(starts, ends, strict=True)]
    assert min(along) >= 0  # the first and last may be dots, where the light curve rises and fades
    assert np.median(along) > 0


def test_sixteen_bit_and_allsky() -> None:
    f = render_frame(1, "meteor", SimConfig(size=(200, 200), bits=16, geometry="allsky"))
    assert f.image.dtype == np.uint16
    assert f.image.max() > 255
    corner = f.image[:15, :15].astype(np.float64)
    centre = f.image[90:110, 90:110].astype(np.float64)
    assert corner.mean() < centre.mean()


def test_sample_mixes_kinds_deterministically() -> None:
    items = list(sample(40, 9, meteor_fraction=0.5, config=SMALL))
    again = list(sample(40, 9, meteor_fraction=0.5, config=SMALL))
    assert [i.truth for i in items] == [i.truth for i in again]
    positives = sum(i.truth.label for i in items)
    assert 10 <= positives <= 30
    only = list(sample(5, 1, config=SMALL, kinds=("satellite",)))
    assert {i.truth.kind for i in only} == {"satellite"}


def test_bad_configs() -> None:
    with pytest.raises(InputError, match="geometry 'wide' or 'allsky'"):
        SimConfig(geometry="fisheye")
    with pytest.raises(InputError, match="bits 8 or 16"):
        SimConfig(bits=12)
    with pytest.raises(InputError, match="kind one of"):
        render_frame(0, "ufo", SMALL)
    with pytest.raises(InputError, match=r"trailed_stars in \[0, 1\]"):
        SimConfig(trailed_stars=1.5)
    for bad in ((0.0, 50.0), (80.0, 40.0), (10.0, float("inf"))):
        with pytest.raises(InputError, match="meteor_length None or"):
            SimConfig(meteor_length=bad)


def test_a_meteor_length_range_sets_the_streaks_length_and_leaves_other_items_alone() -> None:
    """Whole meteors in stills (none hidden or cut by the frame edge here: their truth is the full chord) are as
    long as the range says, scaled to the frame's height; negatives and the usual draws keep their pixels."""
    cfg = SimConfig(size=(360, 640))
    short = SimConfig(size=(360, 640), meteor_length=(25.0, 120.0))
    lengths = []
    for seed in range(40):
        usual, drawn = render_frame(seed, "meteor", cfg), render_frame(seed, "meteor", short)
        x0, y0, x1, y1 = drawn.truth.segments[0]
        lengths.append(float(np.hypot(x1 - x0, y1 - y0)))
        assert not np.array_equal(usual.image, drawn.image)
    # 25-120 px at 720 px high is 12.5-60 px at 360 (a uniform draw: median 36). The truth is the part lit above 5 %
    # of the peak, 60-100 % of the length as the light curve's shape goes, and less where the scenery hides some.
    assert max(lengths) <= 60.5
    assert 18 < np.median(lengths) < 36
    assert np.percentile(lengths, 90) > 35
    usual_lengths = [float(np.hypot(s[2] - s[0], s[3] - s[1]))
                     for s in (render_frame(seed, "meteor", cfg).truth.segments[0] for seed in range(40))]  # fmt: skip
    assert np.median(usual_lengths) > 2 * np.median(lengths)
    for kind in ("satellite", "clean", "aircraft"):
        np.testing.assert_array_equal(render_frame(3, kind, cfg).image, render_frame(3, kind, short).image)


def test_video_frames_catch_the_meteor_in_flight() -> None:
    """A one-exposure frame holds a short piece of the streak, inside the frame; a still holds the whole meteor."""
    cfg = SimConfig(size=(360, 640))
    video = list(sample(30, 4, meteor_fraction=1.0, video_fraction=1.0, config=cfg))
    still = list(sample(30, 4, meteor_fraction=1.0, video_fraction=0.0, config=cfg))
    for f in video + still:
        seg = f.truth.segments[0]
        assert seg is not None
        assert all(0 <= v < 640 for v in seg[0::2])
        assert all(0 <= v < 360 for v in seg[1::2])

    def lengths(items: list) -> np.ndarray:
        return np.array([np.hypot(s[2] - s[0], s[3] - s[1]) for s in (f.truth.segments[0] for f in items)])

    assert np.median(lengths(video)) * 5 < np.median(lengths(still))
    assert lengths(video).max() < 800 * 0.5 / 25 + 3  # the fastest meteor's path in one 1/25 s exposure
    with pytest.raises(InputError, match="video_fraction"):
        list(sample(1, 0, video_fraction=1.5))


def test_video_codec_freezes_static_blocks_between_i_frames_and_refreshes_moving_ones() -> None:
    from meteorfast.synth.render import BLOCK, _video_codec

    rng = np.random.default_rng(0)
    base = rng.normal(40, 5, (64, 96))
    frames = np.stack([base + rng.normal(0, 0.5, base.shape) for _ in range(30)]).clip(0, 255).astype(np.uint8)
    for i in range(30):  # a bright 6 px square moving 3 px per frame along row 20
        frames[i, 20:26, 3 * i : 3 * i + 6] = 250
    out = _video_codec(frames, np.random.default_rng(7))
    i_frames = [i for i in range(30) if np.array_equal(out[i], frames[i])]
    assert i_frames[0] == 0
    assert len(i_frames) >= 1
    gop_end = i_frames[1] if len(i_frames) > 1 else 30
    for i in range(1, gop_end):
        # The sky far from the square is frozen at the I-frame (its noise is below the skip threshold) ...
        np.testing.assert_array_equal(out[i, 40:], out[0, 40:])
        # ... while the square's pixels are sent again: they are where the square is now.
        assert (out[i, 20:26, 3 * i : 3 * i + 6] == 250).all()
    changed = np.argwhere(out[1] != out[0])
    assert (changed[:, 0] // BLOCK == 20 // BLOCK).all()  # only the square's row of blocks changed


def test_lead_frames_come_before_the_event() -> None:
    small = SimConfig(size=(90, 160))
    for seed in range(8):
        clip = render_clip(seed, 50, "meteor", small, lead=25)
        seen = [s is not None for s in clip.truth.segments]
        assert any(seen[25:]), seed  # the meteor is in the window that follows the lead
        if any(seen[:25]):  # only a meteor longer than the window is caught in mid-flight, crossing into it
            assert seen[25], seed
    flash = render_clip(3, 50, "lightning", small, lead=25).frames.astype(float).mean(axis=(1, 2))
    assert flash[25:].max() > flash[:25].max() + 5
    with pytest.raises(InputError, match="lead"):
        render_clip(0, 10, "meteor", small, lead=10)


def test_flicker_stack_keeps_the_windows_truth() -> None:
    from meteorfast.synth import render_stack

    small = SimConfig(size=(90, 160))
    plain = render_stack(5, 25, "meteor", small)
    suppressed = render_stack(5, 25, "meteor", small, flicker=4.0)
    assert len(suppressed.truth.segments) == len(plain.truth.segments) == 25
    assert suppressed.image.shape == plain.image.shape == (90, 160)
    assert any(s is not None for s in suppressed.truth.segments)


def test_meteors_show_and_their_truth_lies_on_sky_not_behind_the_scenery() -> None:
    """A meteor item's segment runs over sky the camera sees: its ends are not behind a silhouette, a lit
    structure or the all-sky lens's edge, and most of it is in the open. A placement hiding the meteor is drawn
    again, so some of these seeds move their meteor (seed 1007, wide, is one: its first track ran behind a roof)."""
    from meteorfast.synth.render import MIN_SHOWN, _Scene, _stable_rng

    partly_hidden = 0
    for geometry in ("wide", "allsky"):
        cfg = SimConfig(size=(180, 320), geometry=geometry, still_exposure=5.0)
        for seed in range(1000, 1060):
            kind = ("meteor", "faint_meteor", "fireball")[seed % 3]
            seg = render_frame(seed, kind, cfg).truth.segments[0]
            assert seg is not None
            scene = _Scene(_stable_rng(seed, 0), cfg, kind)  # the scene render_frame drew first, before its events
            if scene.hidden is None and scene.mask is None:
                continue
            t = np.linspace(0, 1, 64)[:, None]
            pts = np.array(seg[:2]) + t * (np.array(seg[2:]) - np.array(seg[:2])) - 0.5  # frame -> drawing coords
            shown = scene.visibility(pts)[1]
            assert shown[0], (geometry, seed, seg)
            assert shown[-1], (geometry, seed, seg)
            assert shown.mean() >= MIN_SHOWN - 0.1, (geometry, seed, shown.mean())
            partly_hidden += int(not shown.all())
    assert partly_hidden >= 1  # the test saw meteors that the scenery partly hides


def test_station_stamps_come_plain_or_on_a_black_strip_that_hides_the_sky() -> None:
    """Half the stamps are white text on a black strip (as RMS videos and DVRs burn them in), at the bottom or the
    top; the strip is black but for the text, and the meteor's truth does not run behind it."""
    from meteorfast.synth.render import _Scene, _stable_rng

    cfg = SimConfig(size=(360, 640))
    styles = {"plain": 0, "bottom": 0, "top": 0}
    for seed in range(300, 360):
        kind = ("meteor", "clean")[seed % 2]
        scene = _Scene(_stable_rng(seed, 0), cfg, kind)
        if not scene.overlay:
            continue
        item = render_frame(seed, kind, cfg)
        img = np.asarray(item.image)
        if scene.stamp_box is None:
            styles["plain"] += 1
            continue
        x0, y0, x1, y1 = scene.stamp_box
        styles["top" if y0 < 180 else "bottom"] += 1
        strip = img[y0:y1, x0:x1]
        assert np.median(strip) <= 8, (seed, np.median(strip))  # JPEG ringing aside, black
        assert strip.max() >= 200, seed  # the text
        assert scene.hidden is not None
        assert scene.hidden[y0:y1, x0:x1].all()
        seg = item.truth.segments[0]
        if seg is not None:
            for t in np.linspace(0, 1, 32):
                x, y = seg[0] + t * (seg[2] - seg[0]), seg[1] + t * (seg[3] - seg[1])
                assert not (x0 <= x < x1 and y0 <= y < y1), (seed, seg, scene.stamp_box)
    assert min(styles.values()) >= 2, styles


def test_sample_weights_scale_a_kinds_share_and_leave_unweighted_seeds_alone() -> None:
    from collections import Counter

    from meteorfast.synth import kind_shares

    tiny = SimConfig(size=(48, 64))
    plain = [f.truth for f in sample(300, 5, config=tiny)]
    assert [f.truth for f in sample(300, 5, config=tiny, weights=None)] == plain
    weighted = Counter(f.truth.kind for f in sample(300, 5, config=tiny, weights={"satellite": 5, "faint_meteor": 3}))
    before = Counter(t.kind for t in plain)
    negatives = sum(v for k, v in weighted.items() if k not in ("meteor", "fireball", "faint_meteor"))
    # Expected satellite share among negatives: 5 / 12 = 0.42 (1 / 8 unweighted); faint among meteors 0.6 / 1.4.
    assert 0.3 < weighted["satellite"] / negatives < 0.55
    assert before["satellite"] < weighted["satellite"]
    meteors = sum(weighted[k] for k in ("meteor", "fireball", "faint_meteor"))
    assert 0.3 < weighted["faint_meteor"] / meteors < 0.6
    np.testing.assert_allclose(kind_shares(("meteor", "fireball", "faint_meteor"), {"fireball": 0}, (0.7, 0.1, 0.2)),
                               [0.7 / 0.9, 0, 0.2 / 0.9])  # fmt: skip
    with pytest.raises(InputError, match="kind weights >= 0"):
        kind_shares(("clean",), {"ufo": 2})
    with pytest.raises(InputError, match="kind weights >= 0"):
        kind_shares(("clean",), {"clean": -1})
    with pytest.raises(InputError, match="leave none"):
        kind_shares(("clean", "fog"), {"clean": 0, "fog": 0})


def test_a_trail_spreads_each_star_along_one_path_and_keeps_its_flux() -> None:
    from meteorfast.synth.render import _star_path, _trail

    for seed in range(6):
        offsets, weights = _star_path(np.random.default_rng(seed), 1.0)
        assert weights.sum() == pytest.approx(1.0)
        steps = np.hypot(*np.diff(offsets, axis=0).T)
        assert steps.max() <= 1.0  # points close enough for the PSF to join them into one trail
        assert 2 <= steps.sum() <= 40
        img = _trail(np.array([100.0, 20.0]), np.array([80.0, 30.0]), np.array([50.0, 7.0]), (offsets, weights),
                     (160, 200))  # fmt: skip
        assert img.sum() == pytest.approx(57.0, rel=1e-5)
        ys, xs = np.nonzero(img)
        pts = np.concatenate([offsets + np.array([100.0, 80.0]), offsets + np.array([20.0, 30.0])])
        nearest = np.hypot(xs[:, None] - pts[None, :, 0], ys[:, None] - pts[None, :, 1]).min(axis=1)
        assert nearest.max() < 1.5  # every lit pixel touches the path
        ends = np.round(offsets[[0, -1]] + np.array([100.0, 80.0])).astype(int)
        assert all(img[y - 1 : y + 2, x - 1 : x + 2].sum() > 0 for x, y in ends)  # and the path is lit end to end


def test_long_exposures_trail_their_stars_and_scenes_without_trails_keep_their_pixels() -> None:
    """A share of stills trail their stars; the others are pixel for pixel what they were with no trails at all, and
    the truth never changes. Video frames never trail."""
    import dataclasses

    from meteorfast.synth.render import _Scene, _stable_rng

    none, every = dataclasses.replace(SMALL, trailed_stars=0.0), dataclasses.replace(SMALL, trailed_stars=1.0)
    still = dataclasses.replace(SMALL, fps=1 / SMALL.still_exposure, exposure=SMALL.still_exposure)
    trailed = 0
    for seed in range(40):
        kind = ("meteor", "clean", "satellite")[seed % 3]
        has_trail = _Scene(_stable_rng(seed, 0), still, kind).star_path is not None
        trailed += has_trail
        default, plain, all_trailed = (render_frame(seed, kind, c) for c in (SMALL, none, every))
        assert default.truth == plain.truth == all_trailed.truth
        assert np.array_equal(default.image, plain.image) != has_trail, seed
        assert not np.array_equal(all_trailed.image, plain.image), seed
    assert 3 <= trailed <= 16  # 20 % of 40
    np.testing.assert_array_equal(render_clip(5, 3, "clean", every).frames, render_clip(5, 3, "clean", none).frames)


@pytest.mark.parametrize("kind", ["cloud", "clean"])
def test_the_sky_is_the_formula_it_is_computed_in_place_for(kind: str) -> None:
    """``background`` builds the sky in buffers it owns, for speed; its pixels are, bit for bit, those of the plain
    formula: sky + stars * twinkle, or with clouds of cover c, sky * (1 + 0.3 c) + stars * twinkle * (1 - c) +
    light * c. The scene's own layers are left as they were."""
    import copy

    import cv2

    from meteorfast.synth.render import _Scene, _stable_rng, _upsample

    checked = 0
    for seed in range(12):
        scene = _Scene(_stable_rng(seed, 0), SMALL, kind)
        if scene.scintillation <= 0 or (kind == "cloud") != (scene.clouds is not None):
            continue
        sky, stars = scene.sky.copy(), scene.stars.copy()
        t, rng = 0.4, _stable_rng(seed, 1, 0)
        ref_rng = copy.deepcopy(rng)
        got = scene.background(t, rng)
        h, w = SMALL.size
        twinkle = 1 + scene.scintillation * ref_rng.standard_normal((h // 32, w // 32), dtype=np.float32)
        lit = stars * _upsample(twinkle, SMALL.size)
        want = sky + lit
        if scene.clouds is not None:
            vx, vy = scene.cloud_velocity
            shift = np.array([[1, 0, vx * t], [0, 1, vy * t]], np.float32)
            layer = cv2.warpAffine(scene.clouds, shift, scene.clouds.shape[::-1], borderMode=cv2.BORDER_WRAP)
            cover = np.clip((layer - (1 - scene.cloud_cover)) / max(scene.cloud_cover, 1e-3), 0, 1)
            c = _upsample(np.asarray(cover, np.float32), SMALL.size)
            want = sky * (1 + 0.3 * c) + lit * (1 - c) + scene.cloud_light * c
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(scene.sky, sky)
        np.testing.assert_array_equal(scene.stars, stars)
        checked += 1
    assert checked >= 3
