"""Sub-cell refinement of a located point on the frame itself."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from meteorfast.analysis.streak import _line_support, brightest_on_streak, refine_points
from meteorfast.errors import InputError
from meteorfast.evaluate import point_to_segment


def scene(seed: int, segment: tuple[float, float, float, float], star: tuple[int, int] | None) -> np.ndarray:
    """A noisy 720p sky with a 2 px wide streak on ``segment`` (frame coordinates) and an optional bright star."""
    rng = np.random.default_rng(seed)
    img = rng.normal(30, 4, (720, 1280)).astype(np.float32)
    streak = np.zeros_like(img)
    x0, y0, x1, y1 = (round((v - 0.5) * 16) for v in segment)  # cv2 draws pixel centres at integers
    cv2.line(streak, (x0, y0), (x1, y1), 1.0, 1, cv2.LINE_AA, 4)
    img += cv2.GaussianBlur(streak, (0, 0), 1.0) * 60
    if star is not None:  # four times the streak's peak, but a point
        dot = np.zeros_like(img)
        dot[star[1], star[0]] = 1.0
        img += cv2.GaussianBlur(dot, (0, 0), 1.0) / 0.159 * 100
    return np.clip(img, 0, 255).astype(np.uint8)


def noisy_sky_with_streak(
    seed: int, shape: tuple[int, int], level: float, noise: float, p0: tuple[int, int], p1: tuple[int, int],
    contrast: float,
) -> np.ndarray:  # fmt: skip
    """Gaussian sky noise (float32 ``[H,W]``) with an antialiased 1 px streak from ``p0`` to ``p1`` (pixel centres at
    integers), blurred to sigma 1 and scaled to ``contrast``."""
    img = np.random.default_rng(seed).normal(level, noise, shape).astype(np.float32)
    streak = np.zeros_like(img)
    cv2.line(streak, p0, p1, 1.0, 1, cv2.LINE_AA)
    return img + cv2.GaussianBlur(streak, (0, 0), 1.0) * np.float32(contrast)


@pytest.mark.parametrize("seed", range(6))
def test_refined_point_lands_on_the_streak_not_the_star(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cx, cy = rng.uniform(100, 1180), rng.uniform(100, 620)
    angle = rng.uniform(0, np.pi)
    seg = (cx - 15 * np.cos(angle), cy - 15 * np.sin(angle), cx + 15 * np.cos(angle), cy + 15 * np.sin(angle))
    star = (int(cx + 9), int(cy - 6))
    frame = scene(seed, seg, star)
    cell = (1280 / 112, 720 / 112)  # a stride-2 stem at 224 px on a 720p frame
    # The coarse point: 8 px off the streak, as the first-layer map's cell leaves it.
    ux, uy = cx + 8 * np.sin(angle), cy - 8 * np.cos(angle)
    x, y = refine_points([frame], [ux], [uy], cell)
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.0


def test_colour_uint16_and_batches() -> None:
    seg = (600.5, 300.5, 640.5, 330.5)
    grey = scene(1, seg, None)
    colour = np.repeat(grey[..., None], 3, axis=2)
    deep = grey.astype(np.uint16) * 257
    cell = np.array([[11.4, 6.4]] * 3)
    x, y = refine_points([grey, colour, deep], [615.0] * 3, [322.0] * 3, cell)
    assert x.dtype == np.float32
    assert np.allclose(x, x[0])
    assert np.allclose(y, y[0])
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.0


def test_flat_window_nan_point_and_edges_keep_the_point() -> None:
    flat = np.full((100, 200), 40, np.uint8)
    x, y = refine_points([flat, flat, flat], [50.0, np.nan, -500.0], [20.0, 10.0, 10.0], (10.0, 10.0))
    assert x[0] == 50.0
    assert y[0] == 20.0
    assert np.isnan(x[1])
    assert x[2] == -500.0  # its window lies outside the frame: nothing to look at


def test_bad_arguments() -> None:
    frame = np.zeros((50, 50), np.uint8)
    with pytest.raises(InputError, match=r"x and y of shape \(1,\)"):
        refine_points([frame], [1.0, 2.0], [1.0], (4.0, 4.0))
    with pytest.raises(InputError, match="positive finite cell"):
        refine_points([frame], [1.0], [1.0], (0.0, 4.0))
    with pytest.raises(InputError, match=r"frame \[H,W\]"):
        refine_points([np.zeros((2, 50, 50, 2))], [1.0], [1.0], (4.0, 4.0))


def test_across_direction_rejects_an_edge_and_a_wide_blob() -> None:
    """A roofline (bright below, dark above) and the Moon's disc are bright along every direction at their edge; the
    half-lines across them tell them from a streak, which is dark on both sides."""
    rng = np.random.default_rng(7)
    img = rng.normal(30, 3, (240, 320)).astype(np.float32)
    img[150:, :] += 80  # a lit wall, its edge along row 150
    cv2.circle(img, (250, 60), 20, 150.0, -1)  # the Moon
    seg = (40.5, 40.5, 120.5, 90.5)
    streak = np.zeros_like(img)
    cv2.line(streak, (40, 40), (120, 90), 1.0, 1, cv2.LINE_AA)
    img += cv2.GaussianBlur(streak, (0, 0), 1.0) * 40
    frame = np.clip(img, 0, 255).astype(np.uint8)
    # Three candidates, the edge and the Moon's rim ranked above the streak by their weights.
    x = np.array([[160.0, 230.0, 80.0]])
    y = np.array([[150.0, 60.0, 65.0]])
    px, py = refine_points([frame], x, y, (20.0, 20.0), weight=[[1.0, 1.0, 0.8]])
    assert point_to_segment(float(px[0]), float(py[0]), seg) <= 1.5


def test_best_candidate_wins_and_weights_rank_it() -> None:
    seg = (600.5, 300.5, 640.5, 330.5)
    frame = scene(3, seg, (900, 500))
    cell = (11.4, 6.4)
    # The star's candidate comes first, as the first-layer map ranks a bright point above a faint streak.
    x, y = refine_points([frame], [[900.0, 620.0]], [[500.0, 315.0]], cell)
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.0
    # A weight of 0 (or NaN) leaves the streak's candidate out, so the first one is refined alone.
    x0, y0 = refine_points([frame], [[900.0, 620.0]], [[500.0, 315.0]], cell, weight=[[1.0, 0.0]])
    xn, yn = refine_points([frame], [[900.0, 620.0]], [[500.0, 315.0]], cell, weight=[[1.0, np.nan]])
    assert abs(float(x0[0]) - 900) <= 12
    assert abs(float(y0[0]) - 500) <= 7
    assert (x0[0], y0[0]) == (xn[0], yn[0])
    # One candidate per frame as a column is the same as the flat form.
    flat = refine_points([frame], [620.0], [315.0], cell)
    col = refine_points([frame], [[620.0]], [[315.0]], cell)
    assert flat[0][0] == col[0][0]
    assert flat[1][0] == col[1][0]


def test_candidate_arguments() -> None:
    frame = np.zeros((50, 50), np.uint8)
    with pytest.raises(InputError, match="weight of the candidates' shape"):
        refine_points([frame], [[1.0, 2.0]], [[1.0, 2.0]], (4.0, 4.0), weight=[1.0])
    with pytest.raises(InputError, match="even number of directions"):
        refine_points([frame], [1.0], [1.0], (4.0, 4.0), angles=5)
    with pytest.raises(InputError, match="arm >= 1"):
        refine_points([frame], [1.0], [1.0], (4.0, 4.0), arm=0)
    x, y = refine_points([frame], [[np.nan, np.nan]], [[np.nan, np.nan]], (4.0, 4.0))
    assert np.isnan(x[0])
    assert np.isnan(y[0])


def fused_peaks_reference(cam: np.ndarray, fmap: np.ndarray, k: int, floor: float) -> list[list[tuple[int, int]]]:
    """Loops over cells: (row, col) of the 3x3 local maxima at least ``floor`` x the maximum, highest first."""
    from meteorfast.cam.reference import fused_map

    fused = fused_map(cam, fmap)
    out = []
    for m in fused:
        h, w = m.shape
        cells = []
        for r in range(h):
            for c in range(w):
                hood = m[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
                if m[r, c] >= hood.max() and m[r, c] >= floor * m.max():
                    cells.append((-float(m[r, c]), r * w + c, r, c))
        out.append([(r, c) for _, _, r, c in sorted(cells)[:k]])
    return out


@pytest.mark.parametrize("seed", range(4))
def test_fused_peaks_against_loops(seed: int) -> None:
    from meteorfast.analysis.streak import fused_peaks

    rng = np.random.default_rng(seed)
    n, k = 3, 6
    cam = rng.random((n, 7, 7), dtype=np.float32)
    fmap = cv2.GaussianBlur(rng.random((56, 56 * n), dtype=np.float32), (0, 0), 1.5).reshape(56, n, 56)
    fmap = np.ascontiguousarray(fmap.transpose(1, 0, 2))
    if seed == 3:
        fmap[1] = 0.5  # a flat map: every cell is a maximum, the first k in row-major order win
    geo = np.array([[5.7, 3.2, 10.0, 20.0]] * n, np.float32)
    x, y, value = fused_peaks(cam, fmap, geo, (224, 224), k=k, floor=0.2)
    want = fused_peaks_reference(cam, fmap, k, 0.2)
    for i in range(n):
        got = [(round((float(yy) - 20) / 3.2 / 4 - 0.5), round((float(xx) - 10) / 5.7 / 4 - 0.5))
               for xx, yy in zip(x[i], y[i], strict=True) if np.isfinite(xx)]  # fmt: skip
        assert got == want[i]
        assert np.all(np.diff(value[i][: len(got)]) <= 0)
        assert np.all(value[i][len(got) :] == 0)


def test_detector_search_finds_the_streak_not_the_star(spot_model) -> None:  # type: ignore[no-untyped-def]
    """End to end on a faint streak next to a bright, wide star that the first-layer map ranks first: the search
    lands on the streak; without it (``candidates=1``, or an item under the threshold with ``search="detections"``)
    the point stays by the star."""
    from meteorfast.detector import Detector

    seg = (600.5, 300.5, 700.5, 360.5)
    img = scene(5, seg, None).astype(np.float32)
    dot = np.zeros_like(img)
    dot[390, 560] = 1.0
    blob = cv2.GaussianBlur(dot, (0, 0), 3.0)
    frame = np.clip(img + blob / blob.max() * 200, 0, 255).astype(np.uint8)

    def error(**kw: object) -> float:
        with Detector(spot_model, **kw) as det:  # type: ignore[arg-type]
            res = det.classify(frame[None])
        return point_to_segment(float(res.x[0]), float(res.y[0]), seg)

    assert error(search="all") <= 1.5
    assert error(threshold=0.5) <= 1.5  # the spot model's probability is 0.63: a detection, searched
    assert error(candidates=1) > 50
    assert error(threshold=0.9) > 50  # not a detection: only the located point is refined
    # Tiles: the candidates come from the best tile, in frame pixels through its geometry (scale 2, an offset).
    alone = scene(5, seg, None)
    with Detector(spot_model, search="all", tile=(448, 64)) as det:
        res = det.classify(alone[None])
    assert point_to_segment(float(res.x[0]), float(res.y[0]), seg) <= 1.5
    with pytest.raises(InputError, match="candidates >= 1"):
        Detector(spot_model, candidates=0)
    with pytest.raises(InputError, match="search 'detections' or 'all'"):
        Detector(spot_model, search="some")  # type: ignore[arg-type]


def test_a_window_without_a_line_keeps_the_point() -> None:
    """A disc (a point-like object) in sky noise holds no line: the point stays where the maps put it, instead of
    moving to the best noise pixel; a higher ``min_snr`` refuses a real but faint streak in the same way."""
    rng = np.random.default_rng(11)
    img = rng.normal(40, 3, (200, 300)).astype(np.float32)
    cv2.circle(img, (100, 100), 3, 200.0, -1)
    frame = np.clip(img, 0, 255).astype(np.uint8)
    x, y = refine_points([frame], [101.0], [99.0], (8.0, 8.0))
    assert (x[0], y[0]) == (101.0, 99.0)
    seg = (200.5, 50.5, 260.5, 90.5)
    streak = np.zeros_like(img)
    cv2.line(streak, (200, 50), (260, 90), 1.0, 1, cv2.LINE_AA)
    faint = np.clip(img + cv2.GaussianBlur(streak, (0, 0), 1.0) * 12, 0, 255).astype(np.uint8)
    x, y = refine_points([faint], [[101.0, 230.0]], [[99.0, 70.0]], (8.0, 8.0))
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.0
    x, y = refine_points([faint], [[101.0, 230.0]], [[99.0, 70.0]], (8.0, 8.0), min_snr=1e3)
    assert (x[0], y[0]) == (101.0, 99.0)


def test_a_clear_first_candidate_ends_the_search() -> None:
    """Two streaks: the first candidate's is bright enough to be taken at once; the second, brighter still and
    weighted higher, wins only when the search goes on (``accept_snr`` out of reach)."""
    rng = np.random.default_rng(5)
    img = rng.normal(40, 3, (200, 400)).astype(np.float32)
    streaks = np.zeros_like(img)
    cv2.line(streaks, (40, 40), (120, 90), 1.0, 1, cv2.LINE_AA)
    cv2.line(streaks, (250, 100), (350, 160), 2.0, 1, cv2.LINE_AA)
    frame = np.clip(img + cv2.GaussianBlur(streaks, (0, 0), 1.0) * 60, 0, 255).astype(np.uint8)
    first, second = (40.5, 40.5, 120.5, 90.5), (250.5, 100.5, 350.5, 160.5)
    args = ([frame], [[80.0, 300.0]], [[65.0, 130.0]], (8.0, 8.0))
    x, y = refine_points(*args, weight=[[0.5, 1.0]], accept_snr=10.0)
    assert point_to_segment(float(x[0]), float(y[0]), first) <= 1.0
    x, y = refine_points(*args, weight=[[0.5, 1.0]])  # the default searches every candidate
    assert point_to_segment(float(x[0]), float(y[0]), second) <= 1.0


def test_a_streak_that_holds_several_candidates_beats_a_brighter_timestamp() -> None:
    """A white station timestamp answers the line search far more strongly than a faint meteor, and the maps rank
    its candidate first. When the streak holds three candidates along its direction, their support wins; with one
    candidate on the streak, nothing supports it, and the brightest response times its weight takes the stamp."""
    img = noisy_sky_with_streak(21, (360, 640), 25, 3, (300, 100), (420, 190), 40)
    frame = np.clip(img, 0, 255).astype(np.uint8)
    cv2.putText(frame, "ES0042 2026/11/24 02:17:05.120 UTC", (4, 350), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 230, 1,
                cv2.LINE_AA)  # fmt: skip
    seg = (300.5, 100.5, 420.5, 190.5)
    cell = (8.0, 8.0)
    stamp = ([90.0, 160.0], [343.0, 343.0], [1.0, 0.9])  # two candidates on the text, weighted highest
    on_streak = ([330.0, 360.0, 390.0], [122.5, 145.0, 167.5], [0.6, 0.55, 0.5])
    xs, ys, ws = (np.array([a + b]) for a, b in zip(stamp, on_streak, strict=True))
    x, y = refine_points([frame], xs, ys, cell, weight=ws)
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.5
    x, y = refine_points([frame], xs[:, :3], ys[:, :3], cell, weight=ws[:, :3])
    assert y[0] > 320  # one streak candidate: the stamp's response wins


def test_line_support_counts_candidates_along_the_line_in_its_direction() -> None:
    """Support for a line comes from other lines through points near it (within ``tol``), running within one
    direction step of it, and at least ``apart`` px from its own point."""
    angles = 8  # direction 1 is 22.5 degrees, direction 2 is 45 degrees
    d = np.array([np.cos(np.pi / 4), np.sin(np.pi / 4)])
    lines = [
        (1.0, 100.0, 100.0, 2),
        (0.5, *(np.array([100.0, 100.0]) + 30 * d), 2),  # on the 45-degree line, same direction
        (0.25, *(np.array([100.0, 100.0]) - 40 * d + np.array([3.0, -3.0]) / np.sqrt(2)), 1),  # 3 px off, one step
        (2.0, *(np.array([100.0, 100.0]) + 60 * d), 6),  # on the line, but at 135 degrees: across it
        (4.0, 101.0, 101.0, 2),  # 1.4 px from the first point: the same observation
    ]
    sup = _line_support([(w, float(x), float(y), k) for w, x, y, k in lines], angles, tol=5.0, apart=3.0)
    assert sup[0] == pytest.approx(0.75)  # lines 1 and 2; not 3 (across), not 4 (too close)
    assert sup[3] == pytest.approx(0.0)
    tight = _line_support([(w, float(x), float(y), k) for w, x, y, k in lines], angles, tol=2.0, apart=3.0)
    assert tight[0] == pytest.approx(0.5)  # line 2 lies 3 px off: outside a 2 px tolerance


def test_a_frame_with_no_line_near_its_candidates_searches_wider_windows() -> None:
    """The maps' peak can sit most of a Grad-CAM cell from a faint streak. When no window of ``cells`` holds a line,
    windows of ``wide_cells`` are searched; a frame whose narrow windows found a line never widens."""
    img = noisy_sky_with_streak(31, (240, 320), 30, 3, (150, 60), (230, 120), 30)
    frame = np.clip(img, 0, 255).astype(np.uint8)
    seg = (150.5, 60.5, 230.5, 120.5)
    # Narrow windows reach 15 px each way, so none comes nearer the streak than 30 - 15 * (0.6 + 0.8) = 9 px from a
    # candidate 30 px off it; wide ones reach 30 px.
    cell = (10.0, 10.0)
    cx, cy = 190.0 - 0.6 * 30, 90.0 + 0.8 * 30
    x, y = refine_points([frame], [cx], [cy], cell)
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.5
    x, y = refine_points([frame], [cx], [cy], cell, wide_cells=0.0)
    assert (x[0], y[0]) == (np.float32(cx), np.float32(cy))
    # A second, fainter streak holds a candidate whose narrow window finds it: nothing widens, so the first
    # candidate's wider window, which would reach the brighter streak, is never searched.
    other = np.zeros_like(img)
    cv2.line(other, (40, 180), (110, 200), 1.0, 1, cv2.LINE_AA)
    two = np.clip(img + cv2.GaussianBlur(other, (0, 0), 1.0) * 18, 0, 255).astype(np.uint8)
    x, y = refine_points([two], [[cx, 75.0]], [[cy, 190.0]], cell, weight=[[1.0, 0.5]])
    assert point_to_segment(float(x[0]), float(y[0]), (40.5, 180.5, 110.5, 200.5)) <= 1.5


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 3480, 3481])
def test_the_search_windows_median_is_numpys(n: int) -> None:
    """The search's median is ``np.median``'s value exactly, for odd and even counts, in any array shape."""
    from meteorfast.analysis.streak import _median

    rng = np.random.default_rng(n)
    for _ in range(10):
        a = (rng.standard_normal(n) * rng.uniform(0.1, 100)).astype(np.float32)
        assert _median(a) == float(np.median(a))
        if n % 2 == 0:
            assert _median(a.reshape(2, -1)) == float(np.median(a))


def graded_streak(
    seed: int, p0: tuple[float, float], p1: tuple[float, float], profile: np.ndarray,
    size: tuple[int, int] = (720, 1280),
) -> np.ndarray:  # fmt: skip
    """Sky noise (sigma 4 on 30, float32 ``[H,W]``) with a sigma-1 streak from frame point ``p0`` to ``p1`` whose
    peak brightness runs through ``profile`` (one value per px along it, interpolated)."""
    img = np.random.default_rng(seed).normal(30, 4, size).astype(np.float32)
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    t = np.linspace(0, 1, int(length * 2))
    values = np.interp(t, np.linspace(0, 1, len(profile)), profile)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    streak = np.zeros(size, np.float32)
    for ti, v in zip(t, values, strict=True):  # frame point (x, y) is pixel (x - 0.5, y - 0.5)
        cx, cy = p0[0] + ti * (p1[0] - p0[0]) - 0.5, p0[1] + ti * (p1[1] - p0[1]) - 0.5
        r0, c0 = int(cy) - 4, int(cx) - 4
        win = (slice(max(r0, 0), r0 + 9), slice(max(c0, 0), c0 + 9))
        d2 = (xx[win] - cx) ** 2 + (yy[win] - cy) ** 2
        np.maximum(streak[win], np.float32(v) * np.exp(-0.5 * d2).astype(np.float32), out=streak[win])
    return img + streak


@pytest.mark.parametrize("seed", range(4))
def test_walk_moves_the_point_to_the_streaks_brightest_stretch(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    angle = rng.uniform(0, np.pi)
    c = np.array([640.0, 360.0])
    d = np.array([np.cos(angle), np.sin(angle)])
    p0, p1 = c - 200 * d, c + 200 * d
    # Faint (20) for most of its length, bright (120) over its last fifth: a meteor's terminal flare.
    profile = np.r_[np.full(80, 20.0), np.full(20, 120.0)]
    frame = graded_streak(seed, tuple(p0), tuple(p1), profile)
    start = p0 + 0.3 * (p1 - p0)  # on the faint part, 280 px from the flare's far end
    x, y = brightest_on_streak([frame], [start[0]], [start[1]])
    seg = (*p0, *p1)
    assert point_to_segment(float(x[0]), float(y[0]), seg) <= 1.5
    along = float(np.dot(np.array([x[0], y[0]]) - p0, d))
    assert along >= 0.8 * 400 - 3  # on the flare, not where it started (120 px along)


def test_walk_keeps_an_even_streak_a_point_off_it_and_nan() -> None:
    p0, p1 = (300.0, 200.0), (700.0, 420.0)
    frame = graded_streak(1, p0, p1, np.full(10, 60.0))
    mid = (500.0, 310.0)
    x, y = brightest_on_streak([frame, frame, frame], [mid[0], 900.0, np.nan], [mid[1], 100.0, 5.0])
    # An even streak has no brighter stretch worth the move (gain 1.5): the point stays where it was.
    assert (x[0], y[0]) == (np.float32(mid[0]), np.float32(mid[1]))
    assert (x[1], y[1]) == (np.float32(900.0), np.float32(100.0))  # sky: no line to walk
    assert np.isnan(x[2])


def test_walk_crosses_a_short_gap_but_not_into_a_timestamp_or_a_star() -> None:
    """A break of 12 px (a cloud, an inpainted box edge) is crossed to reach the bright end; a short bright stroke
    past a gap in line with the streak (a timestamp's) and a bright star the streak crosses are not its brightest
    stretch. Each rule is shown to matter: without it, the point goes there."""
    p0, p1 = (200.0, 360.0), (600.0, 360.0)
    profile = np.r_[np.full(50, 25.0), np.zeros(3), np.full(47, 90.0)]  # a 12 px gap before the bright half
    frame = graded_streak(2, p0, p1, profile)
    assert brightest_on_streak([frame], [260.0], [360.0])[0][0] > 420  # across the gap, on the bright half
    assert brightest_on_streak([frame], [260.0], [360.0], gap=4)[0][0] == 260.0
    # An even streak ending at x = 600, then 14 px of dark and a 14 px stroke five times as bright.
    even = graded_streak(3, p0, p1, np.full(10, 40.0))
    stamp = even + graded_streak(4, (614.0, 360.0), (628.0, 360.0), np.full(4, 200.0)) - 30
    assert brightest_on_streak([stamp], [400.0], [360.0])[0][0] == 400.0
    assert brightest_on_streak([stamp], [400.0], [360.0], run=1)[0][0] > 610
    star = np.zeros_like(even)
    star[359, 499] = 1.0  # a star on the streak at x = 500
    starry = even + cv2.GaussianBlur(star, (0, 0), 1.2) * 2000
    assert brightest_on_streak([starry], [400.0], [360.0])[0][0] == 400.0
    assert abs(brightest_on_streak([starry], [400.0], [360.0], steady=1)[0][0] - 500.0) <= 2


def test_walk_on_colour_uint16_and_bad_arguments() -> None:
    p0, p1 = (100.0, 100.0), (400.0, 250.0)
    grey = np.clip(graded_streak(5, p0, p1, np.r_[np.full(60, 25.0), np.full(40, 100.0)]), 0, 255).astype(np.uint8)
    colour = np.repeat(grey[..., None], 3, axis=2)
    deep = grey.astype(np.uint16) * 257
    x, y = brightest_on_streak([grey, colour, deep], [160.0] * 3, [130.0] * 3)
    assert x.dtype == np.float32
    assert np.allclose(x, x[0], atol=1e-3)
    assert np.allclose(y, y[0], atol=1e-3)
    assert x[0] > 280  # on the bright part (from 60 % of the way, x = 280)
    with pytest.raises(InputError, match=r"x and y of shape \(1,\)"):
        brightest_on_streak([grey], [1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="start_snr >= floor_snr"):
        brightest_on_streak([grey], [1.0], [1.0], start_snr=2.0, floor_snr=3.0)


def test_the_walk_keeps_the_point_inside_the_frame(spot_model: Path) -> None:
    """A streak along a narrow frame's edge: the walk's step across the line once put the point past the edge."""
    from meteorfast.detector import Detector

    frame = np.zeros((31, 12, 3), np.uint8)
    frame[4, 8, 1] = 219
    frame[5, 11, 0] = 5
    with Detector(spot_model, batch_size=3) as det:
        res = det.classify([frame])
    assert 0 <= float(res.x[0]) <= 12
    assert 0 <= float(res.y[0]) <= 31
