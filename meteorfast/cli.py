"""The ``meteorfast`` command. Thin: each sub-command calls the public API.

A :class:`~meteorfast.errors.MeteorfastError` becomes one line on stderr and exit code 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

import numpy as np

from meteorfast import __version__
from meteorfast.errors import BackendUnavailableError, InputError, MeteorfastError
from meteorfast.stream.flicker import DEFAULT_FLICKER
from meteorfast.stream.sources import DECODERS


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


def _stills_stage(flag: bool | None, default: bool | Literal["auto"] = "auto") -> bool | Literal["auto"]:
    """A stills stage's ``--X`` / ``--no-X`` flag (``--satellite-veto``, ``--star-veto``, ``--rescue``) as the
    detector's setting; without either flag, ``default`` (the detector's own default)."""
    return default if flag is None else bool(flag)


def _detector(args: argparse.Namespace) -> Any:
    from meteorfast.detector import Detector

    return Detector(
        model=args.model or "default", backend=args.backend, batch_size=args.batch, mode=args.mode,
        window=args.window, tile=args.tile, threshold=args.threshold, localize=args.localize, stride=args.stride,
        flicker=args.flicker, mask=args.mask, tta=args.tta, verifier=args.verifier,
        satellite_veto=_stills_stage(args.satellite_veto), rescue=_stills_stage(args.rescue),
        star_veto=_stills_stage(args.star_veto, False),
    )  # fmt: skip


def _summary(
    detector: Any, events: Sequence[Any], unopened: dict[str, str], resumed: Sequence[str]
) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev.source] = counts.get(ev.source, 0) + 1
    rows = [
        {"source": st.source, "status": st.status, "live": st.live, "frames": st.frames, "items": st.items,
         "events": counts.get(st.source, 0), "dropped_frames": st.dropped_frames, "decode_errors": st.decode_errors,
         "reconnects": st.reconnects, "last_frame": st.last_index, "fps": round(st.fps, 1), "error": st.error}
        for st in detector.stats
    ]  # fmt: skip
    empty = {"live": False, "frames": 0, "items": 0, "events": 0, "dropped_frames": 0, "decode_errors": 0,
             "reconnects": 0, "last_frame": -1, "fps": 0.0}  # fmt: skip
    rows += [{"source": src, "status": "failed", **empty, "error": err} for src, err in unopened.items()]
    rows += [{"source": src, "status": "resumed", **empty, "error": None} for src in resumed]
    return rows


def _print_summary(rows: Sequence[dict[str, Any]]) -> None:
    width = max([len("source"), *(len(r["source"]) for r in rows)])
    print(f"{'source':<{width}}  {'frames':>7}  {'events':>6}  {'dropped':>7}  {'errors':>6}  {'fps':>7}  status")
    for r in rows:
        status = {
            "complete": "ok",
            "failed": f"failed: {r['error']}",
            "stopped": f"stopped after frame {r['last_frame']}",
            "resumed": "complete in an earlier run, skipped",
        }[r["status"]]
        if r["status"] == "complete" and r["decode_errors"]:
            status = f"ok, {r['decode_errors']} frame(s) or file(s) could not be decoded and were skipped"
        if r["reconnects"]:
            status += f" ({r['reconnects']} reconnection(s))"
        print(f"{r['source']:<{width}}  {r['frames']:>7}  {r['events']:>6}  {r['dropped_frames']:>7}  "
              f"{r['decode_errors']:>6}  {r['fps']:>7.1f}  {status}")  # fmt: skip


def _cmd_detect(args: argparse.Namespace) -> int:
    import signal

    from tqdm import tqdm

    from meteorfast.stream.outputs import OutputWriter
    from meteorfast.stream.sources import open_source

    if args.resume and not args.out:
        raise InputError("detect: --resume continues the run in --out DIR; give --out")
    # The model and the sources are checked before --out is touched: a typo must not cost an earlier run's files.
    detector = _detector(args).open()
    opened, unopened = [], {}
    for spec in args.sources:
        try:
            opened.append(open_source(spec, retries=args.retries, decoder=args.decoder))
        except MeteorfastError as err:
            if len(args.sources) == 1:
                raise
            # A bad source among good ones must not cost the night's other cameras: report it and go on.
            unopened[spec] = str(err)
            print(f"meteorfast: error: {err}", file=sys.stderr)
    if not opened:
        raise InputError(f"detect: expected at least one source that opens, got {len(unopened)} that do not (above)")
    writer = (
        OutputWriter(args.out, frames=args.save_frames, overlays=args.save_overlays, clips=args.save_clips,
                     resume=args.resume)
        if args.out
        else None
    )  # fmt: skip
    done = writer.completed if writer is not None else set()
    sources = [s for s in opened if s.id not in done]
    resumed = [s.id for s in opened if s.id in done]
    bars = {
        s.id: tqdm(total=s.frame_count, desc=s.id[-32:], unit="frame", position=i, leave=False, disable=None)
        for i, s in enumerate(sources)
    }

    def on_result(r: Any) -> None:
        bar = bars.get(r.source)
        if bar is not None:
            bar.update(r.end_index + 1 - bar.n)
        if writer is not None:
            writer.on_result(r)

    # The first SIGINT or SIGTERM stops the run cleanly (what is read is classified, open events are closed and
    # written); a second one interrupts at once.
    stopped_by: list[str] = []

    def on_signal(signum: int, frame: Any) -> None:
        if stopped_by:
            raise KeyboardInterrupt
        stopped_by.append(signal.Signals(signum).name)
        detector.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    events: list[Any] = []
    try:
        with detector:
            if sources:
                events = detector.detect(
                    sources, on_result=on_result, on_event=writer.on_event if writer else None, on_error="skip",
                    on_source_end=writer.on_source_end if writer else None,
                )  # fmt: skip
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for bar in bars.values():
            bar.close()
        if writer is not None:
            writer.close()
    rows = _summary(detector, events, unopened, resumed)
    if args.json:
        print(json.dumps({"events": [ev.to_json() for ev in events], "sources": rows}, indent=2))
    else:
        for ev in events:
            print(f"event {ev.source} frames {ev.start_frame}-{ev.end_frame} ({ev.start_time_s:.2f}-"
                  f"{ev.end_time_s:.2f} s) p={ev.peak_prob:.3f} at ({ev.x:.1f}, {ev.y:.1f})")  # fmt: skip
        _print_summary(rows)
        if writer is not None:
            print(f"events: {writer.out / 'events.jsonl'} and {writer.out / 'events.csv'}")
    if stopped_by:
        where = ", ".join(f"{r['source']} after frame {r['last_frame']}" for r in rows if r["status"] == "stopped")
        print(f"meteorfast: stopped by {stopped_by[0]}" + (f": {where}" if where else "") +
              ("; rerun with --resume to finish" if writer is not None else ""), file=sys.stderr)  # fmt: skip
        return 128 + int(getattr(signal, stopped_by[0]))
    failed = [r["source"] for r in rows if r["status"] == "failed"]
    skipped = sum(r["decode_errors"] for r in rows)
    if failed or skipped:
        parts = [f"{len(failed)} of {len(rows)} sources failed ({', '.join(failed)})"] if failed else []
        parts += [f"{skipped} frame(s) or file(s) could not be decoded and were skipped"] if skipped else []
        print(f"meteorfast: {'; '.join(parts)}", file=sys.stderr)
        return 1
    return 0


def _cmd_soak(args: argparse.Namespace) -> int:
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


def _cmd_demo(args: argparse.Namespace) -> int:
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


def _cmd_bench(args: argparse.Namespace) -> int:
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
    from meteorfast.data import resolve_model
    from meteorfast.quantize import quantize_onnx

    report = quantize_onnx(resolve_model(args.model), args.out, calib=args.calib, method=args.method)
    sources = ", ".join(f"{n} {k}" for k, n in report.calibration.items())
    print(f"wrote {report.path}: INT8 QDQ, per-channel; calibrated on {sources}; {report.float_nodes} nodes kept float")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
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


def _cmd_merge_verifiers(args: argparse.Namespace) -> int:
    from meteorfast.verify import merge

    path = merge(args.verifiers, args.out, args.first_weight)
    print(f"wrote {path}: {len(args.verifiers)} verifiers, their mean blended with the first look at weight "
          f"{args.first_weight}; set its threshold with `meteorfast calibrate MODEL --verifier {path} --target-fpr F "
          "--out OUT`")  # fmt: skip
    return 0


def _cmd_build_engine(args: argparse.Namespace) -> int:
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


def _cmd_train(args: argparse.Namespace) -> int:
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


def _cmd_eval(args: argparse.Namespace) -> int:
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
                                satellite_veto=_stills_stage(args.satellite_veto),
                                rescue=_stills_stage(args.rescue),
                                star_veto=_stills_stage(args.star_veto, False))  # fmt: skip

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
    result["satellite_veto"] = _stills_stage(args.satellite_veto)
    result["rescue"] = _stills_stage(args.rescue)
    result["star_veto"] = _stills_stage(args.star_veto, False)
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
    "(frame mode; about 0.5 s per short streak). Default: on stills (image files) only, never on video frames, "
    "where a meteor's 40 ms is itself a dash; --satellite-veto: on every frame; --no-satellite-veto: on none"
)
STAR_VETO_HELP = (
    "turn down detections shaped like the frame's stars where those are all smeared alike (a shaken camera, a "
    "drifting sky; frame mode; about 0.1 s per detection). Default: off (on simulated stills it cost more meteors "
    "than it saved false positives); --star-veto: on every frame"
)
RESCUE_HELP = (
    "a second opinion from the shipped proposal net, weighed with the detector's own logit: take back frames the "
    "detector turns down where the net's best cell (and the dash fit there) is sure of a streak, and turn down "
    "unsure detections where the net sees no streak at the point (frame mode; a native-resolution scan, about 0.23 s "
    "per 1280x720 frame on one thread). Default: on stills (image files) only; --rescue: on every frame; "
    "--no-rescue: on none"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meteorfast", description="Meteor detection with in-engine Grad-CAM.")
    parser.add_argument("--version", action="version", version=f"meteorfast {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="version, backends and native kernels, with the reason for anything missing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("demo", help="detect the meteor in the bundled real GMN clip with the shipped model")
    p.add_argument("--out", default="meteorfast-demo", help="directory for events.jsonl and the overlay PNG")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.set_defaults(func=_cmd_demo)

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
    p.set_defaults(func=_cmd_detect)

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
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("soak", help="live synthetic cameras for a while; memory must stay flat, drops are counted")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--sources", type=int, default=4, help="simulated 720p cameras (default 4)")
    p.add_argument("--seconds", type=float, default=600.0, help="length of the run (default 600)")
    p.add_argument("--fps", type=float, default=25.0, help="camera frame rate (default 25)")
    p.add_argument("--mode", default="frame", choices=["frame", "stack"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (default: a fifth of the run)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the report (with RSS samples) here")
    p.set_defaults(func=_cmd_soak)

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
    p.add_argument("model", help="an .onnx written by `meteorfast export`, or a shipped model: default or fast")
    p.add_argument("--calib", type=int, default=64, help="calibration frames (default 64)")
    p.add_argument("--method", default="minmax", choices=["minmax", "entropy", "percentile"])
    p.add_argument("--out", required=True, help="the INT8 .onnx to write")
    p.set_defaults(func=_cmd_quantize)

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
    p.set_defaults(func=_cmd_calibrate)

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
    p.set_defaults(func=_cmd_merge_verifiers)

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
    p.set_defaults(func=_cmd_build_engine)

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
    p.set_defaults(func=_cmd_train)

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
    p.set_defaults(func=_cmd_eval)
    return parser


class _WarningLine(logging.Handler):
    """Warnings (a skipped frame, a reconnection) as one line on stderr each, written around the progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(f"meteorfast: warning: {record.getMessage()}", file=sys.stderr)


def _few_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at 2, as MALLOC_ARENA_MAX=2 would (unless the user set it). Reader threads allocate
    each decoded frame and the inference thread frees it; with an arena per thread, that pattern fragments memory
    and a 10-minute 4-camera soak drifted +30 MiB after warm-up, against none with 2 arenas (benchmarks/RESULTS.md)."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return


def _command(args: argparse.Namespace) -> str:
    """The command line that made a report, as a shell would take it back."""
    return shlex.join(["meteorfast", *args.argv])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Reports record the arguments main() was given, which are sys.argv's only when run as the console script.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    _few_malloc_arenas()
    logger = logging.getLogger("meteorfast")
    if not logger.handlers:
        logger.addHandler(_WarningLine(logging.WARNING))
        logger.propagate = False
    if not args.debug:
        # FFmpeg logs decode failures straight to stderr ("moov atom not found"); the error we raise says it in
        # one line. OpenCV reads this when it first loads its FFmpeg backend, which has not happened yet here.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")  # its "[ERROR] Could not find decoder" lines likewise
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
