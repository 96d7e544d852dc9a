"""Data shipped inside the package (each file with its licence beside it)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_VIDEO = SAMPLES / "CZ0003_20210307_021710_233167.mp4"
"""A real GMN station clip (1280x720, 25 fps, 201 frames) with one meteor, MIT licensed (``samples/LICENSE``)."""
SAMPLE_VIDEO_SHA256 = "91a9d56d31548d8a3e8289d9d0c935ee93a0bfd1cc6b3968215c4f316d688d9c"

MODELS = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS / "meteorfast-lite0.onnx"


def default_model() -> Path:
    """The model shipped with the package (see ``models/MODEL_CARD.md``)."""
    from meteorfast.errors import InputError

    if not DEFAULT_MODEL.is_file():
        raise InputError(
            f"model: expected the shipped model at {DEFAULT_MODEL}, which this install lacks; pass --model PATH "
            "(an .onnx from `meteorfast export` or `meteorfast train`)"
        )
    return DEFAULT_MODEL
