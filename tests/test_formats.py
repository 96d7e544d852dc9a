"""RMS station data: FF files and FTPdetectinfo, on synthetic values and on the shared real GMN nights, where each
reader is checked against the other (the FTPdetectinfo track must lie on the FF file's meteor)."""

from __future__ import annotations

import math
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteorfast.errors import BackendUnavailableError, InputError
from meteorfast.formats.ff import FFFile, is_ff_file, parse_ff_name, read_ff
from meteorfast.formats.ftpdetectinfo import (
    Centroid,
    Detection,
    FTPHeader,
    format_ftpdetectinfo,
    parse_ftpdetectinfo,
    read_ftpdetectinfo,
    read_ftpdetectinfo_header,
    write_ftpdetectinfo,
)

FF_NAME = "FF_UK0006_20230421_212224_982_0115712.fits"


def need_astropy() -> Any:
    """astropy's FITS module; the FF tests skip without it (it is in the [test] and [gmn] extras)."""
    return pytest.importorskip("astropy.io.fits", reason="FF files need astropy (the [gmn] extra)")


def gmn_nights(realdata: Path) -> list[Path]:
    nights = sorted(p for p in (realdata / "gmn-ff").glob("*/ConfirmedFiles/*") if p.is_dir())
    assert nights, f"no GMN nights under {realdata / 'gmn-ff'}"
    return nights


def ftp_of(night: Path) -> Path:
    (path,) = night.glob("FTPdetectinfo_*.txt")
    return path


def write_ff(path: Path, planes: list[np.ndarray], **header: object) -> Path:
    """An FF file in RMS's layout: an empty primary HDU with the header keys, then the named image HDUs."""
    fits = need_astropy()
    head = fits.Header()
    keys = {"NROWS": planes[0].shape[0], "NCOLS": planes[0].shape[1], "NBITS": 8, "NFRAMES": 256, "FIRST": 0}
    for key, value in {**keys, "CAMNO": "XX0001", "FPS": 25.0, **header}.items():
        head[key] = value
    names = ["MAXPIXEL", "MAXFRAME", "AVEPIXEL", "STDPIXEL"]
    hdus = [fits.ImageHDU(p, name=n) for p, n in zip(planes, names, strict=False)]
    fits.HDUList([fits.PrimaryHDU(header=head), *hdus]).writeto(path)
    return path


def synthetic_planes(rng: np.random.Generator, h: int = 24, w: int = 40) -> list[np.ndarray]:
    ave = rng.integers(0, 200, (h, w), dtype=np.uint8)
    peak = ave + rng.integers(0, 56, (h, w), dtype=np.uint8)
    return [peak, rng.integers(0, 256, (h, w), dtype=np.uint8), ave, rng.integers(0, 30, (h, w), dtype=np.uint8)]


# --- FF names -----------------------------------------------------------------------------------------------------


def test_parse_ff_name_gives_station_and_utc_start_with_milliseconds() -> None:
    station, start = parse_ff_name(Path("/some/dir") / FF_NAME)
    assert station == "UK0006"
    assert start == datetime(2023, 4, 21, 21, 22, 24, 982000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "name",
    ["FTPdetectinfo_UK0006_20230421_194826_180103.txt", "FF_UK0006_20230421_212224_982.fits",
     "FF_UK0006_20231341_212224_982_0115712.fits", "FF_UK0006_20230421_212224_982_0115712.bin", "mask.bmp"],
)  # fmt: skip
def test_parse_ff_name_rejects_other_names(name: str) -> None:
    with pytest.raises(InputError, match="FF name") as err:
        parse_ff_name(name)
    assert "\n" not in str(err.value)


def test_is_ff_file_needs_the_name_and_a_file(tmp_path: Path) -> None:
    good = tmp_path / FF_NAME
    good.write_bytes(b"")
    (tmp_path / "other.fits").write_bytes(b"")
    assert is_ff_file(good)
    assert not is_ff_file(tmp_path / "other.fits")
    assert not is_ff_file(tmp_path / FF_NAME.replace("212224", "212225"))  # no such file


# --- FF files, synthetic ------------------------------------------------------------------------------------------


def test_synthetic_ff_reads_back_planes_header_and_times(tmp_path: Path, rng: np.random.Generator) -> None:
    planes = synthetic_planes(rng)
    ff = read_ff(write_ff(tmp_path / FF_NAME, planes, FPS=30.0, NFRAMES=200, FIRST=77))
    for got, want in zip((ff.maxpixel, ff.maxframe, ff.avepixel, ff.stdpixel), planes, strict=True):
        assert got.dtype == np.uint8
        assert got.dtype.isnative
        np.testing.assert_array_equal(got, want)
        assert not got.flags.writeable
    assert (ff.station, ff.fps, ff.nframes, ff.first, ff.camno, ff.shape) == (
        "UK0006",
        30.0,
        200,
        77,
        "XX0001",
        (24, 40),
    )
    assert ff.frame_time(0) == ff.start
    assert ff.frame_time(45) - ff.start == timedelta(seconds=1.5)


def test_candidate_is_max_minus_ave_clipped_and_frames_rebuild(tmp_path: Path, rng: np.random.Generator) -> None:
    maxp, maxf, ave, std = synthetic_planes(rng)
    ave[0, :5] = 250  # above MAXPIXEL: the candidate clips at 0 instead of wrapping
    ff = read_ff(write_ff(tmp_path / FF_NAME, [maxp, maxf, ave, std]))
    want = np.clip(maxp.astype(int) - ave.astype(int), 0, 255)
    np.testing.assert_array_equal(ff.candidate(), want)
    assert ff.candidate().dtype == np.uint8
    frame = ff.frame(int(maxf[3, 7]))
    assert frame[3, 7] == maxp[3, 7]
    np.testing.assert_array_equal(frame[maxf != maxf[3, 7]], ave[maxf != maxf[3, 7]])
    with pytest.raises(InputError, match=r"0\.\.255"):
        ff.frame(256)


def test_big_endian_int16_planes_come_back_native_uint8(tmp_path: Path, rng: np.random.Generator) -> None:
    planes = synthetic_planes(rng)
    ff = read_ff(write_ff(tmp_path / FF_NAME, [p.astype(">i2") for p in planes]))
    assert ff.maxframe.dtype == np.uint8
    assert ff.maxframe.dtype.isnative
    np.testing.assert_array_equal(ff.maxframe, planes[1])


def test_renamed_ff_takes_its_start_from_date_obs(tmp_path: Path, rng: np.random.Generator) -> None:
    ff = read_ff(write_ff(tmp_path / "renamed.fits", synthetic_planes(rng), **{"DATE-OBS": "2022-02-26T18:17:11.737"}))
    assert ff.start == datetime(2022, 2, 26, 18, 17, 11, 737000, tzinfo=timezone.utc)
    assert ff.station == "XX0001"


def test_renamed_ff_without_date_obs_says_which_name_it_needs(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_ff(tmp_path / "renamed.fits", synthetic_planes(rng))
    with pytest.raises(InputError, match=r"FF_<STATION>_<YYYYMMDD>"):
        read_ff(path)


def test_fits_with_fewer_planes_is_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_ff(tmp_path / FF_NAME, synthetic_planes(rng)[:2])
    with pytest.raises(InputError, match=r"four images MAXPIXEL, MAXFRAME, AVEPIXEL, STDPIXEL, got 3 HDUs") as err:
        read_ff(path)
    assert "\n" not in str(err.value)


def test_truncated_ff_is_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    whole = write_ff(tmp_path / "whole.fits", synthetic_planes(rng, 720, 1280)).read_bytes()
    cut = tmp_path / FF_NAME
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.warns(UserWarning, match="truncated"), pytest.raises(InputError, match="truncated") as err:
        read_ff(cut)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content", [b"", b"not a FITS file at all" * 200])
def test_non_fits_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / FF_NAME
    path.write_bytes(content)
    with pytest.raises(InputError, match="expected a FITS file"):
        read_ff(path)


def test_missing_ff_is_refused(tmp_path: Path) -> None:
    need_astropy()
    with pytest.raises(InputError, match="expected an existing file"):
        read_ff(tmp_path / FF_NAME)


def test_without_astropy_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "astropy.io", None)  # makes `from astropy.io import fits` fail
    with pytest.raises(BackendUnavailableError, match=r'pip install "meteorfast\[gmn\]"') as err:
        read_ff(tmp_path / FF_NAME)
    assert "\n" not in str(err.value)


# --- FTPdetectinfo, synthetic -------------------------------------------------------------------------------------


def fixed(lo: float, hi: float, places: int) -> st.SearchStrategy[float]:
    """Values that RMS's fixed decimals hold exactly: k / 10**places."""
    scale = 10**places
    return st.integers(round(lo * scale), round(hi * scale)).map(lambda k: k / scale)


centroids = st.builds(
    Centroid,
    frame=fixed(0, 9999, 4), x=fixed(-50, 9999, 2), y=fixed(-50, 9999, 2), ra=fixed(0, 360, 4),
    dec=fixed(-90, 90, 4), azim=fixed(0, 360, 4), elev=fixed(-90, 90, 4), inten=st.integers(0, 9_999_999),
    mag=fixed(-15, 30, 2),
)  # fmt: skip
words = st.text(st.sampled_from("ABCXYZ0123456789_.:-"), min_size=1, max_size=24).filter(lambda s: set(s) != {"-"})
detections = st.builds(
    Detection,
    ff_name=words.map(lambda s: f"FF_{s}.fits"), calibration=st.one_of(st.just("Uncalibrated"), words),
    cam=st.text(st.sampled_from("UK0006XYZ"), min_size=1, max_size=8), meteor=st.integers(0, 99999),
    fps=fixed(0, 9999, 2), hnr=fixed(0, 999, 1), mle=fixed(0, 999, 1), bin=fixed(0, 99, 1),
    pix_per_frame=fixed(0, 9999, 1), rho=fixed(-9999, 9999, 1), phi=fixed(-360, 360, 1),
    centroids=st.lists(centroids, max_size=6).map(tuple),
)  # fmt: skip
headers = st.builds(FTPHeader, processed_with=words.map(lambda s: "Processed with " + s), ff_folder=words,
                    cal_folder=words)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(dets=st.lists(detections, max_size=5), header=headers)
def test_every_field_round_trips_through_the_text(dets: list[Detection], header: FTPHeader) -> None:
    got_header, got = parse_ftpdetectinfo(format_ftpdetectinfo(dets, header))
    assert got == dets
    assert got_header == FTPHeader(header.processed_with, header.ff_folder, header.cal_folder, len(dets))


def test_write_is_atomic_and_crlf_reads_the_same(tmp_path: Path) -> None:
    det = Detection(FF_NAME, "Uncalibrated", "UK0006", 1, 25.0, pix_per_frame=8.3, rho=229.2, phi=-164.5,
                    centroids=(Centroid(181.5648, 416.03, 406.68, inten=1066, mag=2.34),))  # fmt: skip
    path = tmp_path / "FTPdetectinfo_UK0006_20230421_194826_180103.txt"
    path.write_text("old")
    write_ftpdetectinfo(path, [det], newline="\r\n")
    assert path.read_bytes().count(b"\r\n") == path.read_bytes().count(b"\n")
    assert read_ftpdetectinfo(path) == [det]
    assert read_ftpdetectinfo_header(path).processed_with.startswith("Processed with meteorfast")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left beside it
    assert not det.calibrated


def test_nan_centroid_lines_are_left_out_as_rms_does() -> None:
    det = Detection(FF_NAME, "Uncalibrated", "UK0006", 1, 25.0, centroids=(Centroid(1.0, 2.0, 3.0),))
    text = format_ftpdetectinfo([det]).replace("0001 0001", "0001 0002")
    text += "2.0000 0000nan 0000nan 000.00 000.00 000.00 000.00 000001 0.00\n"
    (got,) = parse_ftpdetectinfo(text)[1]
    assert got.centroids == det.centroids


def test_writing_nan_coordinates_is_refused(tmp_path: Path) -> None:
    det = Detection(FF_NAME, "Uncalibrated", "UK0006", 1, 25.0, centroids=(Centroid(1.0, math.nan, 3.0),))
    with pytest.raises(InputError, match="finite frame, Col and Row"):
        write_ftpdetectinfo(tmp_path / "out.txt", [det])
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("field", ["cam", "ff_name", "calibration"])
def test_writing_fields_that_would_break_the_layout_is_refused(field: str) -> None:
    values = {"cam": "UK 0006", "ff_name": "FF_a\nb.fits", "calibration": ""}
    det = Detection(**{"ff_name": FF_NAME, "calibration": "Uncalibrated", "cam": "UK0006", "meteor": 1,
                       "fps": 25.0, field: values[field]})  # fmt: skip
    with pytest.raises(InputError, match="one non-empty line"):
        format_ftpdetectinfo([det])


def good_text() -> str:
    det = Detection(FF_NAME, "Uncalibrated", "UK0006", 1, 25.0, centroids=(Centroid(1.0, 2.0, 3.0),) * 2)
    return format_ftpdetectinfo([det, det])


@pytest.mark.parametrize(
    ("old", "new", "lineno", "what"),
    [
        ("UK0006 0001 0002 0025.00", "UK0006 0001 0002 fast", 15, "the meteor line"),
        ("UK0006 0001 0002 0025.00 000.0", "UK0006 0001 0002 0025.00", 15, "the meteor line"),
        ("1.0000 0002.00 0003.00 000.0000", "1.0000 0002.00 two 000.0000", 16, "a centroid line"),
        ("+00.0000 000000 0.00\n-", "+00.0000\n-", 17, "a centroid line"),
        ("0001 0002", "0001 0001", 17, "1 centroids as the meteor line declares"),
    ],
)  # fmt: skip
def test_malformed_block_names_its_line(old: str, new: str, lineno: int, what: str) -> None:
    text = good_text()
    assert old in text
    with pytest.raises(InputError, match=f"line {lineno}: expected {what}") as err:
        parse_ftpdetectinfo(text.replace(old, new, 1), "night.txt")
    assert "\n" not in str(err.value)


def test_truncated_block_and_foreign_text_are_refused() -> None:
    cut = good_text().split("\n")[:13]  # the last block's rule and its FF name only
    with pytest.raises(InputError, match="line 13: expected an FF name, a calibration line and the meteor line"):
        parse_ftpdetectinfo("\n".join(cut) + "\n" + "-" * 55 + "\n" + FF_NAME + "\n")
    with pytest.raises(InputError, match="line 1: expected 'Meteor Count = N'"):
        parse_ftpdetectinfo("hello\n")


# --- the real GMN nights ------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_ftpdetectinfo_round_trips(realdata: Path, tmp_path: Path) -> None:
    for night in gmn_nights(realdata):
        src = ftp_of(night)
        dets, header = read_ftpdetectinfo(src), read_ftpdetectinfo_header(src)
        assert len(dets) == header.meteor_count > 0
        assert all(len(d.centroids) > 0 and d.calibrated for d in dets)
        out = write_ftpdetectinfo(tmp_path / src.name, dets, header, newline="\r\n")
        assert read_ftpdetectinfo(out) == dets
        assert read_ftpdetectinfo_header(out) == header
        assert out.read_bytes() == src.read_bytes(), f"{src.name}: RMS's layout and number formatting differ"


@pytest.mark.realdata
def test_real_ff_files_read(realdata: Path) -> None:
    need_astropy()
    paths = sorted((realdata / "gmn-ff").rglob("FF_*.fits"))
    assert len(paths) >= 19
    for path in paths:
        ff = read_ff(path)
        assert is_ff_file(path)
        assert (ff.shape, ff.nframes, ff.fps) == ((720, 1280), 256, 25.0)
        assert ff.station == ff.camno == path.name.split("_")[1]
        for plane in (ff.maxpixel, ff.maxframe, ff.avepixel, ff.stdpixel):
            assert plane.shape == (720, 1280)
            assert plane.dtype == np.uint8
            assert plane.dtype.isnative
        assert int(ff.maxframe.max()) <= 255
        assert (ff.maxpixel >= ff.avepixel).all()
        want = ff.maxpixel.astype(np.int16) - ff.avepixel.astype(np.int16)
        np.testing.assert_array_equal(ff.candidate(), np.clip(want, 0, 255))


def track_agreement(ff: FFFile, det: Detection, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per centroid, within 2 px of it: the candidate's peak, the smallest |MAXFRAME - frame|, and |MAXFRAME -
    frame| at the candidate's brightest pixel (``shift`` is added to the centroids' frames)."""
    cand = ff.candidate()
    peaks, nearest, at_peak = [], [], []
    for c in det.centroids:
        x, y = round(c.x), round(c.y)
        win = (slice(max(y - 2, 0), y + 3), slice(max(x - 2, 0), x + 3))
        gaps = np.abs(ff.maxframe[win].astype(float) - (c.frame + shift))
        peaks.append(int(cand[win].max()))
        nearest.append(float(gaps.min()))
        at_peak.append(float(gaps.flat[int(np.argmax(cand[win]))]))
    return np.array(peaks), np.array(nearest), np.array(at_peak)


def confirmed_pairs(realdata: Path) -> list[tuple[FFFile, Detection]]:
    need_astropy()
    pairs = []
    for night in gmn_nights(realdata):
        dets = read_ftpdetectinfo(ftp_of(night))
        for path in sorted(night.glob("FF_*.fits")):
            blocks = [d for d in dets if d.ff_name == path.name]
            assert blocks, f"{path.name} has no block in its night's FTPdetectinfo"
            pairs += [(read_ff(path), d) for d in blocks]
    return pairs


@pytest.mark.realdata
def test_real_tracks_lie_on_the_ff_meteor(realdata: Path) -> None:
    pairs = confirmed_pairs(realdata)
    assert len(pairs) >= 19
    for ff, det in pairs:
        floor = float(np.median(ff.candidate()))
        peaks, nearest, at_peak = track_agreement(ff, det)
        where = f"{ff.path.name} meteor {det.meteor}"
        assert all(0 <= c.frame < ff.nframes for c in det.centroids), where
        assert (peaks >= floor + 10).all(), f"{where}: candidate near the track {peaks} vs median {floor}"
        assert np.median(peaks) >= floor + 25, where
        assert (nearest <= 1.5).all(), f"{where}: MAXFRAME off the centroid frames by {nearest}"
        assert (at_peak <= 3).all(), f"{where}: MAXFRAME at the brightest pixels off by {at_peak}"
        assert np.median(at_peak) <= 1, where
        # a control: the same track ten frames late is not what MAXFRAME says at its brightest pixels
        assert (track_agreement(ff, det, shift=10.0)[2] >= 6).all(), where
