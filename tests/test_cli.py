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


def test_tensorrt_reason_without_tensorrt() -> None:
    info = json.loads(run("info", "--json").stdout)
    trt = info["backends"]["tensorrt"]
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert trt["available"] is False
        assert "tensorrt" in trt["reason"]
        assert "not installed" in trt["reason"]


def test_demo_locates_the_meteor_in_the_bundled_clip(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.png"
    out = run("demo", "--overlay", str(overlay))
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if re.match(r"\s*\d+-\d+\s", line)]
    assert len(rows) == 8  # 201 frames in windows of 25
    by_start = {int(r[0].split("-")[0]): (float(r[2]), float(r[3])) for r in rows}
    # The meteor crosses the lower right in frames ~60-125 (realdata README); the windows holding it find it.
    for start in (50, 75, 100):
        x, y = by_start[start]
        assert 1000 < x < 1150, (start, x)
        assert 520 < y < 650, (start, y)
    assert "frames/s" in out.stdout
    img = cv2.imread(str(overlay))
    assert img is not None
    assert img.shape == (720, 1280, 3)
    assert not list(tmp_path.glob(".*.tmp"))  # nothing partial left behind


def test_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    out = run("demo", "--video", str(tmp_path / "missing.mp4"))
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in out.stderr
    assert "expected an existing file" in lines[0]
    assert "missing.mp4" in lines[0]


def test_garbage_video_is_refused_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(os.urandom(4096))
    out = run("demo", "--video", str(bad))
    assert out.returncode == 2
    assert "cannot open" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = run("--debug", "demo", "--video", str(tmp_path / "missing.mp4"))
    assert out.returncode != 0
    assert "Traceback" in out.stderr
    assert "InputError" in out.stderr


def test_bad_environment_variable_is_a_one_line_error() -> None:
    out = run("demo", env={"METEORFAST_KERNELS": "fastest"})
    assert out.returncode == 2
    assert "METEORFAST_KERNELS: expected one of auto, native, reference, got 'fastest'" in out.stderr


def test_demo_window_must_hold_two_frames() -> None:
    out = run("demo", "--window", "1")
    assert out.returncode == 2
    assert "at least 2 frames" in out.stderr
