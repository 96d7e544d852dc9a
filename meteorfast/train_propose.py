"""Training the proposal net (:mod:`meteorfast.proposals`; needs the ``[train]`` extra), which the stills' second
opinion runs.

The net is the first five stages of EfficientNet-Lite0 (stride 16, 112 channels) with a small head (3x3 conv to 64
channels, BN, ReLU, 1x1 conv to one logit per cell), run fully convolutionally. It trains on :data:`CROP` px crops
of simulated 1280x720 stills at native resolution: a meteor still's crop centred up to :data:`METEOR_OFFSET_PX`
from a point of its streak, any other crop anywhere. The loss is per-cell BCE against :func:`cell_labels`
(meteor cells weighted ``positive_weight``), plus a BCE on each crop's best cell against whether the crop holds the
streak, so a crop's maximum reads as the still's score.

Hard negatives: a random crop covers 11 % of a 720p still, so the confounder a negative still holds (the
satellite, the bird, the bolt) is seldom in it, yet those are the negatives that stay on top. :func:`mine` scans
whole negative stills with an exported net and keeps crops around each still's best cells; training with
``banks`` puts ``mined_per_batch`` of them in every batch, drawn in proportion to ``sigmoid(score) + 0.05``, the
newest bank taking :data:`NEWEST_BANK_SHARE` of the draws.

Runs resume: ``OUT/state.pt`` holds the weights, the EMA weights, the optimiser and the step, written atomically
every ``save_every`` steps. ``python -m meteorfast.train_propose {train,mine,export} --help``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, MeteorfastError
from meteorfast.io import atomic_write_bytes
from meteorfast.proposals import CELL, CROP, EXPORT_BAR, ProposalScanner, best_cells

# A cell is a meteor cell when its centre lies within this distance of the streak (half a cell's diagonal, so a
# streak through a cell anywhere marks it), and left out of the loss up to IGNORE_PX, where the streak's Gaussian
# profile and the net's receptive field blur the boundary.
POSITIVE_PX = 11.5
IGNORE_PX = 24.0
# Label values of :func:`cell_labels`.
POSITIVE, BACKGROUND, IGNORE = 1.0, 0.0, -1.0

Segment = tuple[float, float, float, float]


def cell_centres(rows: int, cols: int, origin: tuple[float, float] = (0.0, 0.0)) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64]
]:  # fmt: skip
    """Frame coordinates ``(x, y)`` of the centres of a ``rows x cols`` cell grid whose top-left pixel is at
    ``origin`` ``(x0, y0)``: two ``float64 [rows, cols]`` arrays. Cell ``(i, j)`` covers pixels
    ``[16j, 16j+16) x [16i, 16i+16)``, so its centre is ``(16j + 8, 16i + 8)`` (a 320 px crop's centres are then
    symmetric about its middle, and its labels turn with it by 90 degrees)."""
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float64)
    return xs * CELL + CELL / 2 + origin[0], ys * CELL + CELL / 2 + origin[1]


def distance_to_segments(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], segments: Sequence[Segment]
) -> npt.NDArray[np.float64]:
    """Distance from each point ``(x, y)`` (arrays of one shape) to the nearest of ``segments`` ``(x0, y0, x1, y1)``:
    ``float64``, the shape of ``x``; ``inf`` where there are no segments."""
    best = np.full(x.shape, np.inf)
    for x0, y0, x1, y1 in segments:
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        t = np.zeros_like(x) if length2 == 0 else np.clip(((x - x0) * dx + (y - y0) * dy) / length2, 0.0, 1.0)
        best = np.minimum(best, np.hypot(x - (x0 + t * dx), y - (y0 + t * dy)))
    return best


def cell_labels(
    rows: int, cols: int, segments: Sequence[Segment], origin: tuple[float, float] = (0.0, 0.0)
) -> npt.NDArray[np.float32]:
    """The training target of a ``rows x cols`` cell grid at ``origin`` (frame px, see :func:`cell_centres`):
    ``float32 [rows, cols]``, :data:`POSITIVE` within :data:`POSITIVE_PX` of a streak, :data:`IGNORE` up to
    :data:`IGNORE_PX`, :data:`BACKGROUND` beyond (everywhere for a negative, ``segments`` empty)."""
    d = distance_to_segments(*cell_centres(rows, cols, origin), segments)
    out = np.full((rows, cols), BACKGROUND, np.float32)
    out[d < IGNORE_PX] = IGNORE
    out[d < POSITIVE_PX] = POSITIVE
    return out


METEOR_OFFSET_PX = 120
# Meteors of 25-200 px (on a 720 px high still) in a share of the draws: the short ones the first look misses.
SHORT_METEOR_PX = (25.0, 200.0)
NEWEST_BANK_SHARE = 0.6
# The kinds drawn more often: the faint meteors to find, and the confounders that stay on top.
DEFAULT_WEIGHTS = (("faint_meteor", 2.0), ("satellite", 3.0), ("shake", 2.0), ("aircraft", 1.5), ("bird", 2.0),
                   ("lightning", 2.0), ("fog", 2.0))  # fmt: skip
STILL = (720, 1280)


@dataclass(frozen=True)
class ProposeConfig:
    """One training run. ``schedule`` is ``onecycle`` (to ``lr`` and down, over ``steps``) or ``constant`` (``lr``
    after a ``warmup``); the EMA of the weights (``ema_decay``) is what gets exported."""

    seed: int = 48
    steps: int = 2000
    batch_size: int = 16
    mined_per_batch: int = 6
    lr: float = 1e-3
    schedule: str = "onecycle"
    warmup: int = 100
    weight_decay: float = 1e-4
    ema_decay: float = 0.998
    meteor_fraction: float = 0.6
    short_fraction: float = 0.3
    positive_weight: float = 8.0
    weights: tuple[tuple[str, float], ...] = DEFAULT_WEIGHTS
    threads: int = 2
    save_every: int = 250
    size: tuple[int, int] = STILL
    banks: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.schedule not in ("onecycle", "constant"):
            raise InputError(f"train_propose: expected schedule onecycle or constant, got {self.schedule!r}")
        if not 0 <= self.mined_per_batch < self.batch_size or self.steps < 1 or self.save_every < 1:
            raise InputError(
                f"train_propose: expected steps >= 1, save_every >= 1 and 0 <= mined_per_batch < batch_size, got "
                f"{self.steps}, {self.save_every}, {self.mined_per_batch} of {self.batch_size}"
            )


# ---------------------------------------------------------------- the net


def build(init: str | Path | None = None, tiny: bool = False) -> Any:
    """The proposal net (``torch.nn.Module``): ``uint8 or float [N, 1, H, W]`` raw pixels in, ``float32 [N, 1,
    ceil(H/16), ceil(W/16)]`` cell logits out. ``init`` loads a proposal checkpoint, or the body of a Lite0 model
    checkpoint (the first look's), or with None the ImageNet weights; ``tiny`` builds a small body for tests."""
    import torch
    from torch import nn

    from meteorfast.models import create, load_weights

    class ProposalNet(nn.Module):
        def __init__(self, body: Any) -> None:
            super().__init__()
            self.normalize = body.normalize
            self.stem = body.stem
            self.trunk = body.trunk
            k = body.features
            self.head = nn.Sequential(
                nn.Conv2d(k, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 1, 1)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.head(self.trunk(self.stem(self.normalize(x))))
            return out

    arch = "tiny" if tiny else "efficientnet_lite0_s16"
    state = None
    if init is not None:
        state = torch.load(init, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "model" in state:
            state = state["model"]
    own_ckpt = isinstance(state, dict) and any(k.startswith("head.0.") for k in state)
    body = create(arch, pretrained=not tiny and init is None, in_chans=1)
    if init is not None and not own_ckpt:
        load_weights(body, init)
    net = ProposalNet(body)
    if own_ckpt and isinstance(state, dict):
        net.load_state_dict(state, strict=True)
    return net


def set_bar(net: Any, bar: float) -> Any:
    """Shift ``net``'s logit bias by ``EXPORT_BAR - bar`` (in place; returned), so that a cell the net scored
    ``bar`` reads as :data:`~meteorfast.proposals.EXPORT_BAR`, the units the rescue's rules are written in.
    The ranking of cells is untouched."""
    import torch

    with torch.no_grad():
        net.head[-1].bias += EXPORT_BAR - bar
    return net


def export(net: Any, path: str | Path, size: tuple[int, int] = STILL) -> Path:
    """Write ``net`` (eval mode) as ONNX: input ``frames`` ``uint8 [1, 1, *size]``, output ``logits`` ``float32
    [1, 1, size/16]``. The size is fixed, as the SAME padding's pads depend on it."""
    import warnings

    import torch

    net = net.eval()
    dummy = torch.zeros((1, 1, *size), dtype=torch.uint8)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scratch = Path(tmp) / "net.onnx"
        torch.onnx.export(net, (dummy,), str(scratch), input_names=["frames"], output_names=["logits"],
                          dynamo=False, opset_version=17)  # fmt: skip
        return atomic_write_bytes(path, scratch.read_bytes())


# ---------------------------------------------------------------- data


def _turn(
    img: npt.NDArray[np.uint8], lab: npt.NDArray[np.float32], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """Flips and 90-degree turns of a square crop and its cell labels together."""
    k = int(rng.integers(0, 4))
    img, lab = np.rot90(img, k), np.rot90(lab, k)
    if rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    return np.ascontiguousarray(img), np.ascontiguousarray(lab)


def crop_at(
    image: npt.NDArray[np.uint8], cx: float, cy: float, rng: np.random.Generator, offset: int = METEOR_OFFSET_PX
) -> tuple[int, int]:
    """Top-left ``(x0, y0)`` of a :data:`CROP` px crop of ``image`` ``[H, W]`` holding the point ``(cx, cy)`` up to
    ``offset`` px from its centre, moved inside the frame (cell-aligned, so its cells are the still's)."""
    h, w = image.shape
    dx, dy = rng.uniform(-offset, offset, 2)
    x0 = int(np.clip(round((cx + dx - CROP / 2) / CELL) * CELL, 0, w - CROP))
    y0 = int(np.clip(round((cy + dy - CROP / 2) / CELL) * CELL, 0, h - CROP))
    return x0, y0


def fresh_crops(
    n: int, seed: int, cfg: ProposeConfig
) -> tuple[list[npt.NDArray[np.uint8]], list[npt.NDArray[np.float32]]]:
    """``n`` crops of simulated stills (``uint8 [CROP, CROP]``) and their cell labels (``float32 [20, 20]``)."""
    from meteorfast.synth import SimConfig, sample

    rng = np.random.default_rng([seed, 1])
    n_short = int(rng.binomial(n, cfg.short_fraction))
    frames = [*sample(n - n_short, seed, meteor_fraction=cfg.meteor_fraction, weights=dict(cfg.weights),
                      config=SimConfig(size=cfg.size)),
              *sample(n_short, seed + 1, meteor_fraction=cfg.meteor_fraction, weights=dict(cfg.weights),
                      config=SimConfig(size=cfg.size, meteor_length=SHORT_METEOR_PX))]  # fmt: skip
    images, labels = [], []
    rows = CROP // CELL
    for f in frames:
        img = np.asarray(f.image, np.uint8)
        segs = [s for s in f.truth.segments if s is not None]
        if f.truth.label and segs:
            x0, y0, x1, y1 = segs[0]
            t = rng.uniform(0, 1)
            x0c, y0c = crop_at(img, x0 + t * (x1 - x0), y0 + t * (y1 - y0), rng)
        else:
            x0c = int(rng.integers(0, (img.shape[1] - CROP) // CELL + 1)) * CELL
            y0c = int(rng.integers(0, (img.shape[0] - CROP) // CELL + 1)) * CELL
        lab = cell_labels(rows, rows, segs if f.truth.label else [], (x0c, y0c))
        crop, lab = _turn(img[y0c : y0c + CROP, x0c : x0c + CROP], lab, rng)
        images.append(crop)
        labels.append(lab)
    return images, labels


@dataclass(frozen=True)
class Bank:
    """Mined negative crops: ``crops`` ``uint8 [M, CROP, CROP]``, the miner's ``scores`` ``float32 [M]`` and each
    crop's confounder ``kinds`` ``str [M]``."""

    crops: npt.NDArray[np.uint8]
    scores: npt.NDArray[np.float32]
    kinds: npt.NDArray[np.str_]

    @classmethod
    def load(cls, path: str | Path) -> Bank:
        with np.load(path) as z:
            return cls(z["crops"], z["scores"], z["kinds"])

    def draw_p(self) -> npt.NDArray[np.float64]:
        p = 1 / (1 + np.exp(-self.scores.astype(np.float64))) + 0.05
        out: npt.NDArray[np.float64] = p / p.sum()
        return out


def batches(
    cfg: ProposeConfig, start: int, stop: int
) -> Iterator[tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]]:
    """Steps ``start`` to ``stop``: ``(uint8 [B, 1, CROP, CROP], float32 [B, 20, 20])``, deterministic by step."""
    banks = [Bank.load(p) for p in cfg.banks]
    probs = [b.draw_p() for b in banks]
    if banks:
        share = np.full(len(banks), (1 - NEWEST_BANK_SHARE) / max(len(banks) - 1, 1))
        share[-1] = NEWEST_BANK_SHARE if len(banks) > 1 else 1.0
    n_mined = cfg.mined_per_batch if banks else 0
    rows = CROP // CELL
    for step in range(start, stop):
        rng = np.random.default_rng([cfg.seed, 17, step])
        images, labels = fresh_crops(cfg.batch_size - n_mined, int(rng.integers(0, 2**31)), cfg)
        for _ in range(n_mined):
            b = int(rng.choice(len(banks), p=share))
            i = int(rng.choice(len(probs[b]), p=probs[b]))
            crop, lab = _turn(banks[b].crops[i], np.zeros((rows, rows), np.float32), rng)
            images.append(crop)
            labels.append(lab)
        yield np.stack(images)[:, None], np.stack(labels)


# ---------------------------------------------------------------- training


def loss_fn(logits: Any, labels: Any, positive_weight: float) -> Any:
    """Per-cell BCE over labelled cells (meteor cells weighted ``positive_weight``) plus a BCE of each crop's best
    cell against whether it holds a meteor cell. ``logits`` ``[B, 1, r, c]``, ``labels`` ``[B, r, c]``."""
    import torch
    import torch.nn.functional as F

    z = logits[:, 0]
    valid = (labels >= 0).float()
    target = (labels > 0).float()
    weight = valid * (1 + (positive_weight - 1) * target)
    cells = (F.binary_cross_entropy_with_logits(z, target, reduction="none") * weight).sum() / weight.sum().clamp(
        min=1.0
    )
    crop_target = target.flatten(1).amax(1)
    crop = F.binary_cross_entropy_with_logits(z.flatten(1).amax(1), crop_target)
    out: torch.Tensor = cells + crop
    return out


def _lr(cfg: ProposeConfig, step: int) -> float:
    if cfg.schedule == "constant":
        return cfg.lr * min(1.0, (step + 1) / cfg.warmup)
    # one-cycle: cosine up over the first 25 %, cosine down to lr/1000 after
    peak = max(int(0.25 * cfg.steps), 1)
    if step < peak:
        return cfg.lr * (0.04 + 0.96 * (1 - math.cos(math.pi * step / peak)) / 2)
    t = (step - peak) / max(cfg.steps - peak, 1)
    return cfg.lr * (1e-3 + (1 - 1e-3) * (1 + math.cos(math.pi * min(t, 1.0))) / 2)


def train(cfg: ProposeConfig, out_dir: str | Path, init: str | Path | None = None, *, tiny: bool = False,
          log: Any = print) -> Path:  # fmt: skip
    """Train (or resume, from ``out_dir/state.pt``) to ``cfg.steps``; writes ``ema_{step}.pt`` every ``save_every``
    steps and ``model.onnx`` (the EMA weights) at the end. Returns the ONNX path."""
    import copy

    import torch

    from meteorfast.stream import prefetch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    state_path = out / "state.pt"
    # NHWC runs the depthwise convolutions faster on CPU.
    net = build(init, tiny=tiny).to(memory_format=torch.channels_last)
    ema = copy.deepcopy(net)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = 0
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        start = int(state["step"])
        log(json.dumps({"resumed": str(state_path), "step": start}))
    for p in ema.parameters():
        p.requires_grad_(False)
    net.train()
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    losses: list[float] = []
    step = start
    for x, y in prefetch(batches(cfg, start, cfg.steps), depth=3):
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step)
        loss = loss_fn(net(torch.from_numpy(x)), torch.from_numpy(y), cfg.positive_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, v in zip(ema.state_dict().values(), net.state_dict().values(), strict=True):
                if e.dtype.is_floating_point:
                    e.mul_(cfg.ema_decay).add_(v, alpha=1 - cfg.ema_decay)
                else:
                    e.copy_(v)
        losses.append(float(loss.item()))
        step += 1
        if step % cfg.save_every == 0 or step == cfg.steps:
            buf = io.BytesIO()
            torch.save({"model": net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                        "config": json.dumps(asdict(cfg))}, buf)  # fmt: skip
            atomic_write_bytes(state_path, buf.getvalue())
            buf = io.BytesIO()
            torch.save({"model": ema.state_dict()}, buf)
            atomic_write_bytes(out / f"ema_{step}.pt", buf.getvalue())
            log(json.dumps({"step": step, "loss": round(float(np.mean(losses)), 4), "lr": _lr(cfg, step - 1),
                            "wall_s": round(time.perf_counter() - t_wall),
                            "cpu_s": round(time.process_time() - t_cpu)}))  # fmt: skip
            losses = []
    return export(ema.to(memory_format=torch.contiguous_format), out / "model.onnx")


# ---------------------------------------------------------------- mining


def mine(model: str | Path, seed: int, n_stills: int, out: str | Path, *, per_still: int = 2,
         weights: Sequence[tuple[str, float]] = DEFAULT_WEIGHTS, size: tuple[int, int] = STILL,
         trailed_stars: float | None = None, log: Any = print) -> Bank:  # fmt: skip
    """Scan ``n_stills`` simulated negative stills of ``seed`` whole with the exported net ``model`` and keep a
    :data:`CROP` px crop around each still's ``per_still`` best cells (at least 7 cells apart), the cell up to
    :data:`METEOR_OFFSET_PX` off the crop's centre. Writes and returns the :class:`Bank`.

    ``trailed_stars`` (None: the simulator's share) sets :attr:`~meteorfast.synth.SimConfig.trailed_stars` of the
    stills mined: a net that fires on one of a long exposure's parallel star trails, which its crop cannot tell from
    a meteor, is shown those skies by mining them at 1.0."""
    from meteorfast.stream import prefetch
    from meteorfast.synth import SimConfig, sample

    scanner = ProposalScanner(model)
    sim = SimConfig(size=size) if trailed_stars is None else SimConfig(size=size, trailed_stars=trailed_stars)
    rng = np.random.default_rng([seed, 23])
    crops: list[npt.NDArray[np.uint8]] = []
    scores: list[float] = []
    kinds: list[str] = []
    t0 = time.perf_counter()
    for i, f in enumerate(
        prefetch(sample(n_stills, seed, meteor_fraction=0.0, weights=dict(weights), config=sim), depth=4)
    ):
        img = np.asarray(f.image, np.uint8)
        for r, c, v in best_cells(scanner.logits(img), per_still):
            x0, y0 = crop_at(img, c * CELL + CELL / 2, r * CELL + CELL / 2, rng)
            crops.append(img[y0 : y0 + CROP, x0 : x0 + CROP])
            scores.append(v)
            kinds.append(f.truth.kind)
        if (i + 1) % 500 == 0:
            log(json.dumps({"mined": i + 1, "wall_s": round(time.perf_counter() - t0)}))
    bank = Bank(np.stack(crops), np.asarray(scores, np.float32), np.asarray(kinds))
    buf = io.BytesIO()
    np.savez(buf, crops=bank.crops, scores=bank.scores, kinds=bank.kinds)
    atomic_write_bytes(out, buf.getvalue())
    return bank


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meteorfast.train_propose", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train or resume a run")
    t.add_argument("out")
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--seed", type=int, default=48)
    t.add_argument("--init")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--schedule", default="onecycle")
    t.add_argument("--bank", action="append", default=[])
    m = sub.add_parser("mine", help="mine hard negatives with an exported net")
    m.add_argument("model")
    m.add_argument("out")
    m.add_argument("--seed", type=int, required=True)
    m.add_argument("--stills", type=int, default=2000)
    m.add_argument(
        "--trailed-stars", type=float, help="share of mined stills whose stars trail (default: the simulator's)"
    )
    m.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="KIND=FACTOR",
        help="draw factor of KIND, replacing its default weight (repeatable)",
    )
    e = sub.add_parser("export", help="export a checkpoint's weights to ONNX")
    e.add_argument("checkpoint")
    e.add_argument("out")
    e.add_argument("--bar", type=float, help="the logit the net's own calibration puts the rescue's bar at; the "
                   f"bias is shifted so that it reads as {EXPORT_BAR:g}, the rescue's units")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except MeteorfastError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "train":
        cfg = ProposeConfig(seed=args.seed, steps=args.steps, lr=args.lr, schedule=args.schedule,
                            banks=tuple(args.bank))  # fmt: skip
        print(train(cfg, args.out, args.init))
    elif args.cmd == "mine":
        weights = dict(DEFAULT_WEIGHTS)
        for item in args.weight:
            kind, sep, factor = item.partition("=")
            try:
                weights[kind] = float(factor)
            except ValueError:
                sep = ""
            if not sep:
                raise InputError(f"train_propose mine: expected --weight KIND=FACTOR, got {item!r}")
        bank = mine(args.model, args.seed, args.stills, args.out, weights=tuple(weights.items()),
                    trailed_stars=args.trailed_stars)  # fmt: skip
        order = np.argsort(-bank.scores)[:200]
        kinds, counts = np.unique(bank.kinds[order], return_counts=True)
        print(json.dumps({"crops": len(bank.scores), "q99": float(np.quantile(bank.scores, 0.99)),
                          "top200": dict(zip(kinds.tolist(), counts.tolist(), strict=True))}))  # fmt: skip
    else:
        if args.bar is not None and not math.isfinite(args.bar):
            raise InputError(f"train_propose export: expected a finite --bar, got {args.bar}; give the logit the "
                             "net's own calibration puts the rescue's bar at")  # fmt: skip
        net = build(args.checkpoint)
        print(export(net if args.bar is None else set_bar(net, args.bar), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
