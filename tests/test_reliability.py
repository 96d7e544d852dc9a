"""Reliability (README, "Bad inputs and faults"): every bad input ends in a correct result or one clear
MeteorfastError, streams survive faults, and nothing written is lost. Real files, real OpenCV decoding, real
ONNX Runtime (the spot model), real threads and real signals; each test is one row of the README table."""

from __future__ import annotations

import json
import logging
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from meteorfast.detector import Detector
from meteorfast.errors import InputError, NonFiniteError
from meteorfast.stream.sources import ArraySource, CaptureSource, VideoFileSource, open_source


def run(*args: str, preexec: object = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", *args], capture_output=True, text=True, timeout=timeout,
        cwd=tempfile.gettempdir(), preexec_fn=preexec,  # type: ignore[arg-type]
    )  # fmt: skip


def one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, one line on stderr naming what was expected, no traceback."""
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("meteorfast: error: ")
    assert "expected" in lines[0]
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in lines[0]


def sky(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(20, 3, shape).clip(0, 255).astype(np.uint8)


def streak(img: np.ndarray, k: int = 0) -> np.ndarray:
    out = img.copy()
    cv2.line(out, (100 + 12 * k, 80 + 6 * k), (110 + 12 * k, 85 + 6 * k), 230, 3)
    return out


def mjpeg(path: Path, n: int, meteor: range = range(0), size: tuple[int, int] = (120, 160)) -> Path:
    """An MJPEG AVI: every frame is its own JPEG, so single frames can be damaged on purpose."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (size[1], size[0]), True)
    for i in range(n):
        img = sky(size, i)
        if i in meteor:
            img = streak(img, i - meteor.start)
        writer.write(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def jpeg_starts(data: bytes) -> list[int]:
    return [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize("suffix", [".mp4", ".png", ".jpg"])
@pytest.mark.parametrize("content", ["empty", "random"])
def test_empty_and_random_files_are_one_line_errors(
    tmp_path: Path, spot_model: Path, suffix: str, content: str
) -> None:
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(b"" if content == "empty" else np.random.default_rng(3).bytes(5000))
    one_line_error(run("detect", str(bad), "--model", str(spot_model)), "bad" + suffix)
    with pytest.raises(InputError):
        open_source(bad)


def test_a_truncated_mp4_is_refused(tmp_path: Path, spot_model: Path) -> None:
    good = tmp_path / "good.mp4"
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (160, 120), True)
    for i in range(20):
        writer.write(cv2.cvtColor(sky((120, 160), i), cv2.COLOR_GRAY2BGR))
    writer.release()
    cut = tmp_path / "cut.mp4"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) is written last, so it is gone
    one_line_error(run("detect", str(cut), "--model", str(spot_model)), "cut.mp4", "truncated")


def test_a_truncated_avi_gives_the_frames_it_has_and_counts_the_rest(tmp_path: Path, spot_model: Path) -> None:
    good = mjpeg(tmp_path / "good.avi", 20)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(good.read_bytes()[: jpeg_starts(good.read_bytes())[12]])
    out = run("detect", str(cut), "--model", str(spot_model), "--json")
    assert out.returncode == 1, out.stderr
    (row,) = json.loads(out.stdout)["sources"]
    assert row["frames"] == 12
    assert row["decode_errors"] == 8
    assert "ended after 12 of the 20 frames" in out.stderr


def test_an_unsupported_codec_is_refused_with_a_conversion_hint(tmp_path: Path, spot_model: Path) -> None:
    data = mjpeg(tmp_path / "good.avi", 5).read_bytes()
    alien = tmp_path / "alien.avi"
    alien.write_bytes(data.replace(b"MJPG", b"ZZZZ"))  # a FourCC no decoder knows
    one_line_error(run("detect", str(alien), "--model", str(spot_model)), "alien.avi", "ffmpeg -i")


def test_a_damaged_frame_mid_file_is_skipped_counted_and_warned(
    tmp_path: Path, spot_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(mjpeg(tmp_path / "good.avi", 20, meteor=range(14, 17)).read_bytes())
    at = jpeg_starts(bytes(data))[10]
    data[at : at + 200] = bytes(200)  # frame 10 loses its JPEG header
    bad = tmp_path / "damaged.avi"
    bad.write_bytes(bytes(data))
    det = Detector(spot_model, batch_size=4, threshold=0.5)
    with caplog.at_level(logging.WARNING, logger="meteorfast.stream"):
        results = list(det.stream(str(bad)))
    # Every other frame is there, under its own index in the file: the skip does not shift frames 11..19.
    assert [r.index for r in results] == [i for i in range(20) if i != 10]
    assert [r.is_meteor for r in results] == [i in (14, 15, 16) for i in range(20) if i != 10]
    np.testing.assert_allclose([r.time_s for r in results[10:]], [i / 25 for i in range(11, 20)], atol=1e-3)
    (st,) = det.stats
    assert (st.frames, st.decode_errors, st.status) == (19, 1, "complete")
    assert any("could not be decoded" in m for m in caplog.messages)
    out = run("detect", str(bad), "--model", str(spot_model))
    assert out.returncode == 1  # something was not processed: the exit code says so
    assert "1 frame(s) or file(s) could not be decoded" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_folder_of_good_and_bad_images_processes_the_good_and_reports_the_bad(
    tmp_path: Path, spot_model: Path
) -> None:
    night = tmp_path / "night"
    night.mkdir()
    for i in range(4):
        cv2.imwrite(str(night / f"f{i}.png"), streak(sky((120, 160), i)) if i == 2 else sky((120, 160), i))
    (night / "f1b.png").write_bytes(b"")
    (night / "f3b.jpg").write_bytes(np.random.default_rng(1).bytes(3000))
    # --no-satellite-veto, --no-rescue: the drawn streak is an even dash, which the satellite veto and the proposal
    # net's veto would judge in these image files.
    out = run("detect", str(night), "--model", str(spot_model), "--json", "--out", str(tmp_path / "out"),
              "--no-satellite-veto", "--no-rescue")  # fmt: skip
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    (row,) = report["sources"]
    assert (row["frames"], row["decode_errors"], row["status"]) == (4, 2, "complete")
    assert [(e["start_frame"], e["end_frame"]) for e in report["events"]] == [(3, 3)]  # f2.png, 4th in name order
    assert "f1b.png" in out.stderr
    assert "f3b.jpg" in out.stderr
    assert "2 frame(s) or file(s) could not be decoded" in out.stderr


def test_good_sources_run_when_another_cannot_open(tmp_path: Path, spot_model: Path) -> None:
    good = mjpeg(tmp_path / "good.avi", 12, meteor=range(4, 6))
    out = run("detect", str(tmp_path / "missing.mp4"), str(good), "--model", str(spot_model), "--json")
    assert out.returncode == 1, out.stderr
    rows = {r["source"]: r for r in json.loads(out.stdout)["sources"]}
    assert (rows[str(good)]["frames"], rows[str(good)]["status"]) == (12, "complete")
    assert rows[str(tmp_path / "missing.mp4")]["status"] == "failed"
    assert "expected an existing file" in rows[str(tmp_path / "missing.mp4")]["error"]
    assert "1 of 2 sources failed" in out.stderr
    every_bad = run("detect", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--model", str(spot_model))
    assert every_bad.returncode == 2
    assert "expected at least one source that opens" in every_bad.stderr


# ---------------------------------------------------------------- pixel formats and sizes


def test_16_bit_png_and_tiff_are_scaled_like_their_8_bit_original(tmp_path: Path, spot_model: Path) -> None:
    frame8 = streak(sky((120, 160), 4))
    for name in ("deep.png", "deep.tif"):
        cv2.imwrite(str(tmp_path / name), frame8.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "flat.png"), frame8)
    # The vetoes would turn the even dash down in all three (tests/test_dash.py checks that the satellite veto judges
    # the three alike, tests/test_rescue.py the proposal net's 16-bit still); off, the probabilities compared are
    # the model's.
    det = Detector(spot_model, batch_size=4, satellite_veto=False, rescue=False)
    res = {
        Path(r.source).name: r for r in det.stream([str(tmp_path / n) for n in ("deep.png", "deep.tif", "flat.png")])
    }
    assert res["deep.tif"].image.dtype == np.uint16
    for name in ("deep.png", "deep.tif"):
        assert res[name].prob == pytest.approx(res["flat.png"].prob, abs=1 / 255)
        assert (res[name].x, res[name].y) == pytest.approx((res["flat.png"].x, res["flat.png"].y), abs=0.5)


def test_rgba_colour_and_grey_images_agree(tmp_path: Path, spot_model: Path) -> None:
    grey = streak(sky((120, 160), 5))
    bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(str(tmp_path / "colour.png"), bgr)
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    det = Detector(spot_model, batch_size=4)
    res = {Path(r.source).stem: r for r in det.stream([str(p) for p in sorted(tmp_path.glob("*.png"))])}
    assert cv2.imread(str(tmp_path / "rgba.png"), cv2.IMREAD_UNCHANGED).shape == (120, 160, 4)
    for name in ("colour", "rgba"):
        assert res[name].prob == pytest.approx(res["grey"].prob, abs=1 / 255), name
        assert (res[name].x, res[name].y) == pytest.approx((res["grey"].x, res["grey"].y), abs=0.5), name
    arrays = Detector(spot_model).classify([grey, bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), grey[..., None]])
    np.testing.assert_allclose(arrays.prob, arrays.prob[0], atol=1 / 255)


@pytest.mark.parametrize("shape", [(1, 1), (10000, 10), (10, 10000), (1, 5000), (3, 3, 3)])
@pytest.mark.parametrize("tile", [None, (224, 32)])
def test_tiny_and_extreme_frames_give_a_point_inside_the_frame(
    spot_model: Path, shape: tuple[int, ...], tile: tuple[int, int] | None
) -> None:
    h, w = shape[:2]
    frame = np.full(shape, 40, np.uint8)
    # A bright spot of about 1/50 of each side (at least a pixel), so that it survives the resize to 224 px.
    ry, rx = h // 100, w // 100
    frame[h // 2 - ry : h // 2 + ry + 1, w // 2 - rx : w // 2 + rx + 1] = 250
    res = Detector(spot_model, tile=tile).classify(frame[None])
    assert np.isfinite([res.prob[0], res.x[0], res.y[0]]).all()
    assert res.prob[0] == pytest.approx(250 / 255, abs=8 / 255)
    assert abs(res.x[0] - w / 2) <= max(w / 20, 1.5)
    assert abs(res.y[0] - h / 2) <= max(h / 20, 1.5)


# ---------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    ("frames", "error", "match"),
    [(np.full((1, 8, 8), np.nan, np.float32), NonFiniteError, "NaN or Inf"),
     (np.array([[[0.0, np.inf]]]), NonFiniteError, "np.nan_to_num"),
     (np.zeros((1, 8, 8), np.float64), InputError, "uint8 or uint16"),
     (np.zeros((1, 8, 8), np.int32), InputError, "got int32"),
     (np.zeros((1, 8, 8), np.bool_), InputError, "got bool"),
     (np.zeros((1, 8, 8, 2, 1), np.uint8), InputError, r"\[N,H,W\]"),
     (np.zeros((8,), np.uint8), InputError, r"\[N,H,W\]"),
     (np.zeros((0, 8, 8), np.uint8), InputError, "empty batch"),
     ([np.zeros((8, 8, 5), np.uint8)], InputError, "frame"),
     ([np.zeros((8, 8), np.uint8), [[1, 2], [3]]], InputError, "NumPy"),
     ([None], InputError, "uint8 or uint16")],
)  # fmt: skip
def test_bad_arrays_raise_one_clear_error(spot_model: Path, frames: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Detector(spot_model).classify(frames)  # type: ignore[arg-type]


def test_bad_frames_in_a_numpy_source_end_that_source_only(spot_model: Path) -> None:
    good = [sky((64, 64), i) for i in range(6)]
    bad = [sky((64, 64), 0), np.full((64, 64), np.nan, np.float32)]
    det = Detector(spot_model, batch_size=4)
    results = list(
        det.stream([ArraySource(good, source_id="good"), ArraySource(bad, source_id="bad")], on_error="skip")
    )
    assert [r.index for r in results if r.source == "good"] == list(range(6))
    stats = {s.source: s for s in det.stats}
    assert stats["good"].status == "complete"
    assert stats["bad"].status == "failed"
    assert "float32" in (stats["bad"].error or "")


# ---------------------------------------------------------------- models and outputs


@pytest.mark.parametrize("kind", ["truncated", "garbage", "foreign"])
def test_bad_model_files_are_one_line_errors(tmp_path: Path, spot_model: Path, kind: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    model = tmp_path / f"{kind}.onnx"
    if kind == "truncated":
        model.write_bytes(spot_model.read_bytes()[:300])
    elif kind == "garbage":
        model.write_bytes(np.random.default_rng(2).bytes(4000))
    else:  # a valid ONNX classifier without the Grad-CAM outputs
        graph = helper.make_graph(
            [helper.make_node("ReduceMax", ["frames"], ["logits"], keepdims=0)], "plain",
            [helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, 3, 224, 224])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [])],
        )  # fmt: skip
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        m.ir_version = 9
        onnx.save(m, str(model))
    video = mjpeg(tmp_path / "v.avi", 3)
    one_line_error(run("detect", str(video), "--model", str(model)), f"{kind}.onnx")


def test_an_unwritable_out_is_a_one_line_error(tmp_path: Path, spot_model: Path) -> None:
    video = mjpeg(tmp_path / "v.avi", 3)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    one_line_error(run("detect", str(video), "--model", str(spot_model), "--out", str(blocker / "out")), "--out")


def _limit_file_size(limit: int) -> object:
    def apply() -> None:  # in the child: writes past ``limit`` bytes fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_stops_with_a_clear_error_and_keeps_every_whole_event(tmp_path: Path, spot_model: Path) -> None:
    video = mjpeg(tmp_path / "two.avi", 30, meteor=range(3, 6))
    second = mjpeg(tmp_path / "two2.avi", 30, meteor=range(20, 23))
    free = run("detect", str(video), str(second), "--model", str(spot_model), "--out", str(tmp_path / "free"))
    assert free.returncode == 0, free.stderr
    lines = (tmp_path / "free" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 2
    limit = len(lines[0]) + 1 + len(lines[1]) // 2  # room for the first event and half of the second
    full = tmp_path / "full"
    out = run("detect", str(video), str(second), "--model", str(spot_model), "--out", str(full), "--batch", "4",
              preexec=_limit_file_size(limit))  # fmt: skip
    one_line_error(out, "events.jsonl", "free disk space", "--resume")
    kept = (full / "events.jsonl").read_text().splitlines()
    assert len(kept) == 1
    assert json.loads(kept[0])["start_frame"] in (3, 20)  # whole, valid, and one of the two events


def test_inputs_are_never_modified(tmp_path: Path, spot_model: Path) -> None:
    night = tmp_path / "night"
    night.mkdir()
    video = mjpeg(night / "cam.avi", 12, meteor=range(3, 5))
    cv2.imwrite(str(night / "still.png"), streak(sky((120, 160), 9)))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in night.iterdir()}
    out = run("detect", str(video), str(night / "still.png"), "--model", str(spot_model), "--out", str(night),
              "--save-overlays", "--save-clips", "--save-frames")  # fmt: skip
    assert out.returncode == 0, out.stderr
    for p, (data, mtime) in before.items():
        assert (p.read_bytes(), p.stat().st_mtime_ns) == (data, mtime)


# ---------------------------------------------------------------- live sources


def test_a_stream_that_stops_is_reopened_with_backoff_while_others_run(tmp_path: Path, spot_model: Path) -> None:
    """A camera stand-in (cv2.VideoCapture on a file, as on a URL) stops at its end; while it is gone (the file
    moved away), reopening fails and backs off; once it is back the frames carry on under new indices. A file
    source next to it runs to its end meanwhile."""
    clip = mjpeg(tmp_path / "cam.avi", 10)
    away = tmp_path / "away.avi"
    cam = CaptureSource(str(clip), source_id="cam", retries=None, backoff=0.02, max_backoff=0.1)
    other = VideoFileSource(mjpeg(tmp_path / "other.avi", 40), source_id="other")
    det = Detector(spot_model, batch_size=4, push_timeout_s=0.01, queue_depth=1000)  # room: no live drops here
    seen: dict[str, list[int]] = {"cam": [], "other": []}
    restored = threading.Event()

    def bring_back() -> None:
        time.sleep(0.4)
        away.rename(clip)
        restored.set()

    for r in det.stream([cam, other]):
        seen[r.source].append(r.index)
        if r.source == "cam" and r.index == 5 and not away.exists() and not restored.is_set():
            clip.rename(away)  # the camera goes away while it plays its last frames
            threading.Thread(target=bring_back, daemon=True).start()
        if len(seen["cam"]) >= 25 and len(seen["other"]) == 40:  # the camera never ends on its own
            det.stop()
    stats = {s.source: s for s in det.stats}
    assert seen["other"] == list(range(40))
    assert stats["other"].status == "complete"
    assert seen["cam"][:25] == list(range(25))  # indices carry on across the gap
    assert stats["cam"].reconnects >= 1
    assert stats["cam"].status == "stopped"


def test_a_stream_that_never_comes_back_fails_after_its_retries(tmp_path: Path, spot_model: Path) -> None:
    clip = mjpeg(tmp_path / "cam.avi", 6)
    cam = CaptureSource(str(clip), source_id="cam", retries=3, backoff=0.01, max_backoff=0.02)
    det = Detector(spot_model, batch_size=4)
    results = []
    for r in det.stream([cam, ArraySource([sky((64, 64), i) for i in range(5)], source_id="a")], on_error="skip"):
        results.append(r)
        # The camera goes away once it has delivered a frame: any frame, since a live source drops frames (frame 0
        # too) when the consumer is late, and waiting for index 0 would then stream the looping clip forever.
        if r.source == "cam" and clip.exists():
            clip.unlink()
    (st,) = [s for s in det.stats if s.source == "cam"]
    assert st.status == "failed"
    assert "in 3 attempt(s)" in (st.error or "")
    assert [r.index for r in results if r.source == "a"] == list(range(5))
    with pytest.raises(InputError, match="retries >= 0"):
        CaptureSource("rtsp://x", retries=-1)


# ---------------------------------------------------------------- signals and resume


def _long_video(tmp_path: Path) -> Path:
    return mjpeg(tmp_path / "long.avi", 3000, meteor=range(5, 8))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_cleanly_and_resume_finishes(tmp_path: Path, spot_model: Path, sig: signal.Signals) -> None:
    video = _long_video(tmp_path)
    done = mjpeg(tmp_path / "short.avi", 10, meteor=range(2, 4))
    out_dir = tmp_path / "out"
    cmd = [sys.executable, "-m", "meteorfast.cli", "detect", str(done), str(video), "--model", str(spot_model),
           "--batch", "2", "--out", str(out_dir), "--save-frames"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    frames = out_dir / "frames.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not frames.exists() or frames.stat().st_size < 20000):
        time.sleep(0.05)
    # a count, not a time: the signal comes once the run has written some 100 frame records, however slowly
    if not (frames.exists() and frames.stat().st_size >= 20000):
        proc.kill()
        pytest.fail(f"the run wrote too few frame records in 120 s; stderr: {proc.communicate()[1][-2000:]}")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + int(sig), stderr
    assert "Traceback" not in stderr
    assert f"stopped by {sig.name}: {video} after frame" in stderr
    assert "--resume" in stderr
    events = [json.loads(line) for line in (out_dir / "events.jsonl").read_text().splitlines()]  # all whole lines
    assert {(e["source"], e["start_frame"]) for e in events} >= {(str(done), 2)}
    status = {r["source"]: r["status"] for r in map(json.loads, (out_dir / "sources.jsonl").read_text().splitlines())}
    assert status == {str(done): "complete", str(video): "stopped"}
    assert "stopped after frame" in stdout

    again = run("detect", str(done), str(video), "--model", str(spot_model), "--out", str(out_dir), "--resume",
                "--json", "--batch", "64")  # fmt: skip
    assert again.returncode == 0, again.stderr
    rows = {r["source"]: r for r in json.loads(again.stdout)["sources"]}
    assert (rows[str(done)]["status"], rows[str(done)]["frames"]) == ("resumed", 0)  # not read again
    assert (rows[str(video)]["status"], rows[str(video)]["frames"]) == ("complete", 3000)
    events = [json.loads(line) for line in (out_dir / "events.jsonl").read_text().splitlines()]
    assert sorted((e["source"], e["start_frame"]) for e in events) == sorted([(str(done), 2), (str(video), 5)])
    assert len((out_dir / "events.csv").read_text().splitlines()) == 1 + 2


def test_a_run_without_resume_starts_afresh(tmp_path: Path, spot_model: Path) -> None:
    video = mjpeg(tmp_path / "v.avi", 10, meteor=range(2, 4))
    for _ in range(2):
        assert run("detect", str(video), "--model", str(spot_model), "--out", str(tmp_path / "o")).returncode == 0
    assert len((tmp_path / "o" / "events.jsonl").read_text().splitlines()) == 1
    assert len((tmp_path / "o" / "sources.jsonl").read_text().splitlines()) == 1
    # A run that cannot start (a typo in the source, a bad model) leaves the earlier run's files alone.
    before = {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir() if p.is_file()}
    for bad in (["detect", str(tmp_path / "typo.avi"), "--model", str(spot_model)],
                ["detect", str(video), "--model", str(tmp_path / "none.onnx")]):  # fmt: skip
        assert run(*bad, "--out", str(tmp_path / "o")).returncode == 2
        assert {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir() if p.is_file()} == before
