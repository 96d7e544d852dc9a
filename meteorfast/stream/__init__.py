"""Frames in: sources (decoding on their own threads) feeding the rest of the pipeline."""

from __future__ import annotations

from meteorfast.stream.sources import Frame, PyAVSource, VideoFileSource, prefetch

__all__ = ["Frame", "PyAVSource", "VideoFileSource", "prefetch"]
