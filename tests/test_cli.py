"""The ``meteorfast`` command, run as a user runs it: a real subprocess, real files, the bundled real clip."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        # Not the checkout: `-m` puts the cwd on sys.path, and the installed package is the one under test.
        cwd=tempfile.gettempdir(),
    )


def test_console_script_is_installed() -> None:
    exe = shutil.which("meteorfast")
    if exe is None:
        pytest.skip("the meteorfast console script is not on PATH (package not installed with pip)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("meteorfast ")


def test_info_json_reports_backends_and_native_kernels() -> None:
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert set(info) >= {"version", "backends", "native"}
    assert set(info["backends"]) >= {"onnxruntime", "tensorrt"}
    for b in info["backends"].values():
        assert set(b) >= {"available", "reason"}
        assert b["available"] or b["reason"]  # every missing backend says why
    assert info["backends"]["onnxruntime"]["available"] is True
    native = info["native"]
    assert set(native) >= {"cpu", "cuda_built", "cuda_device", "reason"}
    assert native["cpu"] is True
    if not native["cuda_device"]:
        assert native["reason"]


def test_info_text_names_every_backend() -> None:
    out = run("info")
    assert out.returncode == 0
    assert "onnxruntime" in out.stdout
    assert "tensorrt" in out.stdout
    assert "native kernels:" in out.stdout


def _tensorrt_runtime() -> bool:
    """Whether the TensorRT runtime imports here; its type stubs alone (tensorrt-stubs) import as a namespace
    package, which has no ``__file__``."""
    try:
        import tensorrt
    except ImportError:
        return False
    return getattr(tensorrt, "__file__", None) is not None


def test_tensorrt_reason_without_tensorrt() -> None:
    if _tensorrt_runtime():
        pytest.skip("the TensorRT runtime is installed here; this checks the reason `info` gives where it is not")
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    trt = json.loads(out.stdout)["backends"]["tensorrt"]
    assert trt["available"] is False
    missing, sep, hint = trt["reason"].partition(" not installed")
    assert sep, trt["reason"]
    assert "tensorrt" in missing.split(" and "), trt["reason"]  # it names what is missing
    assert "pip install 'meteorfast[tensorrt]'" in hint, trt["reason"]  # and how to install it


def write_video(path: Path, meteor: range, n: int = 40, size: tuple[int, int] = (360, 640)) -> Path:
    """An MP4 (mp4v) of noisy sky with a bright streak moving through frames ``meteor``."""
    rng = np.random.default_rng(5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (size[1], size[0]), True)
    for i in range(n):
        img = rng.normal(20, 3, size).clip(0, 255).astype(np.uint8)
        if i in meteor:
            k = i - meteor.start
            cv2.line(img, (100 + 12 * k, 80 + 6 * k), (110 + 12 * k, 85 + 6 * k), 230, 3)
        writer.write(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_detect_writes_events_csv_frames_overlays_and_clips(tmp_path: Path, spot_model: Path) -> None:
    video = write_video(tmp_path / "station.mp4", range(10, 18))
    out_dir = tmp_path / "out"
    out = run("detect", str(video), "--model", str(spot_model), "--batch", "8", "--out", str(out_dir), "--json",
              "--save-frames", "--save-overlays", "--save-clips")  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [(e["start_frame"], e["end_frame"]) for e in report["events"]] == [(10, 17)]
    (src,) = report["sources"]
    assert src["frames"] == 40
    assert src["events"] == 1
    assert src["dropped_frames"] == 0
    assert src["error"] is None
    lines = (out_dir / "events.jsonl").read_text().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert set(event) >= {"source", "start_frame", "end_frame", "start_time_s", "end_time_s", "peak_prob", "x", "y",
                          "track", "line"}  # fmt: skip
    assert event["start_time_s"] == pytest.approx(0.4, abs=0.05)
    assert len(event["track"]) == 8
    assert event["line"]["speed_px_s"] == pytest.approx(np.hypot(12, 6) * 25, rel=0.15)
    rows = (out_dir / "events.csv").read_text().splitlines()
    assert rows[0].startswith("source,start_frame,end_frame")
    assert len(rows) == 2
    assert len((out_dir / "frames.jsonl").read_text().splitlines()) == 40
    (png,) = (out_dir / "overlays").glob("*.png")
    assert cv2.imread(str(png)).shape == (360, 640, 3)
    (clip,) = (out_dir / "clips").glob("*.mp4")
    cap = cv2.VideoCapture(str(clip))
    # The 10 frames before the event (all there are; up to 25 are kept), its 8, and the 22 left after it (< 25).
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10 + 8 + 22
    assert not list(out_dir.rglob(".*tmp*"))  # nothing partial left behind


def test_detect_text_output_has_a_summary_table(tmp_path: Path, spot_model: Path) -> None:
    video = write_video(tmp_path / "cam.mp4", range(5, 9), n=20)
    out = run("detect", str(video), "--model", str(spot_model), "--mode", "stack", "--window", "5")
    assert out.returncode == 0, out.stderr
    assert re.search(r"event .*cam\.mp4 frames 5-9 ", out.stdout)
    header = next(line for line in out.stdout.splitlines() if line.startswith("source"))
    assert header.split() == ["source", "frames", "events", "dropped", "errors", "fps", "status"]
    assert re.search(r"cam\.mp4\s+20\s+1\s+0\s+0\s+[\d.]+\s+ok", out.stdout)


def test_errors_are_one_line_and_exit_2(tmp_path: Path, spot_model: Path) -> None:
    out = run("detect", str(tmp_path / "missing.mp4"), "--model", str(spot_model))
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in out.stderr
    assert "expected an existing file" in lines[0]
    assert "missing.mp4" in lines[0]


def test_garbage_video_is_refused_cleanly(tmp_path: Path, spot_model: Path) -> None:
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(os.urandom(4096))
    out = run("detect", str(bad), "--model", str(spot_model))
    assert out.returncode == 2
    assert "OpenCV can open" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = run("--debug", "detect", str(tmp_path / "missing.mp4"))
    assert out.returncode != 0
    assert "Traceback" in out.stderr
    assert "InputError" in out.stderr


def test_bad_environment_variable_is_a_one_line_error(tmp_path: Path, spot_model: Path) -> None:
    video = write_video(tmp_path / "cam.mp4", range(0), n=3)
    out = run("detect", str(video), "--model", str(spot_model), env={"METEORFAST_KERNELS": "fastest"})
    assert out.returncode == 2
    assert "METEORFAST_KERNELS: expected one of auto, native, reference, got 'fastest'" in out.stderr


def test_stack_window_must_hold_two_frames(spot_model: Path) -> None:
    out = run("detect", "0", "--model", str(spot_model), "--mode", "stack", "--window", "1")
    assert out.returncode == 2
    assert "window of 2..65535 frames" in out.stderr
