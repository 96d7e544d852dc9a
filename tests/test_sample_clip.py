"""The shipped model end to end on the real GMN clip bundled with the package (MIT; never trained on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import meteorfast.cam as mc
from meteorfast.data import DEFAULT_MODEL, SAMPLE_VIDEO
from meteorfast.datasets import SAMPLE_EVENT_FRAMES, SAMPLE_STREAK, sample_clip_frames
from meteorfast.detector import Detector
from meteorfast.evaluate import point_to_segment


def test_the_recorded_streak_is_where_the_clip_shows_it() -> None:
    stack = mc.stack(np.stack(sample_clip_frames()))
    x0, y0, x1, y1 = SAMPLE_STREAK
    t = np.linspace(0.05, 0.95, 40)
    cols = np.floor(x0 + t * (x1 - x0)).astype(int)
    rows = np.floor(y0 + t * (y1 - y0)).astype(int)
    along = stack.candidate[rows, cols].astype(int)
    aside = stack.candidate[rows, np.clip(cols + 12, 0, 1279)].astype(int)
    assert np.median(along) > 60
    assert np.median(aside) < 15
    first, last = SAMPLE_EVENT_FRAMES
    ends = np.array([0.01, 0.99])
    frames = stack.argmax[np.floor(y0 + ends * (y1 - y0)).astype(int), np.floor(x0 + ends * (x1 - x0)).astype(int)]
    assert abs(int(frames[0]) - first) <= 10  # it moves from (x0, y0) near the first frame ...
    assert abs(int(frames[1]) - last) <= 10  # ... to (x1, y1) near the last
    # Frame by frame: the first and the last frame show it on the streak, well above the sky (noise 1 DN); ten
    # frames before the first, nothing near the streak does.
    clip = np.stack(sample_clip_frames()).astype(np.float32)
    sky = np.median(np.concatenate([clip[:25], clip[180:]]), axis=0)
    box = (slice(int(min(y0, y1)) - 20, int(max(y0, y1)) + 20), slice(int(min(x0, x1)) - 20, int(max(x0, x1)) + 20))

    def brightest(i: int) -> tuple[float, float]:
        diff = (clip[i] - sky)[box]
        r, c = np.unravel_index(int(np.argmax(diff)), diff.shape)
        return float(diff[r, c]), point_to_segment(c + box[1].start + 0.5, r + box[0].start + 0.5, SAMPLE_STREAK)

    for i in (first, last):
        value, off = brightest(i)
        assert value > 20, (i, value)
        assert off <= 3, (i, off)
    assert brightest(first - 10)[0] < 12


def test_the_model_is_shipped_with_its_card() -> None:
    assert DEFAULT_MODEL.is_file()
    assert DEFAULT_MODEL.stat().st_size <= 20 * 2**20
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    assert "meteorfast train" in card  # the command that reproduces it
    assert "Peña-Asensio" in card  # the comparison with the paper


def test_both_shipped_models_open_by_name() -> None:
    """``default`` keeps a 16:9 frame's shape at 224x384; ``fast`` is the 224x224 model, for CPUs running many
    cameras frame by frame. Each finds the meteor in the clip's stacks."""
    from meteorfast.data import SHIPPED_MODELS, resolve_model

    assert resolve_model(None) == resolve_model("default") == DEFAULT_MODEL
    assert resolve_model("fast") == SHIPPED_MODELS["fast"] != DEFAULT_MODEL
    assert resolve_model("some/model.onnx") == Path("some/model.onnx")
    assert SHIPPED_MODELS["fast"].stat().st_size <= 20 * 2**20
    stack = mc.stack(np.stack(sample_clip_frames()[50:75])).candidate
    for name, size in [("default", (224, 384)), ("fast", (224, 224))]:
        det = Detector(name, mode="frame")
        assert det.input_size == size
        res = det.classify(stack[None])
        assert res.is_meteor[0], (name, res.prob)
        assert point_to_segment(float(res.x[0]), float(res.y[0]), SAMPLE_STREAK) <= 8, name


def test_stack_mode_finds_exactly_one_event_along_the_streak() -> None:
    events = Detector(mode="stack", window=25).detect(str(SAMPLE_VIDEO))
    assert len(events) == 1, [(e.start_frame, e.end_frame, e.peak_prob) for e in events]
    (ev,) = events
    first, last = SAMPLE_EVENT_FRAMES
    # It starts with the window that holds the meteor's first frame, or the next (that window holds only the
    # meteor's faint first frames, 39-49), and ends with the window that holds its last frame.
    assert first // 25 * 25 <= ev.start_frame <= first // 25 * 25 + 25
    assert ev.end_frame == last // 25 * 25 + 24
    for p in ev.track:
        assert point_to_segment(p.x, p.y, SAMPLE_STREAK) <= 8, p
    assert ev.line is not None
    # The fitted line runs the way the meteor flies: down and to the left.
    assert ev.line.x1 < ev.line.x0
    assert ev.line.y1 > ev.line.y0


def test_with_a_mask_over_the_housing_stack_mode_finds_one_event_on_the_streak() -> None:
    """What a station does about its housing: mask it (the top-left housing and the bottom-left corner)."""
    mask = np.full((720, 1280), 255, np.uint8)
    mask[:380, :300] = 0
    mask[650:, :330] = 0
    events = Detector(mode="stack", window=25, mask=mask).detect(str(SAMPLE_VIDEO))
    assert len(events) == 1, [(e.start_frame, e.end_frame, e.peak_prob) for e in events]
    (ev,) = events
    first, last = SAMPLE_EVENT_FRAMES
    # From the window that holds the meteor's start (frames 25-49 hold only its faint first frames and may be
    # missed) to the window that holds its end.
    assert first // 25 * 25 <= ev.start_frame <= first // 25 * 25 + 25
    assert ev.end_frame == last // 25 * 25 + 24
    for p in ev.track:
        assert point_to_segment(p.x, p.y, SAMPLE_STREAK) <= 2, p


def test_demo_writes_the_meteor_event_and_its_overlay(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "demo", "--out", str(tmp_path / "demo")], capture_output=True,
        text=True, timeout=600, cwd=tempfile.gettempdir(), env=dict(os.environ),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in (tmp_path / "demo" / "events.jsonl").read_text().splitlines()]
    assert events
    best = max(events, key=lambda e: e["peak_prob"])
    # The most confident event is the meteor: its peak point lies on the streak, inside the meteor's frames.
    assert point_to_segment(best["x"], best["y"], SAMPLE_STREAK) <= 8
    first, last = SAMPLE_EVENT_FRAMES
    assert best["start_frame"] <= last
    assert best["end_frame"] >= first
    assert str(tmp_path / "demo" / "events.jsonl") in out.stdout
    pngs = sorted((tmp_path / "demo" / "overlays").glob("*.png"))
    assert len(pngs) == len(events)
    for png in pngs:
        assert str(png) in out.stdout
        assert cv2.imread(str(png)).shape == (720, 1280, 3)


def test_the_checkpoint_in_the_checkout_is_the_shipped_model() -> None:
    """benchmarks/models/meteorfast-lite0.pt (for --init and bench --baseline) holds the shipped graph's weights."""
    torch = pytest.importorskip("torch", reason="loading the checkpoint needs torch (the [train] extra)")
    import onnxruntime as ort

    from meteorfast.models import checkpoint_input_size, create, load_weights
    from meteorfast.preprocess import Preprocessor

    ckpt = Path(__file__).resolve().parents[1] / "benchmarks" / "models" / "meteorfast-lite0.pt"
    model = create("efficientnet_lite0", pretrained=False, in_chans=1, head="gap")
    load_weights(model, str(ckpt))
    session = ort.InferenceSession(str(DEFAULT_MODEL), providers=["CPUExecutionProvider"])
    height, width = session.get_inputs()[0].shape[2:]
    assert checkpoint_input_size(ckpt) == (height, width)  # so `train --init` continues at the graph's input size
    x, _ = Preprocessor((int(height), int(width))).batch(sample_clip_frames(step=50))
    with torch.no_grad():
        want = torch.softmax(model.eval()(torch.from_numpy(x)), 1)[:, 1].numpy()
    got = session.run(["prob"], {"frames": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
