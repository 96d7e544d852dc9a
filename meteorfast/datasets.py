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


def remove_boxes(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], list[Box]]:
    """Find the white rectangle outlines burned into ``image`` (grey uint8 ``[H,W]``) and inpaint them.

    Outlines are told from stars and meteors by shape: saturated pixels in straight runs of 25 px or more. A box
    whose short sides are shorter than that shows only its two long sides; nearby runs are grouped into one box.
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
    mask = np.asarray(cv2.dilate(lines, np.ones((5, 5), np.uint8)), np.uint8)
    # Group the runs of one box (its sides are at most a box's width apart) without merging distinct boxes.
    grouped = np.asarray(cv2.dilate(lines, np.ones((41, 41), np.uint8)), np.uint8)
    count, labels = cv2.connectedComponents(grouped)
    boxes: list[Box] = []
    for label in range(1, count):
        ys, xs = np.nonzero((labels == label) & (lines > 0))
        if xs.size:
            boxes.append((int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))
    clean = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    return np.asarray(clean, np.uint8), sorted(boxes)


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


# The meteor in the bundled GMN clip, measured on its max - mean stack (pixels with candidate > 60 in the lower right
# quarter; their argmax frames and a total-least-squares line through them, RMS 1.4 px across): visible from frame
# 42 to frame 139, moving down and to the left from SAMPLE_STREAK[:2] to SAMPLE_STREAK[2:] (frame coordinates).
SAMPLE_EVENT_FRAMES = (42, 139)
SAMPLE_STREAK = (1128.8, 525.4, 1045.3, 645.1)
