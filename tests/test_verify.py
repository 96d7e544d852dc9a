"""The second look (meteorfast.verify): crops, the band, the stored spec, and the detector deciding the unsure frames
with a verifier's probability at the located point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meteorfast.calibration import THRESHOLD_KEY
from meteorfast.detector import Detector
from meteorfast.errors import EngineMismatchError, InputError
from meteorfast.export.verifier import MEMBERS_KEY, merge
from meteorfast.verify import VERIFY_KEY, VerifySpec, combine, crop_boxes, crops, in_band, read_spec

onnx = pytest.importorskip("onnx", reason="onnx (the [train] and [test] extras) builds the test graphs")


def build_mean_verifier(path: Path, size: int = 64, meta: dict[str, str] | None = None) -> Path:
    """A real ONNX graph with a verifier's I/O: ``prob`` is the mean of the ``size`` px crop / 255, so a test can
    compute what the detector must report; ``meta`` goes into its metadata_props."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["frames"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "inv255"], ["x"]),
        helper.make_node("ReduceMean", ["x", "chw"], ["prob"], keepdims=0),
    ]
    inits = [
        helper.make_tensor("inv255", TensorProto.FLOAT, [], [1 / 255]),
        helper.make_tensor("chw", TensorProto.INT64, [3], [1, 2, 3]),
    ]
    graph = helper.make_graph(
        nodes, "mean", [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["batch", 1, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch"])], inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    for key, value in (meta or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def spec_meta(
    low: float = 0.05, high: float = 0.95, modes: tuple[str, ...] = ("frame",), first_look: str = ""
) -> dict[str, str]:
    return {VERIFY_KEY: VerifySpec(low, high, modes, first_look).to_json()}


def sky_with_spots(spots: list[tuple[int, int, int]], shape: tuple[int, int] = (360, 640)) -> np.ndarray:
    """A dark noisy frame with a 7x7 spot of ``value`` at each ``(x, y, value)`` (wide enough that the area resize to
    the spot model's 224x224 input keeps its value)."""
    img = np.random.default_rng(7).integers(5, 12, shape).astype(np.uint8)
    for x, y, value in spots:
        img[y - 3 : y + 4, x - 3 : x + 4] = value
    return img


def test_crop_boxes_centre_on_the_point_and_stay_inside_the_frame() -> None:
    shapes = [(720, 1280)] * 4 + [(100, 50)]
    boxes = crop_boxes(shapes, [640.5, 3.0, 1279.0, np.nan, 20.0], [360.5, 700.0, 2.0, np.nan, 50.0], (160, 160))
    np.testing.assert_array_equal(boxes[0], [281, 561, 441, 721])  # pixel (360, 640) holds the point: 80 px each side
    np.testing.assert_array_equal(boxes[1], [560, 0, 720, 160])  # pushed inside at the bottom left
    np.testing.assert_array_equal(boxes[2], [0, 1120, 160, 1280])  # and at the top right
    np.testing.assert_array_equal(boxes[3], [280, 560, 440, 720])  # no point: the frame's centre
    np.testing.assert_array_equal(boxes[4], [0, 0, 100, 50])  # a frame smaller than the crop is taken whole
    img = np.arange(720 * 1280, dtype=np.int64).reshape(720, 1280)
    (crop,) = crops([img], [640.5], [360.5], (160, 160))
    assert crop.shape == (160, 160)
    assert crop[80, 80] == img[361, 641]
    with pytest.raises(InputError, match="one point per frame"):
        crop_boxes(shapes, [1.0], [1.0], (160, 160))


def test_the_band_is_closed_below_and_open_above_and_combine_takes_the_second_look_inside_it() -> None:
    spec = VerifySpec(0.05, 0.95)
    first = np.array([0.0, 0.0499, 0.05, 0.5, 0.9499, 0.95, 1.0], np.float32)
    second = np.full(7, 0.25, np.float32)
    np.testing.assert_array_equal(in_band(first, spec), [False, False, True, True, True, False, False])
    expected = np.array([0, 0.0499, 0.25, 0.25, 0.25, 0.95, 1], np.float32)
    np.testing.assert_array_equal(combine(first, second, spec), expected)


def test_with_a_first_look_weight_combine_blends_the_two_logits_inside_the_band_only() -> None:
    spec = VerifySpec(0.05, 0.95, first_weight=0.25)
    first = np.array([0.01, 0.2, 0.6, 0.94, 0.97, 0.3], np.float32)
    second = np.array([0.9, 0.9, 0.1, 0.5, 0.0, 1.0], np.float32)

    def logit(p: float) -> float:
        return float(np.log(p / (1 - p)))

    blend = [
        1 / (1 + np.exp(-(0.25 * logit(a) + 0.75 * logit(b)))) for a, b in zip(first[1:4], second[1:4], strict=True)
    ]
    got = combine(first, second, spec)
    np.testing.assert_allclose(got[1:4], blend, rtol=1e-6)
    assert got[0] == first[0]  # outside the band the first look stands
    assert got[4] == first[4]
    assert 0.99 < got[5] < 1.0  # a verifier's sure 1.0 saturates but stays finite
    assert got.dtype == np.float32
    # The first look pulls the verifier's answer its way: 0.6 with a verifier's 0.1 ends between them.
    assert second[2] < got[2] < first[2]


def test_the_spec_round_trips_and_a_malformed_one_is_refused_with_the_way_out() -> None:
    spec = VerifySpec(0.1, 0.9, ("frame", "stack"), "ab12", 0.25)
    assert read_spec({VERIFY_KEY: spec.to_json()}) == spec
    assert read_spec({VERIFY_KEY: '{"low": 0.1, "high": 0.9}'}) == VerifySpec(0.1, 0.9)  # older verifiers: weight 0
    assert read_spec({}) is None
    for raw in ("0.5", "[0.1, 0.9]", '{"low": 0.1}', '{"low": true, "high": 0.9}', '{"low": 0.9, "high": 0.1}',
                '{"low": 0.1, "high": 0.9, "modes": ["tile"]}', "{", '{"low": 0.1, "high": 0.9, "first_weight": 1}',
                '{"low": 0.1, "high": 0.9, "first_weight": true}'):  # fmt: skip
        with pytest.raises(EngineMismatchError, match="train the verifier again"):
            read_spec({VERIFY_KEY: raw})
    with pytest.raises(InputError, match="band"):
        VerifySpec(0.5, 0.5)
    with pytest.raises(InputError, match="modes"):
        VerifySpec(0.1, 0.9, ())
    with pytest.raises(InputError, match=r"first-look weight in \[0, 1\)"):
        VerifySpec(0.1, 0.9, first_weight=-0.1)


def test_the_verifier_decides_the_unsure_frames_from_a_crop_at_the_located_point(
    spot_model: Path, tmp_path: Path
) -> None:
    verifier = build_mean_verifier(tmp_path / "verify.onnx", 64, spec_meta())
    # The spot model's probability is its brightest pixel / 255: sure (255), unsure (128, 60) and quiet (11).
    frames = [sky_with_spots([(500, 100, 255)]), sky_with_spots([(10, 300, 128)]),
              sky_with_spots([(320, 180, 60), (330, 182, 60)]), sky_with_spots([])]  # fmt: skip
    with Detector(spot_model, verifier=None) as plain:
        first = plain.classify(frames)
    with Detector(spot_model, verifier=verifier) as det:
        assert det.verifying
        assert det.verifier == verifier
        res = det.classify(frames)
    np.testing.assert_allclose(first.prob, [1, 128 / 255, 60 / 255, 11 / 255], atol=1e-6)
    unsure = np.array([False, True, True, False])
    # Only the unsure frames were looked at again, and their results say so.
    assert [d == "second_look" for d in res.decided_by] == unsure.tolist()
    np.testing.assert_array_equal(res.prob[~unsure], first.prob[~unsure])
    # Inside the band the probability is the verifier's on the crop around the very point the detector reports.
    expected = [
        float(c.mean()) / 255 for c in crops([frames[i] for i in (1, 2)], res.x[unsure], res.y[unsure], (64, 64))
    ]
    np.testing.assert_allclose(res.prob[unsure], expected, rtol=1e-5)
    assert (res.prob[unsure] < 0.2).all()
    assert not res.is_meteor[unsure].any()
    np.testing.assert_allclose([res.x[1], res.y[1]], [10.5, 300.5], atol=3)  # near the edge: the crop moved inside
    np.testing.assert_array_equal(res.is_meteor, [True, False, False, False])


def test_the_verifiers_threshold_applies_and_an_explicit_one_must_serve_the_mode(
    spot_model: Path, tmp_path: Path
) -> None:
    stored = build_mean_verifier(tmp_path / "stored.onnx", 64, {**spec_meta(), THRESHOLD_KEY: '{"frame": 0.02}'})
    with Detector(spot_model, verifier=stored) as det:
        assert det.threshold == 0.02  # the verifier's, not the default
        res = det.classify([sky_with_spots([(320, 180, 128)])])
        assert res.is_meteor[0]
        assert 0.02 <= res.prob[0] < 0.05
    with Detector(spot_model, verifier=stored, threshold=0.5) as det:
        assert det.threshold == 0.5
    stack_only = build_mean_verifier(tmp_path / "stack_only.onnx", 64, spec_meta(modes=("stack",)))
    with pytest.raises(InputError, match=r"mode .frame.*verifier=None"):
        Detector(spot_model, verifier=stack_only).open()
    with Detector(spot_model, verifier=stack_only, mode="stack") as det:
        assert det.verifying


def test_a_graph_without_the_verifier_metadata_is_refused(spot_model: Path, tmp_path: Path) -> None:
    plain = build_mean_verifier(tmp_path / "plain.onnx", 64)
    with pytest.raises(EngineMismatchError, match=f"no {VERIFY_KEY}.*--verifier-for"):
        Detector(spot_model, verifier=plain).open()
    with pytest.raises(EngineMismatchError, match="output 'prob'"):
        Detector(spot_model, verifier=spot_model).open()  # a first look is not a verifier either


def test_the_automatic_verifier_is_the_one_shipped_for_a_shipped_model(spot_model: Path) -> None:
    from meteorfast.data import SHIPPED_MODELS, SHIPPED_VERIFIERS, resolve_verifier

    for name, model in SHIPPED_MODELS.items():
        assert resolve_verifier("auto", model) == SHIPPED_VERIFIERS.get(name)
    assert resolve_verifier("auto", spot_model) is None
    assert resolve_verifier("none", SHIPPED_MODELS["default"]) is None
    assert resolve_verifier(None, SHIPPED_MODELS["default"]) is None
    assert resolve_verifier("v.onnx", spot_model) == Path("v.onnx")


def test_the_default_model_ships_a_verifier_for_stills_that_sets_the_threshold() -> None:
    from meteorfast.calibration import stored_threshold
    from meteorfast.data import SHIPPED_MODELS, SHIPPED_VERIFIERS

    shipped = SHIPPED_VERIFIERS["default"]
    meta = {p.key: p.value for p in onnx.load(str(shipped)).metadata_props}
    spec = read_spec(meta)
    stored = stored_threshold(meta, "frame")
    assert spec is not None
    assert stored is not None
    assert spec.modes == ("frame",)
    assert spec.low <= stored <= spec.high  # a still the first look is sure of keeps its answer
    default = SHIPPED_MODELS["default"]
    first_meta = {p.key: p.value for p in onnx.load(str(default), load_external_data=False).metadata_props}
    assert spec.first_look == first_meta["meteorfast.weights_sha256"]  # trained behind these very weights
    assert default.stat().st_size + shipped.stat().st_size <= 20 * 10**6  # the shipped model's size budget
    from meteorfast.evaluate import synthetic_items

    frames = [it.image for it in synthetic_items(12, seed=21)]
    with Detector(verifier=None) as plain:
        first = plain.classify(frames).prob
    band = in_band(first, spec)
    with Detector() as det:
        assert det.verifying
        assert det.verifier == shipped
        assert det.threshold == stored
        res = det.classify(frames)
    # Every still the first look is unsure of gets a crop at native resolution, and no other still does.
    assert [d == "second_look" for d in res.decided_by] == band.tolist()
    np.testing.assert_array_equal(res.prob[~band], first[~band])
    assert np.isfinite(res.prob).all()
    with Detector(mode="stack") as det:
        assert not det.verifying  # it serves stills; stacks go without it
    with Detector("fast") as det:
        assert not det.verifying  # trained behind the default model's points, not the fast one's


def test_cli_eval_and_calibrate_take_the_verifier_and_calibrate_writes_its_copy(
    spot_model: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys
    import tempfile

    from meteorfast import evaluate

    verifier = build_mean_verifier(tmp_path / "verify.onnx", 64, spec_meta(0.0, 1.0))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meteorfast.cli", *args], capture_output=True, text=True,
                              timeout=300, cwd=tempfile.gettempdir())  # fmt: skip

    common = ("--synthetic", "6", "--seed", "3", "--json")
    with_verifier = cli("eval", "--model", str(spot_model), "--verifier", str(verifier), *common)
    assert with_verifier.returncode == 0, with_verifier.stderr
    without = cli("eval", "--model", str(spot_model), "--verifier", "none", *common)
    assert without.returncode == 0, without.stderr
    assert json.loads(with_verifier.stdout)["verifier"] == str(verifier)
    assert json.loads(without.stdout)["verifier"] is None
    items = evaluate.synthetic_items(6, seed=3)
    expected = evaluate.predict(spot_model, items, verifier=verifier)
    assert json.loads(with_verifier.stdout)["roc_auc"] == pytest.approx(
        evaluate.metrics(items, expected, expected.threshold)["roc_auc"], nan_ok=True
    )

    out = cli("calibrate", str(spot_model), "--verifier", str(verifier), "--synthetic", "8", "--seed", "5",
              "--target-fpr", "0.25", "--out", str(tmp_path / "cal.onnx"), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["verifier"] == str(verifier)
    calib = evaluate.synthetic_items(8, seed=5)
    labels = np.array([it.label for it in calib])
    want = evaluate.threshold_for_fpr(evaluate.predict(spot_model, calib, verifier=verifier).prob, labels, 0.25)
    assert report["threshold"] == pytest.approx(want, rel=0, abs=1e-7)
    written = {p.key: p.value for p in onnx.load(str(tmp_path / "cal.onnx")).metadata_props}
    assert read_spec(written) == VerifySpec(0.0, 1.0)  # a copy of the verifier, its band kept
    with Detector(spot_model, verifier=tmp_path / "cal.onnx") as det:
        assert det.threshold == pytest.approx(want, rel=0, abs=1e-7)
    with Detector(spot_model, verifier=None) as det:
        assert det.threshold == 0.5  # the model itself was not touched


def test_merged_verifiers_see_the_centre_of_one_crop_each_at_its_size_and_give_their_mean(
    spot_model: Path, tmp_path: Path
) -> None:
    import onnxruntime as ort

    described = {"meteorfast.input": json.dumps({"name": "frames", "channels": 1, "height": 32, "width": 32})}
    big = build_mean_verifier(tmp_path / "big.onnx", 64, spec_meta(first_look="f1"))
    small = build_mean_verifier(tmp_path / "small.onnx", 32, {**spec_meta(first_look="f1"), **described})
    merged = merge([small, big], tmp_path / "merged.onnx", first_weight=0.25)
    meta = {p.key: p.value for p in onnx.load(str(merged)).metadata_props}
    assert json.loads(meta["meteorfast.input"]) == {"name": "frames", "channels": 1, "height": 64, "width": 64}
    assert read_spec(meta) == VerifySpec(0.05, 0.95, ("frame",), "f1", 0.25)
    assert [m["size"] for m in json.loads(meta[MEMBERS_KEY])] == [[32, 32], [64, 64]]
    assert THRESHOLD_KEY not in meta  # the members' thresholds do not hold for their mean: calibrate sets one
    x = np.random.default_rng(3).integers(0, 256, (3, 1, 64, 64), dtype=np.uint8)
    x[:, :, 16:48, 16:48] //= 4  # a darker centre, so that a member looking elsewhere would be caught
    (prob,) = ort.InferenceSession(str(merged)).run(["prob"], {"frames": x})
    want = (x.mean(axis=(1, 2, 3)) + x[:, :, 16:48, 16:48].mean(axis=(1, 2, 3))) / 2 / 255
    np.testing.assert_allclose(prob, want, rtol=1e-5)
    assert prob.shape == (3,)

    # In the detector: the crop is the largest member's, and the blend with the first look decides.
    frames = [sky_with_spots([(200, 150, 128), (205, 152, 128)]), sky_with_spots([(500, 100, 255)])]
    with Detector(spot_model, verifier=None) as plain:
        first = plain.classify(frames).prob
    with Detector(spot_model, verifier=merged) as det:
        res = det.classify(frames)
    (crop,) = crops([frames[0]], res.x[:1], res.y[:1], (64, 64))
    second = np.float32((crop.mean() + crop[16:48, 16:48].mean()) / 2 / 255)
    want0 = combine(first[:1], np.array([second]), VerifySpec(0.05, 0.95, first_weight=0.25))[0]
    assert res.prob[0] == pytest.approx(want0, rel=1e-5)
    assert res.prob[1] == first[1]  # a sure first look is not looked at again


def test_merging_refuses_verifiers_of_different_bands_or_first_looks_and_graphs_that_are_not_verifiers(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    a = build_mean_verifier(tmp_path / "a.onnx", 64, spec_meta(first_look="f1"))
    with pytest.raises(InputError, match="two or more"):
        merge([a], tmp_path / "m.onnx")
    other_band = build_mean_verifier(tmp_path / "b.onnx", 64, spec_meta(0.1, 0.9, first_look="f1"))
    with pytest.raises(InputError, match=r"one band, modes and first look.*same model"):
        merge([a, other_band], tmp_path / "m.onnx")
    other_first = build_mean_verifier(tmp_path / "c.onnx", 64, spec_meta(first_look="f2"))
    with pytest.raises(InputError, match="first look"):
        merge([a, other_first], tmp_path / "m.onnx")
    plain = build_mean_verifier(tmp_path / "plain.onnx", 64)
    with pytest.raises(InputError, match=f"no {VERIFY_KEY}"):
        merge([a, plain], tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meteorfast.cli", *args], capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    bad = cli("merge-verifiers", str(a), str(other_band), "--out", str(tmp_path / "m.onnx"))
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
    good = cli("merge-verifiers", str(a), str(a), "--first-weight", "0.5", "--out", str(tmp_path / "m.onnx"))
    assert good.returncode == 0, good.stderr
    assert "meteorfast calibrate" in good.stdout
    assert read_spec({p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}) == VerifySpec(
        0.05, 0.95, ("frame",), "f1", 0.5
    )
