"""What the stills' stages read in a frame's own pixels, at native resolution: the streak through a point
(:mod:`~meteorfast.analysis.streak`), the light along it fitted as a satellite's dash or a meteor
(:mod:`~meteorfast.analysis.dash`), and the shapes of the frame's stars (:mod:`~meteorfast.analysis.stars`); every
one reads a frame through :mod:`~meteorfast.analysis.image`'s one grey conversion and 16-to-8-bit rule."""

from __future__ import annotations

from meteorfast.analysis.image import grey, grey_uint8, to_uint8

__all__ = ["grey", "grey_uint8", "to_uint8"]
