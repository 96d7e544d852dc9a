"""Training smoke run (one short epoch on the tiny model) and evaluation on a small synthetic set."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from meteorfast import evaluate
from meteorfast.errors import InputError
from meteorfast.evaluate import EvalItem, Predictions

torch = pytest.importorskip("torch", reason="torch (the [train] extra) is needed to train")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from meteorfast.train import TrainConfig, train

    out = tmp_path_factory.mktemp("train")
    cfg = TrainConfig(arch="tiny", pretrained=False, epochs=1, steps_per_epoch=3, batch_size=8, input_size=(64, 64),
                      synth_size=(90, 160), val_size=16)  # fmt: skip
    report = train(cfg, out, log=lambda _msg: None)
    assert report.history[0]["epoch"] == 1
    assert np.isfinite(report.history[0]["loss"])
    return out


def test_training_writes_checkpoint_onnx_and_card(trained: Path) -> None:
    from meteorfast.models import create, load_weights

    assert (trained / "model.pt").is_file()
    assert (trained / "model.onnx").is_file()
    from meteorfast.cli import build_parser, train_config
    from meteorfast.train import TrainConfig

    card = (trained / "MODEL_CARD.md").read_text()
    assert "No real frame was used in training" in card
    command = next(line for line in card.splitlines() if line.startswith("- Command:")).split("`")[1]
    args = build_parser().parse_args(command.split()[1:])  # the card's command reproduces the run
    assert train_config(args) == TrainConfig(arch="tiny", pretrained=False, epochs=1, steps_per_epoch=3, batch_size=8,
                                             input_size=(64, 64), synth_size=(90, 160), val_size=16)  # fmt: skip
    assert args.out == str(trained)
    model = create("tiny")
    load_weights(model, trained / "model.pt")  # the checkpoint loads back, e.g. for --init


def test_fine_tuning_continues_at_the_checkpoints_input_size(trained: Path, tmp_path: Path) -> None:
    import torch

    from meteorfast.cli import build_parser, train_config
    from meteorfast.models import checkpoint_input_size, create, load_weights

    ckpt = str(trained / "model.pt")
    assert checkpoint_input_size(ckpt) == (64, 64)
    parse = build_parser().parse_args
    assert train_config(parse(["train", "--arch", "tiny", "--init", ckpt, "--out", "o"])).input_size == (64, 64)
    # An explicit size still wins: that is how a model moves to a new input (run 12 went from 224x224 to 224x384).
    assert train_config(parse(["train", "--init", ckpt, "--input-size", "224,384", "--out", "o"])).input_size == (
        224, 384)  # fmt: skip
    # A plain state dict (a checkpoint from before the metadata, or torch.save(model.state_dict())) records no size.
    plain = tmp_path / "plain.pt"
    model = create("tiny")
    load_weights(model, ckpt)
    torch.save(model.state_dict(), plain)
    assert checkpoint_input_size(plain) is None
    assert train_config(parse(["train", "--arch", "tiny", "--init", str(plain), "--out", "o"])).input_size == (224, 224)
    again = create("tiny")
    load_weights(again, plain)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value, rtol=0, atol=0)


class _Stop(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    import torch

    from meteorfast.train import STATE_FILE, TrainConfig, train

    cfg = TrainConfig(arch="tiny", pretrained=False, epochs=3, steps_per_epoch=2, batch_size=8, input_size=(64, 64),
                      synth_size=(90, 160), val_size=16, seed=5)  # fmt: skip
    whole = train(cfg, tmp_path / "whole", log=lambda _msg: None)
    assert not (tmp_path / "whole" / STATE_FILE).exists()  # removed once the run is done

    def stop_after_epoch_2(msg: str) -> None:
        if json.loads(msg).get("epoch") == 2:
            raise _Stop  # as a kill right after the epoch's state was written

    with pytest.raises(_Stop):
        train(cfg, tmp_path / "cut", log=stop_after_epoch_2)
    assert (tmp_path / "cut" / STATE_FILE).exists()
    assert not (tmp_path / "cut" / "model.pt").exists()
    with pytest.raises(InputError, match="another configuration"):
        train(TrainConfig(**{**cfg.__dict__, "lr": 5e-4}), tmp_path / "cut", log=lambda _msg: None)
    logged: list[str] = []
    resumed = train(TrainConfig(**{**cfg.__dict__, "threads": 1}), tmp_path / "cut", log=logged.append)  # fewer CPUs
    assert json.loads(logged[0]) == {"resumed": str(tmp_path / "cut" / STATE_FILE), "epoch": 2}
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    # The first two epochs are the cut run's, kept in its state; the third is trained after the resume.
    for mine, theirs in zip(resumed.history, whole.history, strict=True):
        assert mine["loss"] == pytest.approx(theirs["loss"], abs=1e-6)
        assert mine["val_accuracy"] == theirs["val_accuracy"]
    a = torch.load(whole.checkpoint, map_location="cpu", weights_only=True)["model"]
    b = torch.load(resumed.checkpoint, map_location="cpu", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    assert resumed.cpu_seconds > 0
    assert not (tmp_path / "cut" / STATE_FILE).exists()


def test_training_batches_are_deterministic_and_balanced() -> None:
    from meteorfast.train import TrainConfig, batches

    cfg = TrainConfig(arch="tiny", batch_size=16, input_size=(64, 64), synth_size=(90, 160))
    (x1, y1), (x2, y2) = next(batches(cfg, 5, 1)), next(batches(cfg, 5, 1))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (16, 1, 64, 64)
    assert x1.dtype == np.uint8
    assert set(np.unique(y1)) <= {0, 1}
    xs = np.concatenate([y for _, y in batches(cfg, 0, 6)])
    assert 0.25 < xs.mean() < 0.75
    stacked = next(batches(TrainConfig(arch="tiny", batch_size=4, input_size=(64, 64), synth_size=(90, 160),
                                       representation="stack"), 0, 1))  # fmt: skip
    assert stacked[0].shape == (4, 1, 64, 64)


@pytest.mark.parametrize("aspect", [1.0, 384 / 224])
def test_native_crops_take_the_inputs_aspect_and_keep_the_streak(aspect: float) -> None:
    """A crop is as wide as the model input for its height (a wide model's resize then does not squash it) and
    always shows part of the meteor it is labelled with."""
    import cv2

    from meteorfast.train import native_crop

    rng = np.random.default_rng(4)
    for _ in range(60):
        img = np.zeros((720, 1280), np.uint8)
        x0, y0 = rng.uniform(0, 1280), rng.uniform(0, 720)
        seg = (
            x0,
            y0,
            float(np.clip(x0 + rng.uniform(-300, 300), 0, 1279)),
            float(np.clip(y0 + rng.uniform(-300, 300), 0, 719)),
        )
        cv2.line(img, (round(seg[0]), round(seg[1])), (round(seg[2]), round(seg[3])), 255, 1)
        crop = native_crop(img, seg, rng, aspect=aspect)
        h, w = crop.shape
        assert 224 <= h <= 720
        assert abs(w - h * aspect) <= 0.5, (h, w)
        assert crop.max() == 255
        assert native_crop(img, None, rng, aspect=aspect).shape[0] >= 224


def test_kind_weights_reach_the_batches_and_the_cards_command() -> None:
    from meteorfast.cli import build_parser, train_config
    from meteorfast.errors import InputError
    from meteorfast.train import TrainConfig, _cli_args, batches

    base = TrainConfig(arch="tiny", batch_size=8, input_size=(64, 64), synth_size=(90, 160), stack_fraction=0.5)
    weighted = TrainConfig(**{**base.__dict__, "kind_weights": (("satellite", 4.0), ("faint_meteor", 2.5))})
    assert weighted.weights == {"satellite": 4.0, "faint_meteor": 2.5}
    assert not np.array_equal(next(batches(base, 0, 1))[0], next(batches(weighted, 0, 1))[0])
    args = build_parser().parse_args(["train", *_cli_args(weighted, Path("out"))])
    assert train_config(args) == weighted
    with pytest.raises(InputError, match="each kind weighted once"):
        TrainConfig(kind_weights=(("satellite", 2.0), ("satellite", 3.0)))
    with pytest.raises(InputError, match="kind weights >= 0"):
        TrainConfig(kind_weights=(("ufo", 2.0),))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--out", "x", "--kind-weight", "satellite"])


def test_short_meteors_reach_the_batches_and_the_cards_command() -> None:
    from meteorfast.cli import build_parser, train_config
    from meteorfast.train import TrainConfig, _cli_args, batches

    base = TrainConfig(arch="tiny", batch_size=8, input_size=(64, 64), synth_size=(90, 160), stack_fraction=0.5)
    short = TrainConfig(**{**base.__dict__, "short_fraction": 0.5})
    x_base, _ = next(batches(base, 3, 1))
    x_short, _ = next(batches(short, 3, 1))
    assert x_short.shape == x_base.shape
    assert not np.array_equal(x_base, x_short)
    np.testing.assert_array_equal(next(batches(short, 3, 1))[0], x_short)
    args = build_parser().parse_args(["train", *_cli_args(short, Path("out"))])
    assert train_config(args) == short
    with pytest.raises(InputError, match=r"short_fraction in \[0, 1\]"):
        TrainConfig(short_fraction=1.5)


@pytest.fixture(scope="module")
def verifier(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from meteorfast.train import TrainConfig, train

    out = tmp_path_factory.mktemp("verifier")
    cfg = TrainConfig(arch="tiny", pretrained=False, epochs=1, steps_per_epoch=2, batch_size=8, input_size=(64, 64),
                      synth_size=(90, 160), val_size=16, verifier_for=str(trained / "model.onnx"),
                      verify_band=(0.0, 1.0))  # fmt: skip
    report = train(cfg, out, log=lambda _msg: None)
    assert np.isfinite(report.history[0]["loss"])
    return out, cfg


def test_a_verifier_trains_behind_its_first_look_and_records_its_band(
    trained: Path, verifier: tuple[Path, object]
) -> None:
    import onnx

    from meteorfast.cli import build_parser, train_config
    from meteorfast.detector import Detector
    from meteorfast.verify import VerifySpec, read_spec

    out, cfg = verifier
    meta = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    first = {p.key: p.value for p in onnx.load(str(trained / "model.onnx")).metadata_props}
    assert read_spec(meta) == VerifySpec(0.0, 1.0, ("frame",), first["meteorfast.weights_sha256"])
    card = (out / "MODEL_CARD.md").read_text()
    assert f"a verifier (second look) behind `{trained / 'model.onnx'}`" in card
    command = next(line for line in card.splitlines() if line.startswith("- Command:")).split("`")[1]
    assert train_config(build_parser().parse_args(command.split()[1:])) == cfg
    frames = [it.image for it in evaluate.synthetic_items(6, seed=31, size=(90, 160))]
    with Detector(trained / "model.onnx", verifier=out / "model.onnx") as det:
        res = det.classify(frames)
    assert set(res.decided_by) == {"second_look"}  # a band of [0, 1) sends every frame to the second look
    assert ((res.prob >= 0) & (res.prob <= 1)).all()


def test_verifier_batches_are_deterministic_crops_of_the_input_size(verifier: tuple[Path, object]) -> None:
    from meteorfast.cli import build_parser, train_config
    from meteorfast.train import VERIFY_INPUT, TrainConfig, batches

    _, cfg = verifier
    assert isinstance(cfg, TrainConfig)
    (x1, y1), (x2, y2) = next(batches(cfg, 3, 1)), next(batches(cfg, 3, 1))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (8, 1, 64, 64)
    labels = np.concatenate([y for _, y in batches(cfg, 0, 4)])
    assert 0 < labels.mean() < 1
    # A verifier trains on its crops' size, not on the input size its starting checkpoint records.
    parse = build_parser().parse_args
    args = parse(["train", "--verifier-for", "default", "--init", "benchmarks/models/meteorfast-lite0.pt",
                  "--out", "o"])  # fmt: skip
    assert train_config(args).input_size == VERIFY_INPUT
    with pytest.raises(SystemExit):
        parse(["train", "--verifier-for", "default", "--verify-band", "0.9,0.1", "--out", "o"])
    with pytest.raises(InputError, match="verify band"):
        TrainConfig(verify_band=(0.5, 0.5))


def test_eval_on_synthetic_items(trained: Path, tmp_path: Path) -> None:
    items = evaluate.synthetic_items(12, seed=777, size=(90, 160))
    pred = evaluate.predict(trained / "model.onnx", items)
    assert pred.prob.shape == (12,)
    assert ((pred.prob >= 0) & (pred.prob <= 1)).all()
    assert ((pred.x >= 0) & (pred.x <= 160) & (pred.y >= 0) & (pred.y <= 90)).all()
    m = evaluate.metrics(items, pred)
    assert set(m) >= {"precision", "recall", "f1", "accuracy", "roc_auc", "confusion", "fpr_by_confounder",
                      "loc_median_px", "loc_p95_px", "loc_hit5", "threshold", "n"}  # fmt: skip
    assert m["n"] == 12
    assert sum(m["confusion"].values()) == 12
    plot = evaluate.pr_plot(items, pred, tmp_path / "pr.png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_eval_json(trained: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "eval", "--model", str(trained / "model.onnx"), "--synthetic", "8",
         "--seed", "4", "--json", "--target-fpr", "0.25"],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n"] == 8
    assert result["model"].endswith("model.onnx")
    assert result["satellite_veto"] == "auto"  # judges the stills, which all 8 are
    assert result["rescue"] == "auto"
    assert result["star_veto"] is False  # off unless asked for
    off = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "eval", "--model", str(trained / "model.onnx"), "--synthetic", "8",
         "--seed", "4", "--json", "--target-fpr", "0.25", "--no-satellite-veto", "--no-rescue",
         "--star-veto"],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["satellite_veto"] is False
    assert json.loads(off.stdout)["rescue"] is False
    assert json.loads(off.stdout)["star_veto"] is True
    # Without --json the same report comes as text, one line per breakdown, at the same threshold.
    text = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "eval", "--model", str(trained / "model.onnx"), "--synthetic", "8",
         "--seed", "4", "--target-fpr", "0.25"],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    ).stdout  # fmt: skip
    c = result["confusion"]
    assert f"confusion tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']}" in text
    lengths = next(line for line in text.splitlines() if line.startswith("recall by streak length (px): "))
    for k, v in result["recall_by_length"].items():
        assert f"{k} {v:.3f} of {result['n_by_length'][k]}" in lengths


def test_cli_eval_tta_scores_the_mirror_averaged_probabilities(trained: Path) -> None:
    model = trained / "model.onnx"
    out = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "eval", "--model", str(model), "--synthetic", "8", "--seed", "4",
         "--json", "--tta", "--target-fpr", "0.25"],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["tta"] is True
    items = evaluate.synthetic_items(8, seed=4)
    labels = np.array([it.label for it in items])
    pred = evaluate.predict(model, items, tta=True)
    # The calibrated threshold is one of the scored probabilities, so it tells the averaged ones from the plain ones.
    want = evaluate.threshold_for_fpr(pred.prob, labels, 0.25)
    assert result["threshold"] == pytest.approx(want, rel=0, abs=1e-7)
    plain = evaluate.threshold_for_fpr(evaluate.predict(model, items).prob, labels, 0.25)
    assert plain != pytest.approx(want, rel=0, abs=1e-7)
    assert result["confusion"] == evaluate.metrics(items, pred, want)["confusion"]


def test_cli_eval_calibrates_the_threshold_on_another_seed(trained: Path) -> None:
    model = trained / "model.onnx"

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "meteorfast.cli", "eval", "--model", str(model), "--synthetic", "8", "--seed", "4",
             "--json", *extra],
            capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
        )  # fmt: skip

    out = cli("--target-fpr", "0.25", "--calibrate-seed", "5")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    calib = evaluate.synthetic_items(8, seed=5)
    want = evaluate.threshold_for_fpr(evaluate.predict(model, calib).prob, np.array([it.label for it in calib]), 0.25)
    assert result["threshold"] == pytest.approx(want, rel=0, abs=1e-7)
    assert result["calibration"] == {"seed": 5, "n": 8, "target_fpr": 0.25}
    scored = evaluate.synthetic_items(8, seed=4)
    own = evaluate.threshold_for_fpr(evaluate.predict(model, scored).prob, np.array([it.label for it in scored]), 0.25)
    assert own != pytest.approx(want, rel=0, abs=1e-7)  # the scored items' own threshold would differ
    assert result["confusion"] == evaluate.metrics(scored, evaluate.predict(model, scored), want)["confusion"]
    for bad in (["--calibrate-seed", "5"], ["--target-fpr", "0.25", "--calibrate-seed", "4"]):
        out = cli(*bad)
        assert out.returncode == 2
        assert "--calibrate-seed" in out.stderr
        assert "Traceback" not in out.stderr


def test_cli_calibrate_stores_the_threshold_that_eval_and_the_detector_then_use(trained: Path, tmp_path: Path) -> None:
    from meteorfast.detector import Detector

    model = trained / "model.onnx"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meteorfast.cli", *args], capture_output=True, text=True,
                              timeout=300, cwd=tempfile.gettempdir())  # fmt: skip

    out = cli("calibrate", str(model), "--synthetic", "8", "--seed", "5", "--target-fpr", "0.25",
              "--out", str(tmp_path / "cal.onnx"), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    calib = evaluate.synthetic_items(8, seed=5)
    labels = np.array([it.label for it in calib])
    want = evaluate.threshold_for_fpr(evaluate.predict(model, calib).prob, labels, 0.25)
    assert report["threshold"] == pytest.approx(want, rel=0, abs=1e-7)
    assert report["fpr"] <= 0.25
    assert report["negatives"] == int((labels == 0).sum())
    assert Detector(tmp_path / "cal.onnx").open().threshold == pytest.approx(want, rel=0, abs=1e-7)
    assert Detector(tmp_path / "cal.onnx", mode="stack").open().threshold == 0.5

    def evaluated(m: Path, *extra: str) -> dict[str, object]:
        res = cli("eval", "--model", str(m), "--synthetic", "8", "--seed", "4", "--json", *extra)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    scored = evaluate.synthetic_items(8, seed=4)
    # The stills' second opinion (the proposal net's veto and rescue) acts on each side of the detector's threshold,
    # so the predictions to score are the calibrated copy's own.
    pred = evaluate.predict(tmp_path / "cal.onnx", scored)
    result = evaluated(tmp_path / "cal.onnx")  # eval scores at the model's own threshold
    assert result["threshold"] == pytest.approx(want, rel=0, abs=1e-7)
    assert result["confusion"] == evaluate.metrics(scored, pred, want)["confusion"]
    assert evaluated(tmp_path / "cal.onnx", "--threshold", "0.5")["threshold"] == 0.5
    assert evaluated(model)["threshold"] == 0.5

    # A stack threshold joins the frame one in a further copy.
    out = cli("calibrate", str(tmp_path / "cal.onnx"), "--synthetic", "4", "--representation", "stack",
              "--target-fpr", "0", "--out", str(tmp_path / "both.onnx"), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    stack = json.loads(out.stdout)["threshold"]
    det = Detector(tmp_path / "both.onnx", mode="stack")
    assert det.open().threshold == pytest.approx(stack, rel=0, abs=1e-7)
    assert det.model_threshold("frame") == pytest.approx(want, rel=0, abs=1e-7)

    for bad, says in (
        (["calibrate", str(model), "--target-fpr", "0.1", "--out", str(tmp_path / "x.onnx")], "--synthetic N or"),
        (["calibrate", str(model), "--synthetic", "4", "--target-fpr", "1", "--out", str(tmp_path / "x.onnx")],
         "--target-fpr"),
        (["eval", "--model", str(model), "--synthetic", "4", "--threshold", "0.5", "--target-fpr", "0.1"],
         "--threshold or --target-fpr"),
    ):  # fmt: skip
        res = cli(*bad)
        assert res.returncode == 2, res.stderr
        assert says in res.stderr
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_metrics_by_hand() -> None:
    """Known answers: two meteors, two negatives; one miss, one false alarm from a satellite."""
    items = [
        EvalItem(np.zeros((4, 4), np.uint8), 1, None, ((0.0, 0.0, 10.0, 0.0),)),
        EvalItem(np.zeros((4, 4), np.uint8), 1, None, ((0.0, 0.0, 0.0, 10.0),)),
        EvalItem(np.zeros((4, 4), np.uint8), 0, "satellite", ()),
        EvalItem(np.zeros((4, 4), np.uint8), 0, "clean", ()),
    ]
    pred = Predictions(np.array([0.9, 0.2, 0.8, 0.1], np.float32), np.array([5, 0, 0, 0], np.float32),
                       np.array([3, 0, 0, 0], np.float32))  # fmt: skip
    m = evaluate.metrics(items, pred, 0.5)
    assert m["confusion"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert m["precision"] == 0.5
    assert m["recall"] == 0.5
    assert m["fpr_by_confounder"] == {"clean": 0.0, "satellite": 1.0}
    assert m["n_by_confounder"] == {"clean": 1, "satellite": 1}
    assert m["n_by_kind"] == {"meteor": 2}
    assert m["recall_by_length"] == {"<60": 0.5}  # both streaks are 10 px long
    assert m["n_by_length"] == {"<60": 2}
    assert m["recall_by_length_ci95"]["<60"] == pytest.approx(evaluate.wilson_interval(1, 2))
    assert m["fpr_by_confounder_ci95"]["clean"][0] == 0.0
    assert m["fpr_by_confounder_ci95"]["satellite"][1] == 1.0
    assert m["precision_ci95"] == pytest.approx(evaluate.wilson_interval(1, 2))
    assert m["loc_median_px"] == pytest.approx(3.0)  # (5, 3) is 3 px from the segment y = 0
    assert m["roc_auc"] == pytest.approx(0.75)
    assert evaluate.threshold_for_fpr(pred.prob, np.array([1, 1, 0, 0]), 0.0) > 0.8
    assert evaluate.point_to_segment(20, 0, (0, 0, 10, 0)) == pytest.approx(10)


def test_recall_by_length_bins_each_meteor_by_its_summed_segments() -> None:
    """A stack's meteor has one segment per frame; its length is their sum. Meteors with no segments (a folder
    without labels.json) are left out of the bins, and bins with no meteor are left out of the report."""
    blank = np.zeros((4, 4), np.uint8)
    items = [
        EvalItem(blank, 1, None, ((0.0, 0.0, 59.0, 0.0),)),
        EvalItem(blank, 1, None, ((0.0, 0.0, 60.0, 0.0),)),  # an edge belongs to the bin above it
        EvalItem(blank, 1, None, ((0.0, 0.0, 30.0, 40.0), (30.0, 40.0, 60.0, 80.0))),  # 50 + 50 px
        EvalItem(blank, 1, None, ((0.0, 0.0, 300.0, 0.0),)),
        EvalItem(blank, 1, None, ()),
        EvalItem(blank, 0, "satellite", ()),
    ]
    pred = Predictions(np.array([0.9, 0.1, 0.8, 0.2, 0.9, 0.9], np.float32), np.zeros(6, np.float32),
                       np.zeros(6, np.float32))  # fmt: skip
    m = evaluate.metrics(items, pred, 0.5)
    assert m["n_by_length"] == {"<60": 1, "60-120": 2, ">=250": 1}
    assert m["recall_by_length"] == {"<60": 1.0, "60-120": 0.5, ">=250": 0.0}
    assert list(m["recall_by_length"]) == ["<60", "60-120", ">=250"]
    assert evaluate.length_bin(249.9) == "120-250"
    assert evaluate.length_bin(250.0) == ">=250"


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (1, 37), (36, 37), (283, 300), (7, 7)])
def test_wilson_interval_bounds_solve_its_equation(k: int, n: int) -> None:
    """Each bound p of the Wilson interval solves n (k/n - p)^2 = z^2 p (1 - p), the bounds bracket k/n, and the
    textbook values hold (0 of 10: up to 0.2775; 5 of 10: 0.2366 to 0.7634)."""
    lo, hi = evaluate.wilson_interval(k, n)
    z2 = evaluate.Z95**2
    assert 0 <= lo <= k / n <= hi <= 1
    for p in (lo, hi):
        if 0 < p < 1:
            assert n * (k / n - p) ** 2 == pytest.approx(z2 * p * (1 - p), rel=1e-9)
    assert (lo == 0) == (k == 0)
    assert (hi == 1) == (k == n)
    if (k, n) == (0, 10):
        assert hi == pytest.approx(0.2775, abs=1e-4)
    if (k, n) == (5, 10):
        assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    with pytest.raises(InputError):
        evaluate.wilson_interval(n + 1, n)
