"""The ``meteorfast`` argument parser: every sub-command, its flags and their help."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from meteorfast import __version__
from meteorfast.cli.commands import (
    ARCHS,
    cmd_bench,
    cmd_build_engine,
    cmd_calibrate,
    cmd_demo,
    cmd_eval,
    cmd_export,
    cmd_info,
    cmd_merge_verifiers,
    cmd_quantize,
    cmd_soak,
    cmd_train,
)  # fmt: skip
from meteorfast.cli.detect import cmd_detect
from meteorfast.stream.flicker import DEFAULT_FLICKER
from meteorfast.stream.sources import DECODERS


def _size(text: str) -> tuple[int, int]:
    parts = [p for p in text.replace("x", ",").split(",") if p]
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected SIZE or H,W (e.g. 224 or 224,224), got {text!r}")
    return (int(parts[0]), int(parts[-1]))


def _band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH probabilities (e.g. 0.05,0.95), got {text!r}") from None
    if not 0 <= low < high <= 1:
        raise argparse.ArgumentTypeError(f"expected 0 <= LOW < HIGH <= 1, got {text!r}")
    return low, high


def _kind_weight(text: str) -> tuple[str, float]:
    kind, _, factor = text.partition("=")
    try:
        value = float(factor)
    except ValueError:
        value = float("nan")
    if not kind or not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected KIND=FACTOR with a factor >= 0 (e.g. satellite=3), got {text!r}")
    return kind, value


def _batch(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected MIN,OPT,MAX (e.g. 1,8,32), got {text!r}")
    a, b, c = (int(p) for p in parts)
    return (a, b, c)


def _batches(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes like 1,8,32, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected batch sizes >= 1, got {text!r}")
    return values


def _tile(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected SIZE or SIZE,OVERLAP (e.g. 224,32), got {text!r}")
    size = int(parts[0])
    return (size, int(parts[1]) if len(parts) == 2 else size // 8)


MODEL_HELP = "an .onnx or .engine, or a shipped model's name: default (224x384, when omitted) or fast (224x224)"
VERIFIER_HELP = (
    "the second look on the stills the model is unsure of: auto (the one shipped for the default model; none for "
    "other models), none, or a verifier .onnx or .engine"
)
TTA_HELP = "average each probability over the input and its two mirror images (3x the inference; for stills)"
SATELLITE_VETO_HELP = (
    "turn down detections whose short streak a satellite's even dash explains better than a meteor's light curve "
    "(frame mode; a least-squares fit of the light along each short streak). Default: on stills (image files) "
    "only, never on video frames, where a meteor's 40 ms is itself a dash; --satellite-veto: on every frame; "
    "--no-satellite-veto: on none"
)
STAR_VETO_HELP = (
    "turn down detections shaped like the frame's stars where those are all smeared alike (a shaken camera, a "
    "drifting sky; frame mode; it measures the frame's stars at each detection). Default: off (on simulated stills "
    "it cost more meteors than it saved false positives); --star-veto: on every frame"
)
RESCUE_HELP = (
    "a second opinion from the shipped proposal net, weighed with the detector's own logit: take back frames the "
    "detector turns down where the net's best cell (and the dash fit there) is sure of a streak, and turn down "
    "unsure detections where the net sees no streak at the point (frame mode; it costs a native-resolution scan "
    "of each judged frame). Default: on stills (image files) only; --rescue: on every frame; "
    "--no-rescue: on none"
)


def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="version, backends and native kernels, with the reason for anything missing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="detect the meteor in the bundled real GMN clip with the shipped model")
    p.add_argument("--out", default="meteorfast-demo", help="directory for events.jsonl and the overlay PNG")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.set_defaults(func=cmd_demo)


def _add_detect(sub: Any) -> None:
    p = sub.add_parser("detect", help="detect meteors in videos, cameras, streams, images or folders")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="video file, camera index, URL, image, folder or glob")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "tensorrt"])
    p.add_argument("--batch", type=int, default=32, help="model inputs per inference call (default 32)")
    p.add_argument("--mode", default="frame", choices=["frame", "stack"], help="single frames or max-mean windows")
    p.add_argument("--window", type=int, default=25, help="frames per stacked window (stack mode, default 25)")
    p.add_argument("--stride", type=int, default=None, help="frames between window starts (default: the window)")
    p.add_argument("--flicker", type=float, default=DEFAULT_FLICKER,
                   help=f"stack mode: take k x each pixel's excess noise (from other windows) off max-mean "
                   f"(default {DEFAULT_FLICKER}; 0 off)")  # fmt: skip
    p.add_argument("--mask", default=None,
                   help="station mask image (as GMN's mask.bmp): zero pixels (housing, text) are ignored")  # fmt: skip
    p.add_argument(
        "--tile",
        type=_tile,
        default=None,
        help="SIZE[,OVERLAP]: native-resolution tiles of big frames, SIZE px high, with the model input's aspect",
    )
    p.add_argument("--threshold", type=float, default=None, help="meteor probability threshold (default: model's)")
    p.add_argument("--localize", default="fused", choices=["fused", "paper"])
    p.add_argument("--tta", action="store_true", help=TTA_HELP)
    p.add_argument("--verifier", default="auto", help=VERIFIER_HELP)
    p.add_argument("--satellite-veto", action=argparse.BooleanOptionalAction, default=None, help=SATELLITE_VETO_HELP)
    p.add_argument("--star-veto", action=argparse.BooleanOptionalAction, default=None, help=STAR_VETO_HELP)
    p.add_argument("--rescue", action=argparse.BooleanOptionalAction, default=None, help=RESCUE_HELP)
    p.add_argument("--out", default=None, help="directory for events.jsonl, events.csv and the optional outputs")
    p.add_argument("--save-frames", action="store_true", help="also write frames.jsonl (every classified item)")
    p.add_argument("--save-overlays", action="store_true", help="a PNG per event: CAM heatmap, point and line")
    p.add_argument("--save-clips", action="store_true", help="an MP4 per event with frames before and after it")
    p.add_argument("--json", action="store_true", help="print the events and the per-source summary as JSON")
    p.add_argument("--resume", action="store_true", help="skip the sources an earlier run completed in --out")
    p.add_argument("--retries", type=int, default=None,
                   help="reopen a stopped camera or stream at most N times in a row (default: no limit)")  # fmt: skip
    p.add_argument("--decoder", default="opencv", choices=list(DECODERS),
                   help="video decoder; pyav (the [pyav] extra) keeps true timestamps and 16-bit depth")  # fmt: skip
    p.set_defaults(func=cmd_detect)


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="throughput per station hardware (and against PyTorch + pytorch-grad-cam)")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "tensorrt"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "int8", "fp16"])
    p.add_argument("--batch", type=_batches, default=(1, 8, 32, 64), help="batch sizes (default 1,8,32,64)")
    p.add_argument("--streams", type=int, default=0, help="also play N real-time 720p sources through the detector")
    p.add_argument("--mode", default="frame", choices=["frame", "stack"], help="detector mode for --streams")
    p.add_argument("--flicker", type=float, default=DEFAULT_FLICKER, help="stack mode's flicker suppression k (0 off)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the --streams run (default 20 s)")
    p.add_argument("--fps", type=float, default=25.0, help="camera frame rate (default 25)")
    p.add_argument("--baseline", action="store_true", help="PyTorch eager + pytorch-grad-cam, interleaved")
    p.add_argument("--weights", default=None, help="torch checkpoint for --baseline (default: MODEL with .pt)")
    p.add_argument("--kernels", action="store_true", help="native kernels against the NumPy reference")
    p.add_argument("--repeats", type=int, default=7, help="timed batches per batch size (default 7)")
    p.add_argument("--pairs", type=int, default=5, help="interleaved pairs for ratios (default 5)")
    p.add_argument("--frames", type=int, default=64, help="distinct simulated frames (default 64)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", default=None, help="write a PNG of frames/s against batch size")
    p.set_defaults(func=cmd_bench)


def _add_soak(sub: Any) -> None:
    p = sub.add_parser("soak", help="live synthetic cameras for a while; memory must stay flat, drops are counted")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--sources", type=int, default=4, help="simulated 720p cameras (default 4)")
    p.add_argument("--seconds", type=float, default=600.0, help="length of the run (default 600)")
    p.add_argument("--fps", type=float, default=25.0, help="camera frame rate (default 25)")
    p.add_argument("--mode", default="frame", choices=["frame", "stack"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (default: a fifth of the run)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the report (with RSS samples) here")
    p.set_defaults(func=cmd_soak)


def _add_export(sub: Any) -> None:
    p = sub.add_parser("export", help="export a model to ONNX with the Grad-CAM outputs (needs the [train] extra)")
    p.add_argument("--arch", default="efficientnet_lite0", choices=ARCHS)
    p.add_argument("--head", default="gap", choices=["gap", "fastai"])
    p.add_argument("--pretrained", action="store_true", help="start from ImageNet weights (shipped for Lite0 only)")
    p.add_argument("--weights", default=None, help="a state dict to load (meteorfast, torchvision or fastai keys)")
    p.add_argument("--in-chans", type=int, default=1, choices=[1, 3], help="1 for grey cameras (default), 3 for RGB")
    p.add_argument("--input-size", type=_size, default=None, help="SIZE or H,W (default: the arch's, 224 for most)")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.set_defaults(func=cmd_export)


def _add_quantize(sub: Any) -> None:
    p = sub.add_parser(
        "quantize", help="static INT8 (QDQ, per-channel) copy of an exported graph, CAM outputs in float"
    )
    p.add_argument("model", help="an .onnx written by `meteorfast export`, or a shipped model: default or fast")
    p.add_argument("--calib", type=int, default=64, help="calibration frames (default 64)")
    p.add_argument("--method", default="minmax", choices=["minmax", "entropy", "percentile"])
    p.add_argument("--out", required=True, help="the INT8 .onnx to write")
    p.set_defaults(func=cmd_quantize)


def _add_calibrate(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate", help="store in a copy of a model the threshold that meets a false-positive budget on given frames"
    )
    p.add_argument("model", help="an .onnx written by `meteorfast export`, or a shipped model: default or fast")
    p.add_argument("--target-fpr", type=float, required=True, help="the share of negatives allowed through, e.g. 0.01")
    p.add_argument("--data", default=None, help="a folder with non_meteor/ (and meteor/) frames of the station")
    p.add_argument("--synthetic", type=int, default=None, metavar="N", help="or N simulated frames")
    p.add_argument("--seed", type=int, default=2026,
                   help="--synthetic: simulator seed (default 2026; use one you will not evaluate on)")  # fmt: skip
    p.add_argument("--representation", default="frame", choices=["frame", "stack"],
                   help="the mode it is for: single frames, or max-mean stacks of 25-frame windows")  # fmt: skip
    p.add_argument("--flicker", type=float, default=DEFAULT_FLICKER,
                   help=f"--synthetic stacks: flicker suppression k (default {DEFAULT_FLICKER})")  # fmt: skip
    p.add_argument("--verifier", default="auto", help=VERIFIER_HELP + "; with one, the threshold goes into its copy")
    p.add_argument("--out", required=True,
                   help="the .onnx to write: the model's (or the verifier's) copy with the threshold")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_calibrate)


def _add_merge_verifiers(sub: Any) -> None:
    p = sub.add_parser(
        "merge-verifiers", help="one verifier graph from several trained behind the same model: their mean probability"
    )
    p.add_argument("verifiers", nargs="+", help="verifier .onnx files (from `meteorfast train --verifier-for`)")
    p.add_argument(
        "--first-weight",
        type=float,
        default=0.0,
        metavar="W",
        help="in the band, sigmoid(W logit first look + (1 - W) logit verifiers) decides (default 0)",
    )
    p.add_argument("--out", required=True, help="the .onnx to write (no threshold yet: run `calibrate` on it)")
    p.set_defaults(func=cmd_merge_verifiers)


def _add_build_engine(sub: Any) -> None:
    p = sub.add_parser("build-engine", help="build a TensorRT engine (and its manifest) from an exported graph")
    p.add_argument(
        "model", help="an .onnx from `meteorfast export` (or `quantize`, for INT8 from Q/DQ), or default / fast"
    )
    p.add_argument("--precision", default="fp16", choices=["fp32", "fp16", "int8"])
    p.add_argument("--batch", type=_batch, default=(1, 8, 32), help="MIN,OPT,MAX batch of the profile (default 1,8,32)")
    p.add_argument("--workspace", type=int, default=2048, help="builder workspace in MiB (default 2048)")
    p.add_argument("--timing-cache", default="engines/timing.cache", help="kept between builds")
    p.add_argument("--calib", type=int, default=256, help="INT8 calibration frames when the graph has no Q/DQ")
    p.add_argument("--force", action="store_true", help="rebuild even if a matching engine exists")
    p.add_argument("--out", default="engines", help="directory for the engine and manifest (default engines/)")
    p.set_defaults(func=cmd_build_engine)


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="transfer-learn a meteor classifier on simulated (and your own) frames")
    p.add_argument("--arch", default="efficientnet_lite0", choices=ARCHS)
    p.add_argument("--head", default="gap", choices=["gap", "fastai"])
    p.add_argument("--no-pretrained", action="store_true", help="start from random weights instead of ImageNet")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--steps", type=int, default=100, help="batches per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--representation", default="frame", choices=["frame", "stack"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input-size", type=_size, default=None,
                   help="SIZE or H,W (default: --init's checkpoint's, else 224)")  # fmt: skip
    p.add_argument("--synth-size", type=_size, default=(720, 1280), help="simulated frame size H,W (default 720,1280)")
    p.add_argument("--crop-fraction", type=float, default=0.3, help="share of native-resolution crops (as tiles see)")
    p.add_argument("--video-fraction", type=float, default=0.0, help="share of single video frames among the stills")
    p.add_argument("--stack-fraction", type=float, default=0.25, help="share of stacked max-mean clip windows")
    p.add_argument("--stack-size", type=_size, default=(360, 640), help="H,W of the simulated clips (default 360,640)")
    p.add_argument("--val-size", type=int, default=256, help="held-out synthetic validation stills")
    p.add_argument("--kind-weight", type=_kind_weight, action="append", metavar="KIND=FACTOR",
                   help="draw a simulated kind FACTOR times as often among meteors or negatives")  # fmt: skip
    p.add_argument("--short-fraction", type=float, default=0.0,
                   help="share of simulated stills whose meteors are 25-120 px long (at 720 px high)")  # fmt: skip
    p.add_argument("--verifier-for", default=None, metavar="MODEL",
                   help="train a second look on native-resolution crops around MODEL's located points")  # fmt: skip
    p.add_argument("--verify-band", type=_band, default=(0.05, 0.95), metavar="LOW,HIGH",
                   help="--verifier-for: the MODEL probabilities the verifier decides (default 0.05,0.95)")  # fmt: skip
    p.add_argument("--init", default=None, help="a checkpoint to fine-tune (e.g. for one station)")
    p.add_argument("--data", default=None, help="a folder with meteor/ and non_meteor/ images to train on as well")
    p.add_argument("--out", required=True,
                   help="directory for model.pt, model.onnx and MODEL_CARD.md; an interrupted run left state.pt "
                        "there, and the same command continues from its last finished epoch")  # fmt: skip
    p.set_defaults(func=cmd_train)


def _add_eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="precision, recall, ROC AUC and localisation error on labelled frames")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--synthetic", type=int, default=None, metavar="N", help="evaluate on N simulated frames")
    p.add_argument("--seed", type=int, default=12345, help="simulator seed (use one never trained on)")
    p.add_argument("--data", default=None, help="a folder with meteor/, non_meteor/ and optional labels.json")
    p.add_argument(
        "--tile",
        type=_tile,
        default=None,
        help="SIZE[,OVERLAP]: run native-resolution tiles, SIZE px high, with the model input's aspect",
    )
    p.add_argument("--threshold", type=float, default=None,
                   help="meteor probability threshold (default: the model's for it, else 0.5)")  # fmt: skip
    p.add_argument("--target-fpr", type=float, default=None, help="set the threshold for this false-positive rate")
    p.add_argument("--calibrate-seed", type=int, default=None, metavar="SEED",
                   help="--synthetic: set the --target-fpr threshold on N items of this seed")  # fmt: skip
    p.add_argument("--localize", default="fused", choices=["fused", "paper"], help="CAM x first-layer map mode")
    p.add_argument("--representation", default="frame", choices=["frame", "stack"],
                   help="--synthetic items: single frames, or max-mean stacks of 25-frame clips")  # fmt: skip
    p.add_argument("--video-fraction", type=float, default=0.0, help="--synthetic: share of video frames (frame)")
    p.add_argument("--flicker", type=float, default=DEFAULT_FLICKER,
                   help=f"--synthetic stacks: flicker suppression k (default {DEFAULT_FLICKER})")  # fmt: skip
    p.add_argument("--no-refine", action="store_true", help="keep the first-layer cell's point (no sub-cell step)")
    p.add_argument("--tta", action="store_true", help=TTA_HELP)
    p.add_argument("--verifier", default="auto", help=VERIFIER_HELP)
    p.add_argument("--satellite-veto", action=argparse.BooleanOptionalAction, default=None, help=SATELLITE_VETO_HELP)
    p.add_argument("--star-veto", action=argparse.BooleanOptionalAction, default=None, help=STAR_VETO_HELP)
    p.add_argument("--rescue", action=argparse.BooleanOptionalAction, default=None, help=RESCUE_HELP)
    p.add_argument("--plot", default=None, help="write a precision-recall PNG")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meteorfast", description="Meteor detection with in-engine Grad-CAM.")
    parser.add_argument("--version", action="version", version=f"meteorfast {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_info(sub)
    _add_demo(sub)
    _add_detect(sub)
    _add_bench(sub)
    _add_soak(sub)
    _add_export(sub)
    _add_quantize(sub)
    _add_calibrate(sub)
    _add_merge_verifiers(sub)
    _add_build_engine(sub)
    _add_train(sub)
    _add_eval(sub)
    return parser
