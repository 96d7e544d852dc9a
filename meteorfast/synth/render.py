"""The simulator's public API: clips, stills, stacks and samples of items, each rendered from a scene and its events,
then the post-processing and video coding (see :mod:`meteorfast.synth`).

It re-exports the public names of :mod:`meteorfast.synth.config` and, for the tests and benchmarks that import them
from here, the scene, the meteor and a few drawing helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError
from meteorfast.synth.config import CONFOUNDERS as CONFOUNDERS
from meteorfast.synth.config import F32, METEOR_SHARES, Segment
from meteorfast.synth.config import KINDS as KINDS
from meteorfast.synth.config import METEOR_KINDS as METEOR_KINDS
from meteorfast.synth.config import NEGATIVE_KINDS as NEGATIVE_KINDS
from meteorfast.synth.config import SimClip as SimClip
from meteorfast.synth.config import SimConfig as SimConfig
from meteorfast.synth.config import SimFrame as SimFrame
from meteorfast.synth.config import Truth as Truth
from meteorfast.synth.draw import _star_path as _star_path
from meteorfast.synth.draw import _trail as _trail
from meteorfast.synth.draw import _upsample as _upsample
from meteorfast.synth.events import MIN_SHOWN as MIN_SHOWN
from meteorfast.synth.events import _events
from meteorfast.synth.events import _Meteor as _Meteor
from meteorfast.synth.scene import _Scene as _Scene


def _post(img: F32, scene: _Scene, kind: str, rng: np.random.Generator, t0: float, t1: float) -> F32:
    import cv2

    if kind == "fog":
        sigma = float(rng.uniform(2, 8))
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), np.float32) * np.float32(rng.uniform(0.5, 0.9))
        img += np.float32(rng.uniform(10, 60))
    elif kind == "shake":
        length = float(rng.uniform(4, 20)) * max(min(1.0, (t1 - t0) * 25), 0.3)
        angle = rng.uniform(0, np.pi)
        k = int(2 * np.ceil(length) + 1)
        kernel = np.zeros((k, k), np.float32)
        c = k // 2
        d = (np.cos(angle) * length / 2, np.sin(angle) * length / 2)
        cv2.line(kernel, (round(c - d[0]), round(c - d[1])), (round(c + d[0]), round(c + d[1])), 1.0, 1)
        kernel /= max(float(kernel.sum()), 1e-6)
        img = np.asarray(cv2.filter2D(img, -1, kernel), np.float32)
    return img


def _stable_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


#: Share of 8-bit compressed clips that go through the temporal codec model (the rest are like RMS's raw frames).
VIDEO_CODEC_SHARE = 0.75
BLOCK = 16


def _video_codec(frames: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Low-bitrate video coding in time, as in the H.264 / MPEG-4 streams of station cameras (``frames`` and the
    result: uint8 ``[T,H,W]``). An I-frame every ``gop`` frames is taken whole. In between, a 16x16 block is sent
    again only when it differs from the decoded previous frame by more than ``tau`` DN on average (1.2-2.5 times
    the clip's typical frame-to-frame difference); otherwise the decoder repeats it (a skip block). So static sky
    and scenery freeze between I-frames and jump at each one
    (which lights the edges of a bright housing in ``max - mean`` stacks), while moving things refresh their
    blocks and faint ones can be lost, as in real streams."""
    import cv2

    gop = int(rng.choice([10, 12, 15, 25, 50]))
    phase = int(rng.integers(0, gop))
    t, h, w = frames.shape
    hb, wb = -(-h // BLOCK), -(-w // BLOCK)

    def sad(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Mean absolute difference per 16x16 block, rounded, ``uint8 [hb, wb]`` (edge blocks padded with zeros)."""
        diff = cv2.absdiff(a, b)
        diff = cv2.copyMakeBorder(diff, 0, hb * BLOCK - h, 0, wb * BLOCK - w, cv2.BORDER_CONSTANT, value=(0,))
        return np.asarray(cv2.resize(diff, (wb, hb), interpolation=cv2.INTER_AREA), np.uint8)

    # Rate control spends the bits on what changes: the threshold sits above this clip's frame-to-frame noise,
    # so noisy sky is skipped as readily as clean sky.
    tau = float(np.median(sad(frames[min(1, t - 1)], frames[0]))) * float(rng.uniform(1.2, 2.5)) + 0.5
    out = np.empty_like(frames)
    ref = frames[0].copy()
    for i in range(t):
        frame = frames[i]
        if i and (i + phase) % gop:
            send = (sad(frame, ref) > tau).astype(np.uint8)
            mask = cv2.resize(send, (wb * BLOCK, hb * BLOCK), interpolation=cv2.INTER_NEAREST)[:h, :w]
            cv2.copyTo(frame, mask, ref)
        else:
            ref = frame.copy()
        out[i] = ref
    return out


def render_clip(
    seed: int, n_frames: int = 25, kind: str | None = None, config: SimConfig | None = None, *, lead: int = 0
) -> SimClip:
    """``n_frames`` video frames of one scene at ``config.fps``; ``kind`` None draws one at random. The meteor or flash
    is placed in the frames after the first ``lead`` (the sky a stream showed before it); a meteor that lasts longer
    than those frames is caught in mid-flight, so it may already show in the lead."""
    cfg = config or SimConfig()
    if n_frames < 1 or not 0 <= lead < n_frames:
        raise InputError(f"synth: expected n_frames >= 1 and 0 <= lead < n_frames, got {n_frames} and {lead}")
    rng = _stable_rng(seed, 0)
    kind = kind or str(rng.choice(KINDS))
    if kind not in KINDS:
        raise InputError(f"synth: expected kind one of {', '.join(KINDS)}, got {kind!r}")
    scene = _Scene(rng, cfg, kind)
    events = _events(rng, cfg, kind, lead / cfg.fps, n_frames / cfg.fps, scene)
    dtype = np.uint8 if cfg.bits == 8 else np.uint16
    frames = np.empty((n_frames, *cfg.size), dtype)
    segments: list[Segment | None] = []
    post_seed = int(rng.integers(0, 2**31))
    for i in range(n_frames):
        t0 = i / cfg.fps
        t1 = t0 + cfg.exposure
        frame_rng = _stable_rng(seed, 1, i)
        img = scene.background(t0, frame_rng)
        seg: Segment | None = None
        for ev in events:
            s = ev.draw(img, scene, t0, t1)
            seg = s if s is not None else seg
        img = _post(img, scene, kind, _stable_rng(post_seed, i), t0, t1)
        frames[i] = scene.finish(img, t0, frame_rng)
        segments.append(seg)
    codec_rng = _stable_rng(seed, 3)  # its own stream: the scene and events draw exactly what they did before
    if cfg.compress and cfg.bits == 8 and n_frames > 1 and codec_rng.random() < VIDEO_CODEC_SHARE:
        frames = _video_codec(frames, codec_rng)
    meteor = kind in METEOR_KINDS
    truth = Truth(int(meteor), kind, None if meteor or kind == "clean" else kind, tuple(segments))
    return SimClip(frames, truth, cfg.fps)


def render_frame(seed: int, kind: str | None = None, config: SimConfig | None = None) -> SimFrame:
    """One still of ``config.still_exposure`` seconds (a whole meteor fits); ``kind`` None draws one at random."""
    cfg = config or SimConfig()
    still = dataclasses.replace(cfg, fps=1 / cfg.still_exposure, exposure=cfg.still_exposure)
    clip = render_clip(seed, 1, kind, still)
    return SimFrame(clip.frames[0], clip.truth, cfg.still_exposure)


def render_stack(
    seed: int, n_frames: int = 25, kind: str | None = None, config: SimConfig | None = None, *, flicker: float = 0.0
) -> SimFrame:
    """A clip of ``n_frames`` stacked to its ``max - mean`` image by the stacking kernel (what
    ``Detector(mode="stack")`` classifies); its truth keeps the meteor's segment in each frame.

    With ``flicker`` > 0 the scene runs ``n_frames`` longer, with the meteor or flash placed in the last
    ``n_frames``, and that window is flicker-suppressed against the first window's noise, as the detector does from
    a stream's second window on (:mod:`meteorfast.stream.flicker`)."""
    from meteorfast.cam import stack
    from meteorfast.stream.flicker import suppress_flicker

    if flicker <= 0:
        clip = render_clip(seed, n_frames, kind, config)
        return SimFrame(stack(clip.frames).candidate, clip.truth)
    clip = render_clip(seed, 2 * n_frames, kind, config, lead=n_frames)
    before, now = stack(clip.frames[:n_frames]), stack(clip.frames[n_frames:])
    truth = dataclasses.replace(clip.truth, segments=clip.truth.segments[n_frames:])
    return SimFrame(suppress_flicker(now.candidate, before.std, flicker), truth)


def kind_shares(
    kinds: tuple[str, ...], weights: Mapping[str, float] | None, base: tuple[float, ...] | None = None
) -> npt.NDArray[np.float64]:
    """The probability of each of ``kinds``: ``base`` (equal shares if None) times ``weights`` (kind -> factor >= 0,
    1 for kinds it leaves out), normalised: ``float64 [len(kinds)]``."""
    weights = weights or {}
    unknown = set(weights) - set(KINDS)
    if unknown or any(not (np.isfinite(v) and v >= 0) for v in weights.values()):
        raise InputError(
            f"synth: expected kind weights >= 0 for kinds among {', '.join(KINDS)}, got {dict(weights)}; "
            "use those kind names with finite factors"
        )
    share = np.asarray(base if base is not None else np.ones(len(kinds)), np.float64)
    share = share * np.array([weights.get(k, 1.0) for k in kinds], np.float64)
    if share.sum() <= 0:
        raise InputError(f"synth: the kind weights {dict(weights)} leave none of {', '.join(kinds)} to draw")
    out: npt.NDArray[np.float64] = share / share.sum()
    return out


def sample(
    n: int,
    seed: int,
    *,
    meteor_fraction: float = 0.5,
    config: SimConfig | None = None,
    kinds: tuple[str, ...] | None = None,
    video_fraction: float = 0.0,
    weights: Mapping[str, float] | None = None,
) -> Iterator[SimFrame]:
    """``n`` single frames: a ``meteor_fraction`` of meteors (kinds weighted 70/10/20 % meteor/fireball/faint), the
    rest spread evenly over clean skies and the confounders; ``weights`` (kind -> factor, 1 for kinds it leaves out)
    scales each kind's share within the meteors or within the negatives, to show a classifier more of what it finds
    hard (``kinds``, when given, draws evenly from those kinds instead). A ``video_fraction`` of them are video
    frames (one ``config.exposure``, the meteor caught in mid-flight, as a video station's candidate frame), the
    others stills of ``config.still_exposure`` that hold the whole meteor. Item ``i`` depends only on
    ``(seed, i)``."""
    if not (0 <= meteor_fraction <= 1 and 0 <= video_fraction <= 1):
        raise InputError(
            f"synth: expected meteor_fraction and video_fraction in [0, 1], got {meteor_fraction}, {video_fraction}"
        )
    cfg = config or SimConfig()
    video = dataclasses.replace(cfg, still_exposure=cfg.exposure)
    rng = _stable_rng(seed, 2)
    # Without weights, the very shares drawn before weights existed, so that seeds keep their items.
    p_meteor = kind_shares(METEOR_KINDS, weights, METEOR_SHARES) if weights else list(METEOR_SHARES)
    p_negative = kind_shares(NEGATIVE_KINDS, weights) if weights else None
    for i in range(n):
        if kinds is not None:
            kind = str(kinds[int(rng.integers(0, len(kinds)))])
        elif rng.random() < meteor_fraction:
            kind = str(rng.choice(METEOR_KINDS, p=p_meteor))
        else:
            kind = str(rng.choice(NEGATIVE_KINDS, p=p_negative))
        item = _stable_rng(seed, 3, i)
        seed_i = int(item.integers(0, 2**31))
        yield render_frame(seed_i, kind, video if item.random() < video_fraction else cfg)
