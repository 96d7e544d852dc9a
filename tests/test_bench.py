"""``meteorfast bench``: it runs quickly on the tiny model and reports every key with sane values.

Speed itself is never asserted here (machines are noisy); it lives in ``bench`` and in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

KEYS = (
    "fps", "p50_ms", "p99_ms", "stage_ms", "cam_overhead", "cameras_at_25fps", "baseline_fps", "speedup_vs_baseline",
    "gflops_achieved", "sgemm_peak_gflops", "int8_speedup", "post_share_of_infer",
)  # fmt: skip


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", *args], capture_output=True, text=True, timeout=600,
        cwd=tempfile.gettempdir(), env=dict(os.environ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason="exporting the tiny model needs torch (the [train] extra)")
    path = tmp_path_factory.mktemp("bench") / "tiny.onnx"
    out = cli("export", "--arch", "tiny", "--input-size", "64", "--out", str(path))
    assert out.returncode == 0, out.stderr
    return path


def test_bench_json_has_every_key_with_sane_values(tiny: Path, tmp_path: Path) -> None:
    plot = tmp_path / "fps.png"
    out = cli("bench", "--model", str(tiny), "--batch", "1,4", "--repeats", "2", "--frames", "4", "--kernels",
              "--pairs", "2", "--streams", "2", "--seconds", "2", "--json", "--plot", str(plot))  # fmt: skip
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    for key in KEYS:
        assert key in res, key
    assert res["fps"] > 0
    assert 0 < res["p50_ms"] <= res["p99_ms"]
    assert set(res["stage_ms"]) == {"preprocess", "infer", "cam", "post", "refine", "walk"}
    assert all(v >= 0 for v in res["stage_ms"].values())
    assert res["stage_ms"]["infer"] > 0
    assert res["cameras_at_25fps"] == pytest.approx(res["fps"] / 25)
    assert math.isfinite(res["cam_overhead"])
    assert res["cam_overhead"] > -1
    assert res["sgemm_peak_gflops"] > 1
    assert res["model_gflop_per_frame"] > 0
    assert res["gflops_achieved"] == pytest.approx(res["model_gflop_per_frame"] * res["fps"])
    assert res["baseline_fps"] is None  # not asked for
    assert res["int8_speedup"] is None  # FP32 run
    assert res["post_share_of_infer"] >= 0
    assert [b["batch"] for b in res["batches"]] == [1, 4]
    assert [b["verifier"] for b in res["batches"]] == [None, None]  # a model with no second look is labelled so
    assert res["kernels"]["postprocess"]["speedup_median"] > 0
    assert res["kernels"]["stacking"]["native_ms"] > 0
    stream = res["stream"]
    assert stream["streams"] == 2
    assert stream["verifier"] is None
    assert len(stream["sources"]) == 2
    for src in stream["sources"]:
        assert src["frames"] == 50  # 2 s at 25 fps, real-time
        assert src["decode_ms"] > 0
    assert set(res["machine"]) >= {"cpu", "cpus_usable", "gpu", "versions"}
    assert plot.stat().st_size > 1000


def test_bench_records_the_command_main_was_given(
    tiny: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from meteorfast.cli import main

    # main() gives the "meteorfast" logger its one-line stderr handler and stops propagation; both are put back after
    # this test, so that later tests' caplog still sees the package's warnings.
    logger = logging.getLogger("meteorfast")
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    # In-process, sys.argv is pytest's: the report must name the arguments passed to main() instead.
    argv = ["bench", "--model", str(tiny), "--batch", "2", "--repeats", "1", "--pairs", "1", "--frames", "4", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["command"] == shlex.join(["meteorfast", *argv])


def test_bench_stack_streams_report_the_held_first_window_apart(tiny: Path) -> None:
    out = cli("bench", "--model", str(tiny), "--batch", "4", "--repeats", "1", "--frames", "4", "--streams", "2",
              "--seconds", "3", "--mode", "stack", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    stream = json.loads(out.stdout)["stream"]
    assert stream["mode"] == "stack"
    for src in stream["sources"]:
        assert src["frames"] == 75
        # Flicker suppression holds a source's first window until the next one is stacked: one window, 1 s, later.
        assert src["first_window_lag_ms"] >= 950
        assert math.isfinite(src["lag_p99_ms"])


def test_bench_int8_reports_the_speedup(tiny: Path) -> None:
    out = cli("bench", "--model", str(tiny), "--batch", "4", "--repeats", "2", "--frames", "4",
              "--precision", "int8", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["precision"] == "int8"
    assert res["int8_speedup"] > 0
    assert res["fp32_fps"] > 0
    assert [r["batch"] for r in res["fp32_batches"]] == [4]


def test_bench_bad_arguments(tiny: Path) -> None:
    out = cli("bench", "--model", str(tiny), "--batch", "0")
    assert out.returncode == 2
    assert "batch sizes >= 1" in out.stderr
    out = cli("bench", "--model", str(tiny), "--precision", "fp16")
    assert out.returncode == 2
    assert "fp16 needs the TensorRT backend" in out.stderr


def test_bench_on_tensorrt_without_it_says_why(tiny: Path) -> None:
    from meteorfast.backends import available_backends

    if available_backends()["tensorrt"].available:
        pytest.skip("TensorRT can run here: this checks the message on machines where it cannot")
    out = cli("bench", "--model", str(tiny), "--backend", "tensorrt", "--batch", "1")
    assert out.returncode == 2
    assert out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert "tensorrt" in line.lower()
    assert "pip install" in line
