"""``meteorfast bench``: throughput per station hardware, beside the PyTorch + pytorch-grad-cam baseline.

Everything runs in one process and, where two things are compared, interleaved (A B A B ...), each pair giving one
ratio: machines are noisy, and only side-by-side ratios mean much. Input frames are simulated 1280x720 skies from
:mod:`meteorfast.synth` (video frames and stills), run through the full path: preprocess -> infer -> Grad-CAM ->
localise (and refine). ``--streams N`` plays N copies of a real encoded clip (the bundled GMN clip) in real time.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import BackendUnavailableError, InputError
from meteorfast.stream.flicker import DEFAULT_FLICKER
from meteorfast.stream.sources import Frame, Source, to_grey

PRECISIONS = ("fp32", "int8", "fp16")


@dataclass(frozen=True)
class BenchConfig:
    """What ``meteorfast bench`` measures (see the CLI help for each field)."""

    model: str | None = None
    backend: str = "auto"
    precision: str = "fp32"
    batches: tuple[int, ...] = (1, 8, 32, 64)
    streams: int = 0
    mode: str = "frame"
    flicker: float = DEFAULT_FLICKER
    baseline: bool = False
    kernels: bool = False
    fps: float = 25.0
    repeats: int = 7
    pairs: int = 5
    stream_seconds: float = 20.0
    frames: int = 64
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"bench: expected --precision one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not self.batches or min(self.batches) < 1:
            raise InputError(f"bench: expected batch sizes >= 1, got {self.batches}")
        if self.mode not in ("frame", "stack"):
            raise InputError(f"bench: expected --mode frame or stack, got {self.mode!r}")
        if self.streams < 0 or self.repeats < 1 or self.pairs < 1 or self.fps <= 0:
            raise InputError(
                f"bench: expected streams >= 0, repeats >= 1, pairs >= 1, fps > 0; got {self.streams}, "
                f"{self.repeats}, {self.pairs}, {self.fps}"
            )


# ---------------------------------------------------------------- machine and model


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """CPU, GPU and library versions of this run."""
    import cv2
    import onnxruntime

    from meteorfast import __version__
    from meteorfast.cam import native_info
    from meteorfast.devices import probe_driver

    gpu = probe_driver()
    versions = {"meteorfast": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__}  # fmt: skip
    import importlib.metadata
    import sys

    # The libraries this run imported (the baseline's, TensorRT), by their installed distribution's version.
    for module, dist in (("torch", "torch"), ("tensorrt", "tensorrt"), ("pytorch_grad_cam", "grad-cam"),
                         ("torchvision", "torchvision")):  # fmt: skip
        if module in sys.modules:
            try:
                versions[module] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                versions[module] = str(getattr(sys.modules[module], "__version__", "unknown"))
    return {
        "cpu": cpu_model(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "gpu": f"{gpu.count} CUDA device(s)" if gpu.count else f"none ({gpu.reason})",
        "native_kernels": native_info().cpu,
        "versions": versions,
    }


def sgemm_peak_gflops(n: int = 1024, seconds: float = 1.5) -> float:
    """The best float32 matrix-multiply rate NumPy's BLAS reaches here, in GFLOP/s (2 n^3 per product)."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), np.float32)
    b = rng.random((n, n), np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def model_gflops(onnx_path: str | Path) -> float:
    """Multiply-adds x 2 per frame of the graph's convolutions and matrix products (the forward pass and the
    in-graph Grad-CAM tensors alike), from ONNX shape inference at batch 1."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(onnx_path))
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    flops = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv" and node.output[0] in shapes and node.input[1] in shapes:
            out = shapes[node.output[0]]
            w = shapes[node.input[1]]  # [Cout, Cin/groups, kh, kw]
            flops += 2.0 * float(np.prod(out)) * float(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul") and all(i in shapes for i in node.input[:2]):
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            trans_b = node.op_type == "Gemm" and any(at.name == "transB" and at.i for at in node.attribute)
            n = b[0] if trans_b else b[-1]
            flops += 2.0 * float(np.prod(a)) * n
    return flops / 1e9


def forward_only(onnx_path: str | Path, out_dir: Path) -> Path:
    """The same graph cut down to ``frames -> prob``: the forward pass alone, for the Grad-CAM overhead."""
    import onnx.utils

    dst = out_dir / (Path(onnx_path).stem + ".forward.onnx")
    onnx.utils.extract_model(str(onnx_path), str(dst), ["frames"], ["prob"])
    return dst


def int8_model(onnx_path: str | Path, out_dir: Path) -> Path:
    """An INT8 copy (``meteorfast quantize``'s static QDQ) of ``onnx_path``."""
    from meteorfast.quantize import quantize_onnx

    return quantize_onnx(onnx_path, out_dir / (Path(onnx_path).stem + ".int8.onnx"), calib=64).path


def synthetic_frames(n: int, seed: int = 2026) -> list[npt.NDArray[np.uint8]]:
    """``n`` simulated 1280x720 uint8 frames (half video frames, half stills; half with a meteor)."""
    from meteorfast.synth import SimConfig, sample

    return [np.asarray(f.image, np.uint8) for f in sample(n, seed, config=SimConfig(size=(720, 1280)))]


# ---------------------------------------------------------------- measurements


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else float("nan")


def bench_batches(
    model: Path, cfg: BenchConfig, frames: Sequence[npt.NDArray[np.uint8]], forward: Path | None,
    progress: Callable[[str], None],
) -> list[dict[str, Any]]:  # fmt: skip
    """Per batch size: frames/s, latency p50/p99 per batch, ms per stage per frame, and the Grad-CAM overhead
    (interleaved against the forward-only graph on the same runtime)."""
    from meteorfast.detector import Detector
    from meteorfast.preprocess import Preprocessor

    rows: list[dict[str, Any]] = []
    for batch in cfg.batches:
        det = Detector(model, backend=cfg.backend, batch_size=batch)
        det.open()
        fwd = None
        if forward is not None and det.backend == "onnxruntime":
            from meteorfast.backends.onnxruntime import OnnxRuntimeBackend

            fwd = OnnxRuntimeBackend(str(forward), spin=False).open()  # as the detector runs it
        chunk = [frames[i % len(frames)] for i in range(batch)]
        x, _ = Preprocessor(det.input_size, 1).batch(chunk)
        det.classify(chunk)  # warm-up: thread pools, allocator, caches
        if fwd is not None:
            fwd.infer({"frames": x}, ["prob"])
        det.times.reset()
        lat, fwd_s = [], []
        for _ in range(cfg.repeats):  # interleaved: full path, then the forward pass alone
            t0 = time.perf_counter()
            det.classify(chunk)
            lat.append(time.perf_counter() - t0)
            if fwd is not None:
                t1 = time.perf_counter()
                fwd.infer({"frames": x}, ["prob"])
                fwd_s.append(time.perf_counter() - t1)
        stage = stage_ms_per_frame(det)
        fps = batch / statistics.median(lat)
        row: dict[str, Any] = {
            "batch": batch, "fps": fps, "p50_ms": _pct(lat, 50) * 1e3, "p99_ms": _pct(lat, 99) * 1e3,
            "stage_ms": {k: round(v, 3) for k, v in stage.items() if k != "stack"},  # no stacks here
            "cameras_at_fps": fps / cfg.fps,
            # The detector's own path: the default model's stills get its second look (None: no verifier ran).
            "verifier": str(det.verifier) if det.verifying else None,
        }  # fmt: skip
        if fwd_s:
            # Grad-CAM's overhead: the full graph's infer + CAM + native localisation against the forward-only
            # infer. The sub-cell refinement is a step beyond Grad-CAM; it is reported on its own (stage_ms).
            cam_path = stage["infer"] + stage["cam"] + stage["post"]
            fwd_ms = statistics.median(fwd_s) * 1e3 / batch
            row["forward_only_infer_ms"] = fwd_ms
            row["cam_overhead"] = cam_path / fwd_ms - 1 if fwd_ms > 0 else float("nan")
        if fwd is not None:
            fwd.close()
        det.close()
        rows.append(row)
        progress(f"batch {batch}: {fps:.1f} frames/s, p50 {row['p50_ms']:.1f} ms")
    return rows


class PacedVideo(Source):
    """A real-time camera stand-in: a video file decoded and delivered at ``fps`` (looping), for ``seconds``.

    Live, so the pipeline drops its oldest frames when late. Keeps when each frame was due, to measure lag, and how
    long decoding took."""

    live = True

    def __init__(self, path: Path, fps: float, seconds: float, source_id: str) -> None:
        self.path = path
        self.rate = fps
        self.fps = fps
        self.seconds = seconds
        self.id = source_id
        self.due: dict[int, float] = {}
        self.decode_s = 0.0
        self.decoded = 0
        self.start = 0.0

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        total = int(self.seconds * self.rate)
        cap = cv2.VideoCapture(str(self.path))
        self.start = time.perf_counter()
        try:
            for index in range(total):
                due = self.start + index / self.rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t = time.perf_counter()
                ok, image = cap.read()
                if not ok:
                    cap.release()
                    cap = cv2.VideoCapture(str(self.path))
                    ok, image = cap.read()
                    if not ok:
                        raise InputError(f"bench: expected frames from {self.path}, it gives none")
                grey = to_grey(image)
                self.decode_s += time.perf_counter() - t
                self.decoded += 1
                self.due[index] = due
                yield Frame(self.id, index, index / self.rate, np.asarray(grey))
        finally:
            cap.release()


def stage_ms_per_frame(det: Any) -> dict[str, float]:
    """The detector's stage times in ms per item (frame or window), without ``tta``, which bench never runs, and
    without the stills' judges (``satellite_veto``, ``star_veto``, ``proposal``), which bench's video frames never
    run."""
    skip = ("tta", "satellite_veto", "star_veto", "proposal")
    return {k: v for k, v in det.times.ms_per_item().items() if k not in skip}


def bench_streams(model: Path, cfg: BenchConfig, video: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """``cfg.streams`` real-time 720p sources through :meth:`~meteorfast.detector.Detector.stream`: delivered fps
    per source, drops, and lag (result time minus the time the frame, or a window's last frame, was due)."""
    from meteorfast.detector import Detector

    batch = max(cfg.batches)
    mode: Any = cfg.mode  # checked in BenchConfig
    det = Detector(model, backend=cfg.backend, batch_size=batch, mode=mode, flicker=cfg.flicker)
    det.open()
    sources = [PacedVideo(video, cfg.fps, cfg.stream_seconds, f"cam{i}") for i in range(cfg.streams)]
    lags: dict[str, list[float]] = {s.id: [] for s in sources}
    # With flicker suppression a source's first window waits, by design, for the next one (see
    # meteorfast.stream.flicker): its lag is reported on its own, not taken for falling behind.
    held_first = cfg.mode == "stack" and det.config.flicker > 0
    first_lag: dict[str, float] = {}
    by_id = {s.id: s for s in sources}
    began = time.perf_counter()
    for r in det.stream(list(sources)):
        due = by_id[r.source].due.get(r.end_index)
        if due is None:
            continue
        if held_first and r.source not in first_lag:
            first_lag[r.source] = time.perf_counter() - due
        else:
            lags[r.source].append(time.perf_counter() - due)
    wall = time.perf_counter() - began
    per: list[dict[str, Any]] = []
    for st, src in zip(det.stats, sources, strict=True):
        delivered = st.frames - st.dropped_frames
        per.append({
            "source": st.source, "frames": st.frames, "dropped_frames": st.dropped_frames,
            "delivered_fps": delivered / wall, "lag_p50_ms": _pct(lags[src.id], 50) * 1e3,
            "lag_p99_ms": _pct(lags[src.id], 99) * 1e3,
            **({"first_window_lag_ms": first_lag[src.id] * 1e3 if src.id in first_lag else None} if held_first else {}),
            "decode_ms": 1e3 * src.decode_s / max(src.decoded, 1),
        })  # fmt: skip
    stage = stage_ms_per_frame(det)
    verifier = str(det.verifier) if det.verifying else None
    det.close()
    dropped = sum(p["dropped_frames"] for p in per)
    result = {
        "streams": cfg.streams, "mode": cfg.mode, "flicker": cfg.flicker, "fps_target": cfg.fps, "verifier": verifier,
        "seconds": cfg.stream_seconds,
        "batch": batch, "wall_s": wall, "sources": per, "dropped_frames": dropped,
        # Kept up: nothing dropped, and no frame waited more than a second for its result (a pipeline that falls
        # behind fills its queues, and the lag grows to their length before it drops).
        "sustained": dropped == 0 and max(p["lag_p99_ms"] for p in per) <= 1000,
        "stage_ms": {**{k: round(v, 3) for k, v in stage.items()},
                     "decode": round(statistics.mean(p["decode_ms"] for p in per), 3)},
    }  # fmt: skip
    progress(f"{cfg.streams} streams ({cfg.mode}): dropped {dropped} frames")
    return result


def interleave(a: Callable[[], Any], b: Callable[[], Any], pairs: int) -> dict[str, float]:
    """Time ``a`` then ``b``, ``pairs`` times after one warm-up call each; medians and the per-pair ratios b / a."""
    a()
    b()
    ta, tb, ratios = [], [], []
    for _ in range(pairs):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
    return {"a_ms_median": statistics.median(ta) * 1e3, "b_ms_median": statistics.median(tb) * 1e3,
            "ratio_min": min(ratios), "ratio_median": statistics.median(ratios), "ratio_max": max(ratios),
            "pairs": pairs}  # fmt: skip


def bench_kernels(infer_ms_per_frame: float | None, pairs: int) -> dict[str, Any]:
    """Native post-processing and stacking against the NumPy reference (interleaved), and post-processing time
    as a share of inference time per frame."""
    import meteorfast.cam as mc
    from meteorfast.cam import reference as ref

    rng = np.random.default_rng(0)
    n = 64
    feat = np.maximum(rng.standard_normal((n, 1280, 7, 7)), 0).astype(np.float32)
    grad = (rng.standard_normal((n, 1280, 7, 7)) * 1e-3).astype(np.float32)
    fmap = rng.random((n, 112, 112)).astype(np.float32)
    geo = np.tile(np.array([1, 1, 0, 0], np.float32), (n, 1))
    frames = rng.integers(0, 256, (25, 720, 1280), dtype=np.uint8)
    post = interleave(
        lambda: mc.postprocess(feat, grad, fmap, input_size=(224, 224)),
        lambda: ref.localize(ref.grad_cam(feat, grad), fmap, geo, (224, 224), "fused"),
        pairs,
    )
    stack = interleave(lambda: mc.stack(frames), lambda: ref.stack(frames), pairs)
    out: dict[str, Any] = {
        "postprocess": {"load": "N=64 K=1280 7x7, 112x112 map", "native_ms": post["a_ms_median"],
                        "reference_ms": post["b_ms_median"], "speedup_min": post["ratio_min"],
                        "speedup_median": post["ratio_median"], "speedup_max": post["ratio_max"]},
        "stacking": {"load": "25 x 1280x720 uint8", "native_ms": stack["a_ms_median"],
                     "reference_ms": stack["b_ms_median"], "speedup_min": stack["ratio_min"],
                     "speedup_median": stack["ratio_median"], "speedup_max": stack["ratio_max"]},
    }  # fmt: skip
    if infer_ms_per_frame:
        out["post_share_of_infer"] = post["a_ms_median"] / n / infer_ms_per_frame
    return out


def _baseline_model(onnx_path: Path, weights: str | None) -> Any:
    import json

    import onnx

    from meteorfast.models import create, load_weights

    meta = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    arch, head = meta.get("meteorfast.arch"), meta.get("meteorfast.head")
    if arch is None or head is None:
        raise InputError(f"bench --baseline: expected a meteorfast graph with metadata, got {onnx_path}")
    chans = int(json.loads(meta["meteorfast.input"])["channels"])
    path = Path(weights) if weights else onnx_path.with_suffix(".pt")
    if not path.is_file():
        raise InputError(
            f"bench --baseline: expected the torch checkpoint of {onnx_path.name} at {path}, which does not exist; "
            "pass --weights model.pt (written by `meteorfast train` beside model.onnx; the shipped model's is "
            "benchmarks/models/meteorfast-lite0.pt in the source checkout)"
        )
    model = create(arch, pretrained=False, in_chans=chans, head=head)
    load_weights(model, str(path))
    return model.eval()


def bench_baseline(
    model: Path, cfg: BenchConfig, frames: Sequence[npt.NDArray[np.uint8]], progress: Callable[[str], None]
) -> dict[str, Any]:
    """The same frames and weights in PyTorch eager with ``pytorch_grad_cam.GradCAM`` (meteor target) and the same
    localisation on its CAM, interleaved with meteorfast at the largest batch size; one ratio per pair."""
    try:
        import torch
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as err:
        raise BackendUnavailableError(
            f'bench --baseline needs torch, torchvision and grad-cam ({err}); pip install "meteorfast[baseline]"'
        ) from err
    import meteorfast.cam as mc
    from meteorfast.detector import Detector
    from meteorfast.preprocess import Preprocessor

    batch = max(cfg.batches)
    net = _baseline_model(model, cfg.weights)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    det = Detector(model, backend=cfg.backend, batch_size=batch, refine=False, verifier=None).open()
    prep = Preprocessor(det.input_size, 1)
    chunk = [frames[i % len(frames)] for i in range(batch)]
    grad_cam = GradCAM(model=net, target_layers=[net.cam_layer])
    targets = [ClassifierOutputTarget(1)] * batch
    stem: dict[str, Any] = {}
    # The first-layer map, the way a researcher would get it: a forward hook on the stem.
    net.stem.register_forward_hook(lambda _m, _i, out: stem.__setitem__("fine", out.detach()))

    def baseline() -> None:
        x, geo = prep.batch(chunk)
        cams = grad_cam(input_tensor=torch.from_numpy(x).float(), targets=targets)  # ReLU, min-max, at input size
        fine = stem["fine"].mean(1).numpy()
        mc.localize(np.asarray(cams, np.float32), np.asarray(fine, np.float32), input_size=det.input_size,
                    geometry=geo)  # fmt: skip

    result = interleave(lambda: det.classify(chunk), baseline, cfg.pairs)
    det.close()
    ours = batch / (result["a_ms_median"] / 1e3)
    theirs = batch / (result["b_ms_median"] / 1e3)
    progress(f"baseline: {theirs:.1f} frames/s, meteorfast {ours:.1f} frames/s")
    return {
        "batch": batch, "baseline_fps": theirs, "meteorfast_fps": ours,
        "speedup_vs_baseline": result["ratio_median"], "speedup_min": result["ratio_min"],
        "speedup_max": result["ratio_max"], "pairs": cfg.pairs,
    }  # fmt: skip


# ---------------------------------------------------------------- the whole run


def run(cfg: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Everything ``meteorfast bench`` reports, as one JSON-able dict."""
    from meteorfast.backends import choose_backend, get_backend
    from meteorfast.data import SAMPLE_VIDEO, resolve_model

    model = resolve_model(cfg.model)
    backend = choose_backend(model, cfg.backend)
    get_backend(backend)  # fail now, with the reason, if that runtime cannot run here
    work = Path(tempfile.mkdtemp(prefix="meteorfast-bench-"))
    frames = synthetic_frames(cfg.frames)
    onnx_model = model if model.suffix.lower() == ".onnx" else None
    peak = sgemm_peak_gflops()
    progress(f"sgemm peak {peak:.0f} GFLOP/s")
    out: dict[str, Any] = {"model": str(model), "backend": backend, "precision": cfg.precision}
    gflop = model_gflops(onnx_model) if onnx_model is not None else float("nan")
    run_model = model
    fp32_model = model
    if backend == "tensorrt" and onnx_model is not None:
        # One engine per precision, built (or reused, when its manifest matches this GPU) for the batch sizes asked.
        from meteorfast.backends.tensorrt import build_engine

        top = max(cfg.batches)
        profile = (1, min(8, top), top)
        run_model = build_engine(onnx_model, precision=cfg.precision, batch=profile)
        if cfg.precision == "int8":
            fp32_model = build_engine(onnx_model, precision="fp32", batch=profile)
    elif cfg.precision == "int8" and backend == "onnxruntime" and onnx_model is not None:
        run_model = int8_model(onnx_model, work)
    elif cfg.precision == "fp16" and backend == "onnxruntime":
        raise InputError("bench: --precision fp16 needs the TensorRT backend (ONNX Runtime's CPU provider is FP32)")
    # The Grad-CAM overhead is measured against a forward-only graph on ONNX Runtime; on TensorRT the CAM and the
    # localisation run on the device inside the same call and are not timed apart.
    fwd = forward_only(run_model, work) if backend == "onnxruntime" and run_model.suffix == ".onnx" else None
    rows = bench_batches(run_model, cfg, frames, fwd, progress)
    out["batches"] = rows
    best = max(rows, key=lambda r: r["fps"])
    out.update({
        "fps": best["fps"], "p50_ms": best["p50_ms"], "p99_ms": best["p99_ms"], "stage_ms": best["stage_ms"],
        "cam_overhead": best.get("cam_overhead"), "best_batch": best["batch"],
        "cameras_at_25fps": best["fps"] / 25.0, "model_gflop_per_frame": gflop,
        "gflops_achieved": gflop * best["fps"], "sgemm_peak_gflops": peak,
        "flop_share_of_sgemm_peak": gflop * best["fps"] / peak if peak else float("nan"),
    })  # fmt: skip
    out["int8_speedup"] = None
    if cfg.precision == "int8" and run_model != model:
        # FP32 on the same frames and batch sizes: the speed-up at INT8's best batch, and FP32's line in the plot.
        fp32_rows = bench_batches(fp32_model, cfg, frames, None, progress)
        fp32 = next(r for r in fp32_rows if r["batch"] == best["batch"])
        out["fp32_batches"] = fp32_rows
        out["fp32_fps"] = fp32["fps"]
        out["int8_speedup"] = best["fps"] / fp32["fps"]
    st = best["stage_ms"]
    # The native kernels' share; on TensorRT they run on the device inside the timed inference call.
    out["post_share_of_infer"] = (st["cam"] + st["post"]) / st["infer"] if backend == "onnxruntime" else None
    out["refine_share_of_infer"] = st["refine"] / st["infer"]
    if cfg.kernels:
        out["kernels"] = bench_kernels(best["stage_ms"]["infer"], cfg.pairs)
    out["baseline_fps"] = None
    out["speedup_vs_baseline"] = None
    if cfg.baseline:
        base = bench_baseline(model, cfg, frames, progress)
        out["baseline"] = base
        out["baseline_fps"] = base["baseline_fps"]
        out["speedup_vs_baseline"] = base["speedup_vs_baseline"]
    if cfg.streams:
        out["stream"] = bench_streams(run_model, cfg, SAMPLE_VIDEO, progress)
    out["machine"] = machine()  # last, so that the versions of what the run imported (torch, ...) are in
    return out


def plot(results: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """frames/s against batch size, one line per backend/precision (an INT8 run brings its FP32 line), the baseline
    as a horizontal line; PNG."""
    import io

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise InputError(f'bench --plot needs matplotlib ({err}); pip install "meteorfast[plot]"') from err
    from meteorfast.io import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for res in results:
        lines = [(res["precision"], res["batches"])] + (
            [("fp32", res["fp32_batches"])] if "fp32_batches" in res else []
        )
        for precision, rows in lines:
            ax.plot([r["batch"] for r in rows], [r["fps"] for r in rows], marker="o",
                    label=f"{res['backend']} {precision}")  # fmt: skip
        if res.get("baseline_fps"):
            ax.axhline(res["baseline_fps"], color="grey", linestyle="--", label="PyTorch + pytorch-grad-cam")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("frames/s (1280x720, full path)")
    ax.grid(alpha=0.3)
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
