"""The decision threshold a model stores, per mode: parsing, writing a copy, and the detector's choice of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meteorfast.calibration import THRESHOLD_KEY, stored_threshold, stored_thresholds, write_threshold
from meteorfast.detector import Detector
from meteorfast.errors import EngineMismatchError, InputError

onnx = pytest.importorskip("onnx", reason="onnx (the [train] and [test] extras) writes model metadata")


def test_a_number_is_every_modes_threshold_and_an_object_names_its_modes() -> None:
    assert stored_thresholds({}) == {}
    assert stored_thresholds({THRESHOLD_KEY: "0.25"}) == {"frame": 0.25, "stack": 0.25}
    both = {THRESHOLD_KEY: json.dumps({"frame": 0.61, "stack": 0.4})}
    assert stored_threshold(both, "frame") == 0.61
    assert stored_threshold(both, "stack") == 0.4
    assert stored_threshold({THRESHOLD_KEY: '{"frame": 1}'}, "stack") is None  # left to the detector's default
    with pytest.raises(InputError, match="mode"):
        stored_threshold(both, "tile")


@pytest.mark.parametrize(
    "raw", ["0.5x", "1.5", "-0.1", "true", '"0.5"', '{"frame": 2}', '{"frames": 0.5}', '{"stack": null}']
)
def test_a_malformed_stored_threshold_is_refused_with_the_way_out(raw: str) -> None:
    with pytest.raises(EngineMismatchError, match="meteorfast calibrate"):
        stored_thresholds({THRESHOLD_KEY: raw})


def _meta(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _stored_by_hand(src: Path, dst: Path, raw: str) -> Path:
    """A copy of ``src`` whose ``meteorfast.threshold`` metadata is ``raw``, written without write_threshold."""
    model = onnx.load(str(src))
    entry = model.metadata_props.add()
    entry.key, entry.value = THRESHOLD_KEY, raw
    onnx.save(model, str(dst))
    return dst


def test_write_threshold_sets_one_mode_and_keeps_the_rest(spot_model: Path, tmp_path: Path) -> None:
    before = _meta(spot_model)
    assert THRESHOLD_KEY not in before
    one = write_threshold(spot_model, tmp_path / "one.onnx", 0.7, "frame")
    two = write_threshold(one, tmp_path / "two.onnx", 0.3, "stack")
    assert json.loads(_meta(one)[THRESHOLD_KEY]) == {"frame": 0.7}
    after = _meta(two)
    assert json.loads(after.pop(THRESHOLD_KEY)) == {"frame": 0.7, "stack": 0.3}
    assert after == before  # the export's metadata is kept as it was
    # A number stored by hand becomes the other mode's entry when one mode is set.
    number = _stored_by_hand(spot_model, tmp_path / "number.onnx", "0.25")
    three = write_threshold(number, tmp_path / "three.onnx", 0.6, "stack")
    assert json.loads(_meta(three)[THRESHOLD_KEY]) == {"frame": 0.25, "stack": 0.6}
    assert onnx.load(str(two)).graph == onnx.load(str(spot_model)).graph


def test_write_threshold_refuses_bad_input_and_writes_nothing(spot_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.onnx"
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        write_threshold(spot_model, out, 1.2, "frame")
    with pytest.raises(InputError, match="mode"):
        write_threshold(spot_model, out, 0.5, "tiles")
    with pytest.raises(InputError, match=r"existing \.onnx"):
        write_threshold(tmp_path / "missing.onnx", out, 0.5, "frame")
    with pytest.raises(InputError, match=r"existing \.onnx"):
        write_threshold(tmp_path, out, 0.5, "frame")
    assert list(tmp_path.iterdir()) == []


def test_the_detector_takes_its_modes_threshold(spot_model: Path, tmp_path: Path) -> None:
    path = write_threshold(spot_model, tmp_path / "frame.onnx", 0.7, "frame")
    assert Detector(path).open().threshold == 0.7
    assert Detector(path, mode="stack").open().threshold == 0.5  # none stored for stacks: the default
    assert Detector(path, threshold=0.2).open().threshold == 0.2  # a given threshold wins
    both = write_threshold(path, tmp_path / "both.onnx", 0.35, "stack")
    det = Detector(both, mode="stack")
    assert det.open().threshold == 0.35
    assert det.model_threshold("frame") == 0.7
    bad = _stored_by_hand(spot_model, tmp_path / "bad.onnx", '{"frame": 7}')
    with pytest.raises(EngineMismatchError, match="meteorfast calibrate"):
        Detector(bad).open()
