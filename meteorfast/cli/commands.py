"""The other sub-commands: each calls the public API."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from typing import Any

import numpy as np

from meteorfast import __version__
from meteorfast.cli.detect import stills_stage
from meteorfast.errors import BackendUnavailableError, InputError


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


def cmd_info(args: argparse.Namespace) -> int:
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


def cmd_soak(args: argparse.Namespace) -> int:
    from meteorfast.io import atomic_write_bytes
    from meteorfast.soak import soak

    def progress(msg: str) -> None:
        print(f"meteorfast soak: {msg}", file=sys.stderr)

    report = soak(
        args.model or "default", sources=args.sources, seconds=args.seconds, fps=args.fps, mode=args.mode,
        batch=args.batch, warmup_s=args.warmup, progress=progress,
    )  # fmt: skip
    report["command"] = _command(args)
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode())
    summary = {k: v for k, v in report.items() if k not in ("rss_samples", "machine")}
    print(json.dumps(summary, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from meteorfast.demo import run_demo

    report = run_demo(args.out, model=args.model)
    print(f"meteorfast demo: {report.video} ({report.frames} frames of {report.width}x{report.height}, "
          f"model {report.model}, {report.backend})")  # fmt: skip
    for ev in report.events:
        print(f"meteor: frames {ev.start_frame}-{ev.end_frame} ({ev.start_time_s:.2f}-{ev.end_time_s:.2f} s), "
              f"peak p={ev.peak_prob:.3f} at x={ev.x:.1f} y={ev.y:.1f}")  # fmt: skip
    if not report.events:
        print("no meteor event found")
    print(f"throughput: {report.fps:.0f} frames/s (decode + preprocess + infer + Grad-CAM + localise)")
    print(f"events: {report.events_path}")
    for path in report.overlays:
        print(f"overlay: {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from meteorfast.bench import BenchConfig, plot, run

    cfg = BenchConfig(
        model=args.model, backend=args.backend, precision=args.precision, batches=args.batch, streams=args.streams,
        mode=args.mode, flicker=args.flicker, baseline=args.baseline, kernels=args.kernels, fps=args.fps,
        repeats=args.repeats, pairs=args.pairs, stream_seconds=args.seconds, frames=args.frames, weights=args.weights,
    )  # fmt: skip
    res = run(cfg, progress=(lambda _: None) if args.json else (lambda m: print(m, file=sys.stderr)))
    res["command"] = _command(args)
    if args.plot:
        plot([res], args.plot)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    m = res["machine"]
    print(f"{m['cpu']} ({m['cpus_usable']} CPUs), GPU: {m['gpu']}; {res['backend']} {res['precision']}")
    print(f"{'batch':>5}  {'frames/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'cam overhead':>12}  stage ms/frame")
    for r in res["batches"]:
        stages = " ".join(f"{k}={v:.2f}" for k, v in r["stage_ms"].items())
        overhead = f"{r['cam_overhead']:.1%}" if r.get("cam_overhead") is not None else "-"
        print(f"{r['batch']:>5}  {r['fps']:>9.1f}  {r['p50_ms']:>8.1f}  {r['p99_ms']:>8.1f}  {overhead:>12}  {stages}")
    print(f"cameras at {cfg.fps:g} fps: {res['fps'] / cfg.fps:.1f} (batch {res['best_batch']})")
    print(f"model {res['model_gflop_per_frame']:.2f} GFLOP/frame: {res['gflops_achieved']:.0f} GFLOP/s achieved, "
          f"sgemm peak {res['sgemm_peak_gflops']:.0f} GFLOP/s ({res['flop_share_of_sgemm_peak']:.0%})")  # fmt: skip
    if res["post_share_of_infer"] is not None:
        print(f"native post-processing (CAM + localise) / inference: {res['post_share_of_infer']:.1%}; "
              f"sub-cell refinement / inference: {res['refine_share_of_infer']:.1%}")  # fmt: skip
    if res["int8_speedup"] is not None:
        print(f"INT8 against FP32: {res['int8_speedup']:.2f}x")
    if res["speedup_vs_baseline"] is not None:
        b = res["baseline"]
        spread = f"min {b['speedup_min']:.1f}, max {b['speedup_max']:.1f} over {b['pairs']} pairs"
        print(f"PyTorch + pytorch-grad-cam: {b['baseline_fps']:.1f} frames/s; meteorfast "
              f"{b['speedup_vs_baseline']:.1f}x ({spread})")  # fmt: skip
    if "kernels" in res:
        for name, k in res["kernels"].items():
            if isinstance(k, dict):
                spread = f"min {k['speedup_min']:.1f}, max {k['speedup_max']:.1f}"
                print(f"native {name} ({k['load']}): {k['native_ms']:.1f} ms, NumPy reference "
                      f"{k['reference_ms']:.1f} ms, {k['speedup_median']:.1f}x ({spread})")  # fmt: skip
    if "stream" in res:
        st = res["stream"]
        print(f"{st['streams']} x 720p@{cfg.fps:g} ({st['mode']}): dropped {st['dropped_frames']} frames, "
              f"{'sustained' if st['sustained'] else 'NOT sustained'}")  # fmt: skip
        for p in st["sources"]:
            print(f"  {p['source']}: {p['delivered_fps']:.1f} fps, lag p50 {p['lag_p50_ms']:.0f} ms, "
                  f"p99 {p['lag_p99_ms']:.0f} ms")  # fmt: skip
    return 0


# The model zoo's architectures (meteorfast.models.ARCHS), listed here so that --help needs no torch.
ARCHS = ("efficientnet_lite0", "efficientnet_lite0_s16", "resnet18", "resnet34", "tiny")


def cmd_export(args: argparse.Namespace) -> int:
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


def cmd_quantize(args: argparse.Namespace) -> int:
    from meteorfast.data import resolve_model
    from meteorfast.quantize import quantize_onnx

    report = quantize_onnx(resolve_model(args.model), args.out, calib=args.calib, method=args.method)
    sources = ", ".join(f"{n} {k}" for k, n in report.calibration.items())
    print(f"wrote {report.path}: INT8 QDQ, per-channel; calibrated on {sources}; {report.float_nodes} nodes kept float")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from meteorfast import evaluate
    from meteorfast.calibration import write_threshold
    from meteorfast.data import resolve_model, resolve_verifier

    if not 0.0 <= args.target_fpr < 1.0:
        raise InputError(f"calibrate: expected --target-fpr in [0, 1), got {args.target_fpr}")
    if (args.synthetic is None) == (args.data is None):
        raise InputError("calibrate: expected either --synthetic N or --data DIR, got both or neither")
    if args.data is not None and args.representation == "stack":
        raise InputError("calibrate: --data holds images, which set a frame threshold; drop --representation stack")
    model = resolve_model(args.model)
    if args.synthetic is not None:
        items = evaluate.synthetic_items(args.synthetic, args.seed, representation=args.representation,
                                         flicker=args.flicker)  # fmt: skip
    else:
        items = evaluate.folder_items(args.data)
    labels = np.array([it.label for it in items])
    if not (labels == 0).any():
        raise InputError(f"calibrate: expected non-meteor frames to set the threshold on, got {labels.size} meteors")
    # Without a verifier the points are not needed, so the peak search is skipped; a verifier crops around them.
    verifier = resolve_verifier(args.verifier, model)
    # The threshold is the classifier's: the vetoes and the rescue, which move stills across whatever threshold is
    # in force, are left out.
    pred = evaluate.predict(model, items, refine=verifier is not None, representation=args.representation,
                            verifier=verifier, satellite_veto=False, rescue=False, star_veto=False)  # fmt: skip
    threshold = evaluate.threshold_for_fpr(pred.prob, labels, args.target_fpr)
    # With a verifier, its probability decides the unsure items, so the threshold is the verifier's to store.
    path = write_threshold(pred.verifier or model, args.out, threshold, args.representation)
    neg, pos = pred.prob[labels == 0], pred.prob[labels == 1]
    report = {
        "model": str(model), "verifier": None if pred.verifier is None else str(pred.verifier), "out": str(path),
        "representation": args.representation, "threshold": threshold,
        "target_fpr": args.target_fpr, "negatives": int(neg.size), "fpr": float((neg >= threshold).mean()),
        "meteors": int(pos.size), "recall": float((pos >= threshold).mean()) if pos.size else None,
        "source": {"data": args.data} if args.synthetic is None else {"synthetic": args.synthetic, "seed": args.seed},
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        recall = "" if report["recall"] is None else f", recall {report['recall']:.4f} of {pos.size} meteors"
        copy = f" (a copy of the verifier {pred.verifier})" if pred.verifier is not None else ""
        print(f"wrote {path}{copy}: {args.representation} threshold {threshold:.4f}; false positives "
              f"{report['fpr']:.4f} of {neg.size} negatives{recall}")  # fmt: skip
    return 0


def cmd_merge_verifiers(args: argparse.Namespace) -> int:
    from meteorfast.export.verifier import merge

    path = merge(args.verifiers, args.out, args.first_weight)
    print(f"wrote {path}: {len(args.verifiers)} verifiers, their mean blended with the first look at weight "
          f"{args.first_weight}; set its threshold with `meteorfast calibrate MODEL --verifier {path} --target-fpr F "
          "--out OUT`")  # fmt: skip
    return 0


def cmd_build_engine(args: argparse.Namespace) -> int:
    from meteorfast.backends.tensorrt import build_engine
    from meteorfast.data import resolve_model

    path = build_engine(
        resolve_model(args.model), precision=args.precision, batch=args.batch, out_dir=args.out,
        workspace_mb=args.workspace, timing_cache=args.timing_cache, calib=args.calib, force=args.force,
    )  # fmt: skip
    print(f"engine: {path}\nmanifest: {path.with_suffix('.json')}")
    return 0


def train_config(args: argparse.Namespace) -> Any:
    """The :class:`~meteorfast.train.TrainConfig` a ``meteorfast train`` command line means."""
    from meteorfast.train import TrainConfig

    input_size = args.input_size
    if input_size is None and args.verifier_for:
        from meteorfast.train import VERIFY_INPUT

        input_size = VERIFY_INPUT  # a verifier's crops, whatever size the checkpoint it starts from was trained at
    if input_size is None and args.init:
        # Fine-tuning continues at the checkpoint's input size; a plain state dict records none.
        from meteorfast.models import checkpoint_input_size

        input_size = checkpoint_input_size(args.init)
    return TrainConfig(
        arch=args.arch, head=args.head, pretrained=not args.no_pretrained, epochs=args.epochs,
        steps_per_epoch=args.steps, batch_size=args.batch_size, lr=args.lr, representation=args.representation,
        seed=args.seed, init=args.init, data_dir=args.data, input_size=input_size or (224, 224),
        synth_size=args.synth_size, val_size=args.val_size, crop_fraction=args.crop_fraction,
        video_fraction=args.video_fraction, stack_fraction=args.stack_fraction, stack_size=args.stack_size,
        kind_weights=tuple(args.kind_weight or ()), short_fraction=args.short_fraction,
        verifier_for=args.verifier_for, verify_band=args.verify_band,
    )  # fmt: skip


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from meteorfast.train import train

        cfg = train_config(args)  # reads an --init checkpoint with torch
    except ImportError as err:
        raise BackendUnavailableError(f'train needs torch ({err}); pip install "meteorfast[train]"') from err
    report = train(cfg, args.out)
    print(
        f"checkpoint {report.checkpoint}\nonnx {report.onnx}\nmodel card {report.card}\ncpu {report.cpu_seconds:.0f} s"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from meteorfast import evaluate
    from meteorfast.data import resolve_model

    model = resolve_model(args.model)
    if args.calibrate_seed is not None and (args.synthetic is None or args.target_fpr is None):
        raise InputError(
            "eval: --calibrate-seed sets the --target-fpr threshold on other --synthetic items; expected both "
            "--synthetic N and --target-fpr F with it"
        )
    if args.calibrate_seed is not None and args.calibrate_seed == args.seed:
        raise InputError(f"eval: expected a --calibrate-seed other than --seed {args.seed}, got the same seed")

    def synthetic(seed: int) -> list[evaluate.EvalItem]:
        return evaluate.synthetic_items(args.synthetic, seed, representation=args.representation,
                                        video_fraction=args.video_fraction, flicker=args.flicker)  # fmt: skip

    def run(items: list[evaluate.EvalItem]) -> evaluate.Predictions:
        return evaluate.predict(model, items, tile=args.tile, mode=args.localize, refine=not args.no_refine,
                                tta=args.tta, representation=args.representation, verifier=args.verifier,
                                satellite_veto=stills_stage(args.satellite_veto),
                                rescue=stills_stage(args.rescue),
                                star_veto=stills_stage(args.star_veto, False))  # fmt: skip

    if args.synthetic is not None:
        items = synthetic(args.seed)
    elif args.data is not None:
        items = evaluate.folder_items(args.data)
    else:
        raise InputError("eval: expected --synthetic N (with --seed) or --data DIR, got neither")
    if args.threshold is not None and args.target_fpr is not None:
        raise InputError("eval: expected --threshold or --target-fpr, got both; drop one")
    pred = run(items)
    threshold = pred.threshold if args.threshold is None else args.threshold
    if args.target_fpr is not None:
        calib, calib_pred = items, pred
        if args.calibrate_seed is not None:
            # Calibrating on the items that are then scored flatters the result; another seed's items do not.
            calib = synthetic(args.calibrate_seed)
            calib_pred = run(calib)
        labels = np.array([it.label for it in calib])
        threshold = evaluate.threshold_for_fpr(calib_pred.prob, labels, args.target_fpr)
    result = evaluate.metrics(items, pred, threshold)
    result["model"] = str(model)
    result["verifier"] = None if pred.verifier is None else str(pred.verifier)
    result["satellite_veto"] = stills_stage(args.satellite_veto)
    result["rescue"] = stills_stage(args.rescue)
    result["star_veto"] = stills_stage(args.star_veto, False)
    result["tta"] = bool(args.tta)
    if args.calibrate_seed is not None:
        result["calibration"] = {"seed": args.calibrate_seed, "n": args.synthetic, "target_fpr": args.target_fpr}
    if args.plot:
        evaluate.pr_plot(items, pred, args.plot)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        c = result["confusion"]
        second = f", verifier {pred.verifier}" if pred.verifier is not None else ""
        print(f"model {model}{second}: n={result['n']} threshold={threshold:.3f}")
        p_lo, p_hi = result["precision_ci95"]
        r_lo, r_hi = result["recall_ci95"]
        print(f"precision {result['precision']:.4f} [{p_lo:.3f}, {p_hi:.3f}]  recall {result['recall']:.4f} "
              f"[{r_lo:.3f}, {r_hi:.3f}]  f1 {result['f1']:.4f}  accuracy {result['accuracy']:.4f}  "
              f"roc_auc {result['roc_auc']:.4f}  (95 % intervals)")  # fmt: skip
        print(f"confusion tp={c['tp']} fp={c['fp']} fn={c['fn']} tn={c['tn']}")
        print(
            "false-positive rate by confounder: "
            + ", ".join(
                f"{k} {v:.3f} of {result['n_by_confounder'][k]}" for k, v in result["fpr_by_confounder"].items()
            )
        )
        print(
            "recall by kind: "
            + ", ".join(f"{k} {v:.3f} of {result['n_by_kind'][k]}" for k, v in result["recall_by_kind"].items())
        )
        if result["recall_by_length"]:
            print(
                "recall by streak length (px): "
                + ", ".join(f"{k} {v:.3f} of {result['n_by_length'][k]}" for k, v in result["recall_by_length"].items())
            )
        print(f"localisation over {result['loc_n']} true positives: median {result['loc_median_px']:.2f} px, "
              f"p95 {result['loc_p95_px']:.2f} px, within 5 px {result['loc_hit5']:.3f}")  # fmt: skip
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that made a report, as a shell would take it back."""
    return shlex.join(["meteorfast", *args.argv])
