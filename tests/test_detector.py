"""The streaming detector: classify, coordinate mapping, multi-source streaming, backpressure, drops, events."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from meteorfast.detector import Detector
from meteorfast.errors import EngineMismatchError, InputError
from meteorfast.evaluate import point_to_segment
from meteorfast.preprocess import Preprocessor
from meteorfast.results import Item, StageTimes
from meteorfast.stream.events import EventBuilder, TrackPoint, fit_line
from meteorfast.stream.pipeline import Batcher, Reader
from meteorfast.stream.prepare import Preparer, tile_origins, tile_shape
from meteorfast.stream.sources import ArraySource, Frame, ImageSource


def sky(shape: tuple[int, int], seed: int = 0, dtype: type = np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(20, 3, shape).clip(0, 255)
    return img.astype(dtype) if dtype is np.uint8 else (img * 257).astype(dtype)


def with_streak(img: np.ndarray, seg: tuple[float, float, float, float], value: int = 200) -> np.ndarray:
    """Draw a 2 px streak on ``seg`` given in frame coordinates (pixel centres at +0.5)."""
    out = img.copy()
    a = (round((seg[0] - 0.5) * 16), round((seg[1] - 0.5) * 16))
    b = (round((seg[2] - 0.5) * 16), round((seg[3] - 0.5) * 16))
    cv2.line(out, a, b, value, 2, cv2.LINE_AA, 4)
    return out


# ---------------------------------------------------------------- classify and coordinates


@pytest.mark.parametrize(
    ("shape", "resize", "tile"),
    [((720, 1280), "stretch", None), ((720, 1280), "letterbox", None), ((480, 640), "letterbox", None),
     ((1920, 2880), "stretch", (224, 32)), ((720, 1280), "stretch", (224, 48))],
)  # fmt: skip
def test_a_streak_at_a_known_pixel_comes_back_within_2_px(
    spot_model: Path, shape: tuple[int, int], resize: str, tile: tuple[int, int] | None
) -> None:
    rng = np.random.default_rng(sum(shape))
    h, w = shape
    frames, segs = [], []
    for i in range(6):
        cx, cy = rng.uniform(40, w - 40), rng.uniform(40, h - 40)
        a = rng.uniform(0, np.pi)
        seg = (cx - 8 * np.cos(a), cy - 8 * np.sin(a), cx + 8 * np.cos(a), cy + 8 * np.sin(a))
        frames.append(with_streak(sky(shape, i), seg))
        segs.append(seg)
    # A downscaled 2 px streak keeps a fraction of its brightness; noise alone stays under 40 / 255.
    det = Detector(spot_model, batch_size=8, resize=resize, tile=tile, threshold=0.3)  # type: ignore[arg-type]
    res = det.classify(np.stack(frames))
    for i, seg in enumerate(segs):
        assert point_to_segment(float(res.x[i]), float(res.y[i]), seg) <= 2.0, (i, res.x[i], res.y[i], seg)
    assert res.is_meteor.all()
    # Without the sub-cell step the point still lands in the right first-layer cell: geometry alone is right.
    coarse = Detector(spot_model, batch_size=8, resize=resize, tile=tile, refine=False).classify(np.stack(frames))  # type: ignore[arg-type]
    scale = max(w / 224, h / 224)  # letterbox's one scale; an upper bound on stretch's two
    cell = 2 * (1.0 if tile else scale)  # a first-layer cell (stride 2) in frame pixels; tiles run at native size
    for i, seg in enumerate(segs):
        assert point_to_segment(float(coarse.x[i]), float(coarse.y[i]), seg) <= cell * 1.5 + 1


def test_classify_result_arrays_and_input_kinds(spot_model: Path) -> None:
    det = Detector(spot_model, batch_size=4)
    seg = (600.5, 300.5, 620.5, 310.5)
    grey = with_streak(sky((720, 1280)), seg)
    res = det.classify(np.stack([grey, sky((720, 1280), 1)]))
    assert len(res) == 2
    assert res.prob.dtype == np.float32
    assert res.is_meteor.dtype == np.bool_
    assert res.cam.shape == (2, 7, 7)
    assert res.cam.min() >= 0
    assert res.cam.max() <= 1
    assert bool(res.is_meteor[0])
    assert not bool(res.is_meteor[1])  # noise only: the brightest pixel is far below the 0.5 threshold
    deep = grey.astype(np.uint16) * 257
    colour = np.repeat(grey[..., None], 3, axis=2)
    small = cv2.resize(grey, (640, 360), interpolation=cv2.INTER_AREA)
    mixed = det.classify([deep, colour, small])
    np.testing.assert_allclose(mixed.prob[:2], res.prob[0], atol=2 / 255)
    assert point_to_segment(float(mixed.x[0]), float(mixed.y[0]), seg) <= 2
    assert point_to_segment(float(mixed.x[1]), float(mixed.y[1]), seg) <= 2
    assert point_to_segment(2 * float(mixed.x[2]), 2 * float(mixed.y[2]), seg) <= 4  # half-size frame


def test_tta_averages_the_probability_over_the_input_and_its_mirror_images() -> None:
    """Frames at the shipped model's own input size (no resize): the TTA probability is the mean of the plain
    probabilities of the frame and its two mirror images, and the point and the CAM are the plain ones (the model's
    own: no second look, which would replace the unsure ones)."""
    frames = []
    for i, seg in enumerate([(40.5, 30.5, 90.5, 60.5), (300.5, 180.5, 330.5, 120.5), (200.5, 100.5, 215.5, 104.5)]):
        frames.append(with_streak(sky((224, 384), i), seg, value=60 + 40 * i))
    plain = Detector(batch_size=4, search="all", verifier=None)
    mirrors = plain.classify([m for f in frames for m in (f, f[:, ::-1], f[::-1])])
    want = mirrors.prob.reshape(-1, 3).mean(axis=1)
    base = plain.classify(frames)
    tta = Detector(batch_size=2, search="all", tta=True, verifier=None).classify(frames)  # batch 2: two calls
    np.testing.assert_allclose(tta.prob, want, rtol=0, atol=1e-5)
    assert np.abs(base.prob - want).max() > 1e-3  # the mirrors change this model's answer, so the test can fail
    np.testing.assert_allclose(tta.x, base.x, atol=1e-4)
    np.testing.assert_allclose(tta.y, base.y, atol=1e-4)
    np.testing.assert_allclose(tta.cam, base.cam, atol=1e-5)
    np.testing.assert_array_equal(tta.is_meteor, tta.prob >= plain.threshold)


@pytest.mark.parametrize(
    ("frames", "match"),
    [(np.zeros((2, 8, 8), np.float32), "uint8 or uint16"), (np.zeros((8, 8), np.uint8), r"\[N,H,W\]"),
     ([], "empty batch"), ([np.zeros((0, 8), np.uint8)], "frame"), ("frames.png", "array")],
)  # fmt: skip
def test_classify_rejects_bad_batches(spot_model: Path, frames: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Detector(spot_model).classify(frames)  # type: ignore[arg-type]


def test_a_graph_without_cam_outputs_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["frames"], ["out"])], "plain",
        [helper.make_tensor_value_info("frames", TensorProto.UINT8, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.UINT8, [1, 1, 8, 8])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(tmp_path / "plain.onnx"))
    with pytest.raises(EngineMismatchError, match="meteorfast export"):
        Detector(tmp_path / "plain.onnx").open()


def test_bad_detector_arguments(spot_model: Path) -> None:
    for kwargs, match in [({"batch_size": 0}, "batch_size"), ({"mode": "video"}, "mode"),
                          ({"mode": "stack", "window": 1}, "window"), ({"tile": (8, 0)}, "tile"),
                          ({"tile": (224, 224)}, "tile"), ({"threshold": 1.5}, "threshold"),
                          ({"localize": "gradcam"}, "localize")]:  # fmt: skip
        with pytest.raises(InputError, match=match):
            Detector(spot_model, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [224, (224, 224), (224, 384), (300, 100)])
def test_tile_origins_cover_the_frame(size: int | tuple[int, int]) -> None:
    th, tw = (size, size) if isinstance(size, int) else size
    for shape in [(720, 1280), (1920, 2880), (224, 224), (300, 5000)]:
        origins = tile_origins(shape, size, 32)
        covered = np.zeros(shape, bool)
        for y, x in origins:
            covered[y : y + th, x : x + tw] = True
        assert covered.all()
        assert all(y + th <= max(shape[0], th) and x + tw <= max(shape[1], tw) for y, x in origins)
        ys, xs = sorted({y for y, _ in origins}), sorted({x for _, x in origins})
        assert all(b - a <= th - 32 for a, b in itertools.pairwise(ys))
        assert all(b - a <= tw - 32 for a, b in itertools.pairwise(xs))


def test_a_tall_models_tiles_refuse_an_overlap_wider_than_they_are(tall_spot_model: Path) -> None:
    """On a 384x224 model a 224 px high tile is 131 px wide: an overlap of 200 px would step 1 px at a time."""
    tall = tall_spot_model
    with pytest.raises(InputError, match="overlap under the tile's width"):
        Detector(tall, tile=(224, 200)).classify(sky((720, 1280))[None])
    assert len(Detector(tall, tile=(224, 32), threshold=0.3).classify(sky((720, 1280))[None])) == 1


def test_tiles_take_a_wide_models_aspect_and_stay_native(wide_spot_model: Path) -> None:
    """A 224x384 model gets 224x384 px tiles, not 224 px squares stretched 1.7 times across; a streak in the frame
    still comes back to its pixel."""
    det = Detector(wide_spot_model, batch_size=8, tile=(224, 32), threshold=0.3)
    seg = (900.5, 500.5, 912.5, 506.5)
    frame = with_streak(sky((720, 1280), 3), seg)
    det.open()
    preparer = Preparer(Preprocessor(det.input_size, 1), StageTimes(), tile=(224, 32),
                        tile_hw=tile_shape((224, 32), det.input_size))  # fmt: skip
    inputs, geo = preparer.inputs(frame)
    origins = tile_origins((720, 1280), (224, 384), 32)
    assert inputs.shape == (len(origins), 1, 224, 384)
    np.testing.assert_array_equal(geo[:, :2], 1.0)  # one input pixel is one frame pixel, both ways
    np.testing.assert_array_equal(geo[:, 2:], np.array([(x, y) for y, x in origins], np.float32))
    res = det.classify(frame[None])
    assert res.is_meteor[0]
    assert point_to_segment(float(res.x[0]), float(res.y[0]), seg) <= 2.0


# ---------------------------------------------------------------- streaming


def frames_with_meteor(n: int, at: range, seed: int, shape: tuple[int, int] = (360, 640)) -> list[np.ndarray]:
    """``n`` noisy frames; in frames ``at`` a streak moves 12 px per frame along a line."""
    out = []
    for i in range(n):
        img = sky(shape, seed * 1000 + i)
        if i in at:
            k = i - at.start
            x0, y0 = 100 + 12 * k, 80 + 6 * k
            img = with_streak(img, (x0, y0, x0 + 10, y0 + 5))
        out.append(img)
    return out


def test_stream_keeps_order_per_source_and_serves_every_source(spot_model: Path) -> None:
    lengths = {"a": 37, "b": 9, "c": 21}
    sources = [ArraySource(frames_with_meteor(n, range(0), i), source_id=k) for i, (k, n) in enumerate(lengths.items())]
    det = Detector(spot_model, batch_size=5, queue_depth=4)
    seen: dict[str, list[int]] = {k: [] for k in lengths}
    for r in det.stream(sources):
        seen[r.source].append(r.index)
    for k, n in lengths.items():
        assert seen[k] == list(range(n))
    assert [s.frames for s in det.stats] == list(lengths.values())
    assert all(s.done and s.error is None and s.dropped_frames == 0 for s in det.stats)


def test_round_robin_batches_share_between_sources() -> None:
    """With every source's queue full, a batch takes one item per source in turn, so none starves."""
    cond = threading.Condition()

    def prepare(frames: Iterator[Frame]) -> Iterator[Item]:
        for seq, f in enumerate(frames):
            yield Item(f.source, seq, f.index, f.index, f.time_s, f.time_s, f.image, np.zeros((1, 1, 2, 2), np.uint8),
                       np.zeros((1, 4), np.float32))  # fmt: skip

    readers = [Reader(ArraySource([np.zeros((2, 2), np.uint8)] * 30, source_id=s), prepare, 8, cond) for s in "abc"]
    for r in readers:
        r.start()
    wait_until(lambda: all(r.queued >= 8 for r in readers), "every reader to fill its queue")
    batches = iter(Batcher(readers, cond, batch_size=6, push_timeout_s=0.5))
    first, second = next(batches), next(batches)
    assert sorted(it.source for it in first) == ["a", "a", "b", "b", "c", "c"]
    assert sorted(it.source for it in second) == ["a", "a", "b", "b", "c", "c"]
    rest = [it for batch in batches for it in batch]
    assert len(rest) == 90 - 12
    for r in readers:
        r.stop()
        r.join()


def wait_until(done: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    """Poll ``done`` until it holds; the timeout only keeps a broken pipeline from hanging the run."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout_s:g} s for {what}"
        time.sleep(0.001)


def wait_count(count: Callable[[], int], need: int, what: str) -> None:
    """Wait until ``count()`` reaches ``need``."""
    wait_until(lambda: count() >= need, what)


class Counting:
    """``n`` small noisy frames, counting how many have been produced so far."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.produced = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n):
            self.produced += 1
            yield sky((90, 160), i)


def test_a_slow_source_is_not_starved_by_a_fast_one(spot_model: Path) -> None:
    """The sources are paced by each other's progress, not by the clock: the slow one yields a frame only once the
    fast one has produced 20 more, and the fast one holds its frame 300 until the slow one has yielded all 12. Unless
    the batcher starves the slow source, its last result comes before the fast one's last 100 frames are out."""
    made = {"fast": 0, "slow": 0}

    def fast() -> Iterator[np.ndarray]:
        for i in range(400):
            if i == 300:
                wait_count(lambda: made["slow"], 12, "the slow source's last frame")
            made["fast"] += 1
            yield sky((90, 160), i)

    def slow() -> Iterator[np.ndarray]:
        for i in range(12):
            wait_count(lambda: made["fast"], 20 * (i + 1), f"the fast source's frame {20 * (i + 1)}")
            made["slow"] += 1
            yield sky((90, 160), 1000 + i)

    order = [
        r.source
        for r in Detector(spot_model, batch_size=8, queue_depth=16).stream(
            [ArraySource(fast(), source_id="fast"), ArraySource(slow(), source_id="slow")]
        )
    ]
    assert order.count("slow") == 12
    assert order.count("fast") == 400
    # after the slow source's last result, more fast ones than its queue, a batch and those in hand could hold
    assert len(order) - 1 - max(i for i, s in enumerate(order) if s == "slow") > 400 - 300 - (16 + 8 + 2)


def test_a_file_source_is_held_back_not_buffered_without_bound(spot_model: Path) -> None:
    frames = Counting(120)
    det = Detector(spot_model, batch_size=4, queue_depth=6)
    consumed = 0
    worst = 0
    for _ in det.stream(ArraySource(frames, source_id="file")):
        consumed += 1
        time.sleep(0.002)  # a consumer slower than the decoder
        worst = max(worst, frames.produced - consumed)
    assert consumed == 120
    # In flight at most: the queue, one batch being classified, one item being prepared, the one being put.
    assert worst <= 6 + 4 + 2
    assert det.stats[0].dropped_frames == 0


def test_a_late_live_source_drops_oldest_and_counts_every_drop(spot_model: Path) -> None:
    frames = Counting(300)
    det = Detector(spot_model, batch_size=4, queue_depth=4)
    got = []
    for r in det.stream(ArraySource(frames, source_id="cam", live=True)):
        got.append(r.index)
        # a consumer late by counts, not by the clock: the camera runs 20 frames past each result first, more than
        # the queue, a batch and the items in hand hold
        wait_count(lambda: frames.produced, min(300, r.index + 20), f"the camera to pass frame {r.index + 20}")
    st = det.stats[0]
    assert st.dropped_frames > 0
    assert st.dropped_frames == st.dropped_items
    assert len(got) + st.dropped_frames == frames.produced == st.frames == 300
    assert got == sorted(got)  # still in order, with holes


def test_stack_mode_windows_and_their_frames(spot_model: Path) -> None:
    frames = frames_with_meteor(60, range(30, 36), 3)
    det = Detector(spot_model, batch_size=4, mode="stack", window=10)
    results = list(det.stream(ArraySource(frames, source_id="s")))
    assert [(r.index, r.end_index) for r in results] == [(i, i + 9) for i in range(0, 60, 10)]
    hits = [r.index for r in results if r.is_meteor]
    assert hits == [30]
    overlapped = list(Detector(spot_model, batch_size=4, mode="stack", window=10, stride=5).stream(ArraySource(frames)))
    assert [(r.index, r.end_index) for r in overlapped][:3] == [(0, 9), (5, 14), (10, 19)]
    assert [r.index for r in overlapped if r.is_meteor] == [25, 30, 35]  # each holds a meteor frame
    tail = list(Detector(spot_model, mode="stack", window=25).stream(ArraySource(frames)))
    assert [(r.index, r.end_index) for r in tail] == [(0, 24), (25, 49), (50, 59)]  # the short tail is kept


def test_detect_merges_one_meteor_per_source_with_a_line(spot_model: Path) -> None:
    a = frames_with_meteor(40, range(10, 18), 1)
    b = frames_with_meteor(40, range(25, 31), 2)
    det = Detector(spot_model, batch_size=6)
    closed = []
    events = det.detect([ArraySource(a, source_id="a"), ArraySource(b, source_id="b")], on_event=closed.append)
    assert closed == events
    by = {e.source: e for e in events}
    assert sorted(by) == ["a", "b"]
    assert (by["a"].start_frame, by["a"].end_frame) == (10, 17)
    assert (by["b"].start_frame, by["b"].end_frame) == (25, 30)
    line = by["a"].line
    assert line is not None
    # The streak's head moves (12, 6) px per frame at 25 fps: 13.4 px/frame, 335 px/s, down and to the right.
    assert line.speed_px_s == pytest.approx(np.hypot(12, 6) * 25, rel=0.1)
    assert line.x1 > line.x0
    assert line.y1 > line.y0
    assert line.rms_px < 2
    assert len(by["a"].track) == 8


def test_source_errors_raise_or_are_kept(spot_model: Path) -> None:
    def broken() -> Iterator[np.ndarray]:
        yield sky((90, 160), 0)
        yield np.zeros((90, 160), np.float64)  # not a frame type

    det = Detector(spot_model, batch_size=2)
    with pytest.raises(InputError, match="uint8 or uint16"):
        list(det.stream([ArraySource(broken(), source_id="bad"), ArraySource([sky((90, 160))] * 5, source_id="ok")]))
    results = list(
        det.stream([ArraySource(broken(), source_id="bad"), ArraySource([sky((90, 160))] * 5, source_id="ok")],
                   on_error="skip")
    )  # fmt: skip
    assert sorted(r.source for r in results) == ["bad", "ok", "ok", "ok", "ok", "ok"]
    stats = {s.source: s for s in det.stats}
    assert "uint8 or uint16" in (stats["bad"].error or "")
    assert stats["ok"].error is None


# ---------------------------------------------------------------- events


def test_event_builder_merges_bridges_gaps_and_splits() -> None:
    b = EventBuilder(max_gap=1)
    pattern = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0]
    closed = []
    for i, p in enumerate(pattern):
        closed += b.add("s", i, i, i / 25, i / 25, bool(p), 10.0 * i, 5.0 * i, 0.5 + 0.01 * i)
    closed += b.flush()
    assert [(e.start_frame, e.end_frame) for e in closed] == [(1, 4), (7, 8)]
    assert [len(e.track) for e in closed] == [3, 2]
    assert closed[0].peak_frame == 4
    assert closed[0].x == 40.0
    strict = EventBuilder(max_gap=0)
    out = [e for i, p in enumerate(pattern) for e in strict.add("s", i, i, 0, 0, bool(p), 0, 0, 0.9)] + strict.flush()
    assert [(e.start_frame, e.end_frame) for e in out] == [(1, 2), (4, 4), (7, 8)]
    with pytest.raises(InputError, match="in order"):
        strict.add("s", 3, 3, 0, 0, True, 0, 0, 0.9)
    with pytest.raises(InputError, match="max_gap"):
        EventBuilder(max_gap=-1)


def test_line_fit_is_total_least_squares_and_oriented_by_time() -> None:
    t = np.arange(10) / 25
    pts = [TrackPoint(i, float(t[i]), 500 - 20 * i, 100 + 15 * i, 0.9) for i in range(10)]
    line = fit_line(pts)
    assert line is not None
    assert (line.x0, line.y0) == pytest.approx((500, 100))
    assert (line.x1, line.y1) == pytest.approx((320, 235))
    assert line.speed_px_s == pytest.approx(25 * 25)  # 25 px per frame
    assert line.rms_px == pytest.approx(0, abs=1e-9)
    reverse = fit_line(list(reversed([TrackPoint(p.frame, -p.time_s, p.x, p.y, p.prob) for p in pts])))
    assert reverse is not None
    assert (reverse.x0, reverse.y0) == pytest.approx((320, 235))
    single = fit_line(pts[:1])
    assert single is not None
    assert single.speed_px_s == 0
    assert fit_line([]) is None


def test_the_models_own_threshold_applies_unless_one_is_given(spot_model: Path, tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(spot_model))
    entry = model.metadata_props.add()
    entry.key, entry.value = "meteorfast.threshold", "0.25"
    path = tmp_path / "calibrated.onnx"
    onnx.save(model, str(path))
    frame = with_streak(sky((360, 640)), (300.5, 100.5, 310.5, 105.5), value=90)  # brightest pixel ~90/255
    det = Detector(path)
    res = det.classify(frame[None])
    assert det.threshold == 0.25
    assert 0.25 <= res.prob[0] < 0.5
    assert bool(res.is_meteor[0])
    assert not bool(Detector(path, threshold=0.5).classify(frame[None]).is_meteor[0])
    assert Detector(spot_model).open().threshold == 0.5
    with pytest.raises(InputError, match="max_gap"):
        Detector(spot_model, max_gap=-1)


def test_image_folders_globs_and_16_bit_files(spot_model: Path, tmp_path: Path) -> None:
    seg = (300.5, 100.5, 312.5, 106.5)
    cv2.imwrite(str(tmp_path / "a.png"), sky((360, 640), 1))
    cv2.imwrite(str(tmp_path / "b.png"), (with_streak(sky((360, 640), 2), seg).astype(np.uint16) * 257))
    cv2.imwrite(str(tmp_path / "c.jpg"), cv2.cvtColor(sky((360, 640), 3), cv2.COLOR_GRAY2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    # The drawn streak is an even 13 px dash, which the satellite veto (tests/test_dash.py) and the proposal net's
    # veto (tests/test_rescue.py) judge in image files; here the files are read, so both are off.
    det = Detector(spot_model, batch_size=4, threshold=0.3, satellite_veto=False, rescue=False)
    by_dir = list(det.stream(str(tmp_path)))
    assert [(r.source, r.index) for r in by_dir] == [(str(tmp_path), i) for i in range(3)]
    assert [r.is_meteor for r in by_dir] == [False, True, False]
    assert by_dir[1].image.dtype == np.uint16  # read as 16-bit, scaled for the model, not clipped
    assert point_to_segment(by_dir[1].x, by_dir[1].y, seg) <= 2
    by_glob = list(det.stream(str(tmp_path / "*.png")))
    assert [r.is_meteor for r in by_glob] == [False, True]
    with pytest.raises(InputError, match="matches none"):
        list(det.stream(str(tmp_path / "*.tif")))


def test_capture_sources_are_live_and_say_what_failed(spot_model: Path) -> None:
    """Cameras and stream URLs go through cv2.VideoCapture like a file; a stream it cannot open is one clear error."""
    from meteorfast.data import SAMPLE_VIDEO
    from meteorfast.stream.sources import CaptureSource, open_source

    assert isinstance(open_source("rtsp://127.0.0.1:9/none"), CaptureSource)
    assert isinstance(open_source("7"), CaptureSource)
    src = CaptureSource(str(SAMPLE_VIDEO), source_id="cam")  # any URL OpenCV plays; a local file stands in here
    assert src.live
    frames = [f for _, f in zip(range(5), src, strict=False)]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].image.shape == (720, 1280)
    assert [f.time_s for f in frames] == sorted(f.time_s for f in frames)
    with pytest.raises(InputError, match="stream URL OpenCV can open"):
        list(CaptureSource("rtsp://127.0.0.1:9/none"))


def test_a_station_mask_hides_what_it_covers_in_both_modes(spot_model: Path, tmp_path: Path) -> None:
    frame = sky((360, 640), 3)
    cv2.circle(frame, (100, 60), 3, 250, -1)  # the housing's glint: brighter, and masked below
    cv2.circle(frame, (500, 300), 3, 200, -1)
    mask = np.full((360, 640), 255, np.uint8)
    mask[:120, :200] = 0
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    plain = Detector(spot_model).classify(frame[None])
    assert plain.prob[0] == pytest.approx(250 / 255, abs=2 / 255)
    masked = Detector(spot_model, mask=tmp_path / "mask.png").classify(frame[None])
    assert masked.prob[0] == pytest.approx(200 / 255, abs=2 / 255)
    assert (masked.x[0], masked.y[0]) == pytest.approx((500.5, 300.5), abs=2)
    # Stack mode: a flash inside the masked corner is no event; one outside it is.
    clip = np.stack([sky((360, 640), 10 + i) for i in range(20)])
    cv2.circle(clip[4], (120, 40), 4, 255, -1)
    cv2.circle(clip[14], (400, 200), 4, 255, -1)
    det = Detector(spot_model, mode="stack", window=10, threshold=0.5, mask=mask)
    events = det.detect(ArraySource(clip, source_id="cam"))
    assert [(e.start_frame, e.end_frame) for e in events] == [(10, 19)]
    assert (events[0].x, events[0].y) == pytest.approx((400.5, 200.5), abs=3)


def test_bad_masks_are_refused(spot_model: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="some pixels to search"):
        Detector(spot_model, mask=np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="expected an existing file"):
        Detector(spot_model, mask=tmp_path / "none.bmp")
    with pytest.raises(InputError, match=r"mask's size 16x8, got 640x360"):
        Detector(spot_model, mask=np.ones((8, 16), np.uint8)).classify(sky((360, 640), 1)[None])


def test_a_folder_of_stills_gives_one_event_per_file_with_the_streaks_ends(spot_model: Path, tmp_path: Path) -> None:
    """Consecutive stills with a meteor each are three events, never one; each names its file, and its line is the
    streak's walked ends, not a point."""
    from meteorfast.stream.outputs import OutputWriter
    from meteorfast.stream.sources import open_source

    segs = [(300.5, 200.5, 420.5, 260.5), (800.5, 500.5, 700.5, 380.5), (150.5, 600.5, 330.5, 610.5)]
    for i, seg in enumerate(segs):
        cv2.imwrite(str(tmp_path / f"IMG_{i:03d}.png"), with_streak(sky((720, 1280), i), seg, 230))
    (tmp_path / "out").mkdir()
    source = open_source(str(tmp_path))
    writer = OutputWriter(tmp_path / "out", frames=True, overlays=True)
    with Detector(spot_model, threshold=0.5, rescue=False, satellite_veto=False) as det:
        events = det.detect([source], on_result=writer.on_result, on_event=writer.on_event)
    writer.close()
    assert [Path(ev.file).name for ev in events] == ["IMG_000.png", "IMG_001.png", "IMG_002.png"]
    for ev, seg in zip(events, segs, strict=True):
        assert ev.start_frame == ev.end_frame
        assert ev.line is not None
        length = float(np.hypot(seg[2] - seg[0], seg[3] - seg[1]))
        assert abs(ev.line.length_px - length) < 0.15 * length  # the streak, not a degenerate line
        ends = [(ev.line.x0, ev.line.y0), (ev.line.x1, ev.line.y1)]
        assert all(point_to_segment(x, y, seg) < 4 for x, y in ends)
        assert ev.to_json()["file"] == ev.file
    # Each event's overlay is drawn on its own still: three files, three different pictures.
    overlays = sorted((tmp_path / "out" / "overlays").glob("*.png"))
    assert len(overlays) == 3
    assert len({p.read_bytes() for p in overlays}) == 3
    frames = [json.loads(line) for line in (tmp_path / "out" / "frames.jsonl").read_text().splitlines()]
    assert [Path(f["file"]).name for f in frames] == ["IMG_000.png", "IMG_001.png", "IMG_002.png"]
    # Frames exported from a video (stills=False) are not stills: consecutive positives merge into one event.
    exported = ImageSource(sorted(tmp_path.glob("IMG_*.png")), source_id="exported", stills=False)
    with Detector(spot_model, threshold=0.5) as det:
        merged = det.detect([exported])
    assert len(merged) == 1
    assert merged[0].file == ""
