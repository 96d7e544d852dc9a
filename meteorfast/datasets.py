"""Real meteor data for calibration and evaluation: the GMN clip bundled with the package, and the MeteorFinder DSLR
frames in ``../shared/realdata`` when a checkout has them (their ground-truth boxes are burned into the pixels, so
they are inpainted before any model sees them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from meteorfast.data import SAMPLE_VIDEO

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class BoxedFrame:
    """A DSLR frame with its burned-in boxes removed. ``boxes``: each ``(x0, y0, x1, y1)``, the meteors' ground
    truth (most frames have one; one frame marks two)."""

    path: Path
    image: npt.NDArray[np.uint8]
    boxes: list[Box]

    def holds(self, x: float, y: float, margin: float = 8.0) -> bool:
        """Whether the point ``(x, y)`` (frame pixels) lies in one of the boxes, widened by ``margin`` px on each
        side (the margin the MeteorFinder target is counted with)."""
        return any(x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin for x0, y0, x1, y1 in self.boxes)


def remove_boxes(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], list[Box]]:
    """Find the white rectangle outlines burned into ``image`` (grey uint8 ``[H,W]``) and inpaint them.

    Outlines are told from stars and meteors by shape: saturated pixels in straight runs of 25 px or more. A box
    whose short sides are shorter than that shows only its two long sides; nearby runs are grouped into one box.
    The whole outline is then removed, short sides included: the rectangle's ring, as thick as its long sides.
    Returns the inpainted image and the boxes; raises ``ValueError`` when there is none.
    """
    import cv2

    white = (image >= 250).astype(np.uint8)
    lines = np.bitwise_or(
        np.asarray(cv2.morphologyEx(white, cv2.MORPH_OPEN, np.ones((1, 25), np.uint8)), np.uint8),
        np.asarray(cv2.morphologyEx(white, cv2.MORPH_OPEN, np.ones((25, 1), np.uint8)), np.uint8),
    )
    if not lines.any():
        raise ValueError("no burned-in box found")
    # Group the runs of one box (its sides are at most a box's width apart) without merging distinct boxes.
    grouped = np.asarray(cv2.dilate(lines, np.ones((41, 41), np.uint8)), np.uint8)
    count, labels = cv2.connectedComponents(grouped)
    boxes: list[Box] = []
    ring = lines.copy()
    for label in range(1, count):
        ys, xs = np.nonzero((labels == label) & (lines > 0))
        if not xs.size:
            continue
        box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        boxes.append(box)
        x0, y0, x1, y1 = box
        t = _side_thickness(white, box)
        ring[y0 : y1 + 1, x0 : x1 + 1] = 1
        ring[y0 + t : y1 - t + 1, x0 + t : x1 - t + 1] = 0
    # 5x5: the outline's antialiased and JPEG-ringing fringe goes too.
    mask = np.asarray(cv2.dilate(ring, np.ones((5, 5), np.uint8)), np.uint8) > 0
    # Filled with the sky behind it and the sky's noise. Diffusion inpainting (Telea) alone would draw a meteor
    # that crosses the outline into a bright blob at each side; a 21 px median of the inpainted frame holds no
    # blob, star or meteor, so the meteor is cut where it crossed the outline instead. (The median of the raw
    # frame would keep the outline where a box touches the frame's edge, whose replicated border is white.)
    filled = np.asarray(cv2.inpaint(image, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA), np.uint8)
    background = np.asarray(cv2.medianBlur(filled, 21), np.float32)
    residual = image[~mask].astype(np.float32) - background[~mask]
    sigma = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    noise = np.random.default_rng(0).normal(0.0, sigma, int(mask.sum()))
    clean = image.copy()
    clean[mask] = np.clip(np.rint(background[mask] + noise), 0, 255).astype(np.uint8)
    return clean, sorted(boxes)


def _side_thickness(white: npt.NDArray[np.uint8], box: Box) -> int:
    """Thickness of a box's long sides: the median count of white pixels across the middle half of the first one."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= y1 - y0:
        quarter = (x1 - x0) // 4
        across = white[y0 : min(y0 + 16, (y0 + y1) // 2 + 1), x0 + quarter : x1 - quarter + 1].sum(axis=0)
    else:
        quarter = (y1 - y0) // 4
        across = white[y0 + quarter : y1 - quarter + 1, x0 : min(x0 + 16, (x0 + x1) // 2 + 1)].sum(axis=1)
    return max(int(np.median(across)), 1)


def meteorfinder_frames(root: str | Path) -> list[BoxedFrame]:
    """The MeteorFinder DSLR frames under ``root`` (``.../meteorfinder/MeterosOutput``), boxes removed."""
    import cv2

    out: list[BoxedFrame] = []
    for path in sorted(Path(root).glob("*.JPG")):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        clean, boxes = remove_boxes(np.asarray(img, np.uint8))
        out.append(BoxedFrame(path, clean, boxes))
    return out


def shared_realdata() -> Path | None:
    """``../shared/realdata`` beside the current checkout or working directory, when it exists."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = base.parent / "shared" / "realdata"
        if candidate.is_dir():
            return candidate
    return None


def sample_clip_frames(step: int = 1) -> list[npt.NDArray[np.uint8]]:
    """Grey frames of the bundled GMN clip (every ``step``-th)."""
    from meteorfast.stream import VideoFileSource

    return [f.image for f in VideoFileSource(SAMPLE_VIDEO) if f.index % step == 0]


# The meteor in the bundled GMN clip, measured against the median of the 46 frames without it (0-24 and 180-200):
# pixels that peak more than 20 DN above it, within 6 px of the track; the brightness-weighted centroid of the pixels
# that peak in each frame; a total-least-squares line through those 110 centroids. It is visible from frame 39 to
# frame 148, moving down and to the left from SAMPLE_STREAK[:2] to SAMPLE_STREAK[2:] (frame coordinates); a fading
# train stays at the end point until about frame 160. A higher bar above the stack's mean would cut faint frames off
# the start and the end.
SAMPLE_EVENT_FRAMES = (39, 148)
SAMPLE_STREAK = (1139.7, 507.7, 1037.2, 654.8)
