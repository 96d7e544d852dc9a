"""The PyAV decoder (``decoder="pyav"``, the ``[pyav]`` extra): same frames as OpenCV on the bundled GMN clip, true
timestamps for variable frame rates, 16-bit video kept at 16 bits, damaged packets skipped and counted."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV (the [pyav] extra) is not installed")

from meteorfast.data import SAMPLE_VIDEO  # noqa: E402
from meteorfast.errors import InputError  # noqa: E402
from meteorfast.stream.sources import PyAVSource, VideoFileSource, open_source  # noqa: E402


def write_video(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, src_fmt: str,
                times_ms: list[int] | None = None) -> None:  # fmt: skip
    """Encode ``frames`` with PyAV; ``times_ms`` sets each frame's presentation time (else 25 fps)."""
    from fractions import Fraction

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        if times_ms is not None:
            stream.time_base = Fraction(1, 1000)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format=src_fmt)
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_the_gmn_clip_decodes_as_opencv_decodes_it() -> None:
    ours = list(open_source(SAMPLE_VIDEO, decoder="pyav"))
    theirs = list(VideoFileSource(SAMPLE_VIDEO))
    assert len(ours) == len(theirs) == 201
    assert [f.index for f in ours] == list(range(201))
    np.testing.assert_allclose([f.time_s for f in ours], [f.time_s for f in theirs], atol=1e-6)
    # PyAV takes grey as the luma plane, OpenCV converts to BGR and back: the same picture within rounding.
    diff = [np.abs(a.image.astype(int) - b.image.astype(int)) for a, b in zip(ours, theirs, strict=True)]
    assert ours[0].image.dtype == np.uint8
    assert ours[0].image.shape == (720, 1280)
    assert max(float(d.mean()) for d in diff) < 2.0
    assert np.percentile(np.concatenate([d.ravel() for d in diff[::20]]), 99) <= 4


def test_variable_frame_rate_keeps_each_frames_own_time(tmp_path: Path) -> None:
    times = [0, 40, 80, 400, 440, 1000]  # a stall of 0.32 s and one of 0.56 s
    frames = [np.full((32, 48), 10 * i, np.uint8) for i in range(len(times))]
    path = tmp_path / "vfr.mkv"
    write_video(path, frames, "ffv1", "gray", "gray", times)
    got = list(PyAVSource(path))
    assert [f.index for f in got] == list(range(len(times)))
    np.testing.assert_allclose([f.time_s for f in got], np.array(times) / 1e3, atol=1e-6)
    assert [int(f.image[0, 0]) for f in got] == [10 * i for i in range(len(times))]


def test_16_bit_grey_video_keeps_its_depth(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 65536, (24, 40), dtype=np.uint16) for _ in range(5)]
    path = tmp_path / "deep.mkv"
    write_video(path, frames, "ffv1", "gray16le", "gray16le")  # lossless
    got = list(PyAVSource(path))
    assert len(got) == 5
    for f, want in zip(got, frames, strict=True):
        assert f.image.dtype == np.uint16
        np.testing.assert_array_equal(f.image, want)
    colour = next(iter(PyAVSource(path, grey=False)))
    assert colour.image.dtype == np.uint16
    assert colour.image.shape == (24, 40, 3)


def test_a_damaged_packet_is_skipped_counted_and_indices_move_on(tmp_path: Path) -> None:
    frames = [np.full((48, 64), 20 * i, np.uint8) for i in range(10)]
    good = tmp_path / "good.avi"
    write_video(good, frames, "mjpeg", "yuvj420p", "gray")
    data = bytearray(good.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]  # JPEG SOI per frame
    assert len(starts) == 10
    data[starts[4] : starts[5] - 8] = bytes(starts[5] - 8 - starts[4])  # frame 4's JPEG, up to the next chunk header
    bad = tmp_path / "bad.avi"
    bad.write_bytes(bytes(data))
    src = PyAVSource(bad)
    events: list[tuple[str, int, str]] = []
    src.watch(lambda kind, count, message: events.append((kind, count, message)))
    got = list(src)
    assert [f.index for f in got] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert [round(float(f.image.mean()) / 20) for f in got] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    np.testing.assert_allclose([f.time_s for f in got], np.array([f.index for f in got]) / 25, atol=1e-6)
    assert [(k, c) for k, c, _ in events] == [("skipped", 1)]
    assert "frame 4" in events[0][2]


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "FFmpeg can open"), (b"\x00" * 4096, "FFmpeg can open"), (None, "existing file")],
    ids=["empty", "zeros", "missing"],
)
def test_files_it_cannot_read_fail_with_the_path(tmp_path: Path, content: bytes | None, match: str) -> None:
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        PyAVSource(path)
    assert str(path) in str(info.value)


def test_unknown_decoder_is_refused() -> None:
    with pytest.raises(InputError, match="decoder one of"):
        open_source(SAMPLE_VIDEO, decoder="gstreamer")


def test_cli_detect_with_the_pyav_decoder(tmp_path: Path) -> None:
    frames = [np.full((72, 128), 15, np.uint8) for _ in range(30)]
    path = tmp_path / "sky.mkv"
    write_video(path, frames, "ffv1", "gray", "gray")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "detect", str(path), "--decoder", "pyav", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(line) for line in (out / "sources.jsonl").read_text().splitlines()]
    assert row["frames"] == 30
