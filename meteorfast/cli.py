"""The ``meteorfast`` command. Thin: each sub-command calls the public API.

A :class:`~meteorfast.errors.MeteorfastError` becomes one line on stderr and exit code 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from meteorfast import __version__
from meteorfast.errors import BackendUnavailableError, InputError, MeteorfastError


def info_dict() -> dict[str, Any]:
    """What ``meteorfast info --json`` prints: version, backends, native kernels."""
    from meteorfast.backends import available_backends
    from meteorfast.cam import native_info

    native = native_info()
    return {
        "version": __version__,
        "backends": {name: asdict(a) for name, a in available_backends().items()},
        "native": {
            "cpu": native.cpu,
            "cuda_built": native.cuda_built,
            "cuda_device": native.cuda_device,
            "reason": native.reason,
            "cuda_archs": list(native.cuda_archs),
            "cuda_runtime": native.cuda_runtime,
            "threads": native.threads,
        },
    }


def _cmd_info(args: argparse.Namespace) -> int:
    info = info_dict()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"meteorfast {info['version']}")
    print("backends:")
    for name, b in info["backends"].items():
        print(f"  {name:12s} {'available' if b['available'] else 'unavailable: ' + b['reason']}")
    n = info["native"]
    print("native kernels:")
    print(f"  cpu          {'built' if n['cpu'] else 'not built'} ({n['threads']} threads)")
    archs = ", ".join(f"sm_{a}" for a in n["cuda_archs"])
    print(
        f"  cuda         {'built' if n['cuda_built'] else 'not built'}"
        + (f" (CUDA {n['cuda_runtime']}; {archs})" if archs else "")
    )
    print(f"  cuda device  {'present' if n['cuda_device'] else 'absent'}")
    if n["reason"]:
        print(f"  reason       {n['reason']}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from meteorfast.demo import run_demo

    report = run_demo(args.video, window=args.window, overlay=args.overlay)
    native = report.native
    print(f"meteorfast demo: {report.video}")
    print(
        f"{report.frames} frames of {report.width}x{report.height}, stacked in windows of {args.window} "
        f"(native CPU kernels: {'yes' if native.cpu else 'no, NumPy reference'})"
    )
    print(f"{'frames':>11}  {'time_s':>6}  {'x':>7}  {'y':>6}  {'max-mean':>8}")
    for w in report.windows:
        print(f"{w.start:>4}-{w.end:<6}  {w.start_time_s:6.2f}  {w.x:7.1f}  {w.y:6.1f}  {w.value:8d}")
    print(f"throughput: {report.fps:.0f} frames/s (decode + stack + localise, {report.seconds:.2f} s)")
    if args.overlay:
        print(f"overlay written to {args.overlay}")
    print("No classifier is applied yet: each row is the window's brightest transient, meteor or not.")
    return 0


# The model zoo's architectures (meteorfast.models.ARCHS), listed here so that --help needs no torch.
ARCHS = ("efficientnet_lite0", "resnet18", "resnet34", "tiny")


def _size(text: str) -> tuple[int, int]:
    parts = [p for p in text.replace("x", ",").split(",") if p]
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected SIZE or H,W (e.g. 224 or 224,224), got {text!r}")
    return (int(parts[0]), int(parts[-1]))


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        from meteorfast.export import export_onnx
        from meteorfast.models import ARCHS, create
    except ImportError as err:
        raise BackendUnavailableError(
            f'export needs torch, which is not installed ({err}); pip install "meteorfast[train]"'
        ) from err
    model = create(args.arch, pretrained=args.pretrained, in_chans=args.in_chans, head=args.head, weights=args.weights)
    size = args.input_size or ARCHS[args.arch].default_input
    path = export_onnx(model, args.out, size)
    print(f"wrote {path}: {args.arch} ({args.head} head), input uint8 [N,{args.in_chans},{size[0]},{size[1]}]")
    return 0


def _batch(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected MIN,OPT,MAX (e.g. 1,8,32), got {text!r}")
    a, b, c = (int(p) for p in parts)
    return (a, b, c)


def _cmd_quantize(args: argparse.Namespace) -> int:
    from meteorfast.quantize import quantize_onnx

    report = quantize_onnx(args.model, args.out, calib=args.calib, method=args.method)
    sources = ", ".join(f"{n} {k}" for k, n in report.calibration.items())
    print(f"wrote {report.path}: INT8 QDQ, per-channel; calibrated on {sources}; {report.float_nodes} nodes kept float")
    return 0


def _cmd_build_engine(args: argparse.Namespace) -> int:
    from meteorfast.backends.tensorrt import build_engine

    path = build_engine(
        args.model, precision=args.precision, batch=args.batch, out_dir=args.out, workspace_mb=args.workspace,
        timing_cache=args.timing_cache, calib=args.calib, force=args.force,
    )  # fmt: skip
    print(f"engine: {path}\nmanifest: {path.with_suffix('.json')}")
    return 0


def train_config(args: argparse.Namespace) -> Any:
    """The :class:`~meteorfast.train.TrainConfig` a ``meteorfast train`` command line means."""
    from meteorfast.train import TrainConfig

    return TrainConfig(
        arch=args.arch, head=args.head, pretrained=not args.no_pretrained, epochs=args.epochs,
        steps_per_epoch=args.steps, batch_size=args.batch_size, lr=args.lr, representation=args.representation,
        seed=args.seed, init=args.init, data_dir=args.data, input_size=args.input_size or (224, 224),
        synth_size=args.synth_size, val_size=args.val_size,
    )  # fmt: skip


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        from meteorfast.train import train
    except ImportError as err:
        raise BackendUnavailableError(f'train needs torch ({err}); pip install "meteorfast[train]"') from err
    report = train(train_config(args), args.out)
    print(
        f"checkpoint {report.checkpoint}\nonnx {report.onnx}\nmodel card {report.card}\ncpu {report.cpu_seconds:.0f} s"
    )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from meteorfast import evaluate
    from meteorfast.data import default_model

    model = args.model or default_model()
    if args.synthetic is not None:
        items = evaluate.synthetic_items(args.synthetic, args.seed)
    elif args.data is not None:
        items = evaluate.folder_items(args.data)
    else:
        raise InputError("eval: expected --synthetic N (with --seed) or --data DIR, got neither")
    pred = evaluate.predict(model, items, tile=args.tile)
    labels = np.array([it.label for it in items])
    threshold = evaluate.threshold_for_fpr(pred.prob, labels, args.target_fpr) if args.target_fpr is not None else 0.5
    result = evaluate.metrics(items, pred, threshold)
    result["model"] = str(model)
    if args.plot:
        evaluate.pr_plot(items, pred, args.plot)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        c = result["confusion"]
        print(f"model {model}: n={result['n']} threshold={threshold:.3f}")
        print(f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  f1 {result['f1']:.4f}  "
              f"accuracy {result['accuracy']:.4f}  roc_auc {result['roc_auc']:.4f}")  # fmt: skip
        print(f"confusion tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']}")
        print(
            "false-positive rate by confounder: "
            + ", ".join(f"{k} {v:.3f}" for k, v in result["fpr_by_confounder"].items())
        )
        print(f"localisation over {result['loc_n']} true positives: median {result['loc_median_px']:.2f} px, "
              f"p95 {result['loc_p95_px']:.2f} px, within 5 px {result['loc_hit5']:.3f}")  # fmt: skip
    return 0


def _tile(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected SIZE or SIZE,OVERLAP (e.g. 224,32), got {text!r}")
    size = int(parts[0])
    return (size, int(parts[1]) if len(parts) == 2 else size // 8)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meteorfast", description="Meteor detection with in-engine Grad-CAM.")
    parser.add_argument("--version", action="version", version=f"meteorfast {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="version, backends and native kernels, with the reason for anything missing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("demo", help="stack and localise a real meteor clip with the native kernels")
    p.add_argument("--video", default=None, help="a video file (default: the bundled GMN clip)")
    p.add_argument("--window", type=int, default=25, help="frames per stacked window (default 25, one second)")
    p.add_argument("--overlay", default=None, help="write a PNG of the clip's maximum with each window's transient")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("export", help="export a model to ONNX with the Grad-CAM outputs (needs the [train] extra)")
    p.add_argument("--arch", default="efficientnet_lite0", choices=ARCHS)
    p.add_argument("--head", default="gap", choices=["gap", "fastai"])
    p.add_argument("--pretrained", action="store_true", help="start from ImageNet weights (shipped for Lite0 only)")
    p.add_argument("--weights", default=None, help="a state dict to load (meteorfast, torchvision or fastai keys)")
    p.add_argument("--in-chans", type=int, default=1, choices=[1, 3], help="1 for grey cameras (default), 3 for RGB")
    p.add_argument("--input-size", type=_size, default=None, help="SIZE or H,W (default: the arch's, 224 for most)")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "quantize", help="static INT8 (QDQ, per-channel) copy of an exported graph, CAM outputs in float"
    )
    p.add_argument("model", help="an .onnx written by `meteorfast export`")
    p.add_argument("--calib", type=int, default=64, help="calibration frames (default 64)")
    p.add_argument("--method", default="minmax", choices=["minmax", "entropy", "percentile"])
    p.add_argument("--out", required=True, help="the INT8 .onnx to write")
    p.set_defaults(func=_cmd_quantize)

    p = sub.add_parser("build-engine", help="build a TensorRT engine (and its manifest) from an exported graph")
    p.add_argument("model", help="an .onnx written by `meteorfast export` (or `quantize`, for INT8 from Q/DQ)")
    p.add_argument("--precision", default="fp16", choices=["fp32", "fp16", "int8"])
    p.add_argument("--batch", type=_batch, default=(1, 8, 32), help="MIN,OPT,MAX batch of the profile (default 1,8,32)")
    p.add_argument("--workspace", type=int, default=2048, help="builder workspace in MiB (default 2048)")
    p.add_argument("--timing-cache", default="engines/timing.cache", help="kept between builds")
    p.add_argument("--calib", type=int, default=256, help="INT8 calibration frames when the graph has no Q/DQ")
    p.add_argument("--force", action="store_true", help="rebuild even if a matching engine exists")
    p.add_argument("--out", default="engines", help="directory for the engine and manifest (default engines/)")
    p.set_defaults(func=_cmd_build_engine)

    p = sub.add_parser("train", help="transfer-learn a meteor classifier on simulated (and your own) frames")
    p.add_argument("--arch", default="efficientnet_lite0", choices=ARCHS)
    p.add_argument("--head", default="gap", choices=["gap", "fastai"])
    p.add_argument("--no-pretrained", action="store_true", help="start from random weights instead of ImageNet")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--steps", type=int, default=100, help="batches per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--representation", default="frame", choices=["frame", "stack"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input-size", type=_size, default=None, help="SIZE or H,W (default 224)")
    p.add_argument("--synth-size", type=_size, default=(360, 640), help="simulated frame size H,W (default 360,640)")
    p.add_argument("--val-size", type=int, default=256, help="held-out synthetic validation stills")
    p.add_argument("--init", default=None, help="a checkpoint to fine-tune (e.g. for one station)")
    p.add_argument("--data", default=None, help="a folder with meteor/ and non_meteor/ images to train on as well")
    p.add_argument("--out", required=True, help="directory for model.pt, model.onnx and MODEL_CARD.md")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="precision, recall, ROC AUC and localisation error on labelled frames")
    p.add_argument("--model", default=None, help="an exported .onnx (default: the shipped model)")
    p.add_argument("--synthetic", type=int, default=None, metavar="N", help="evaluate on N simulated stills")
    p.add_argument("--seed", type=int, default=12345, help="simulator seed (use one never trained on)")
    p.add_argument("--data", default=None, help="a folder with meteor/, non_meteor/ and optional labels.json")
    p.add_argument("--tile", type=_tile, default=None, help="SIZE[,OVERLAP]: run native-resolution tiles")
    p.add_argument("--target-fpr", type=float, default=None, help="set the threshold for this false-positive rate")
    p.add_argument("--plot", default=None, help="write a precision-recall PNG")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.debug:
        # FFmpeg logs decode failures straight to stderr ("moov atom not found"); the error we raise says it in
        # one line. OpenCV reads this when it first loads its FFmpeg backend, which has not happened yet here.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        code: int = args.func(args)
    except MeteorfastError as err:
        if args.debug:
            raise
        print(f"meteorfast: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("meteorfast: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
