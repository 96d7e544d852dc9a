"""Night-sky simulator for meteor cameras, deterministic by seed.

It renders single frames and short clips at any resolution (default 1280x720, 25 fps), 8- or 16-bit, in two
geometries (``wide`` field and ``allsky`` fisheye), with ground truth per item: the label, the confounder type, and
for meteors the streak's segment in each frame, in frame coordinates (pixel ``(r, c)`` spans ``[c, c+1) x [r, r+1)``;
its centre is ``(c + 0.5, r + 0.5)``, as for every point meteorfast locates).

* Sky: background, gradient, light-pollution glow, twilight, vignetting. Stars: magnitude distribution, Gaussian
  PSF, scintillation; in 20 % of scenes exposed for a second or more (``SimConfig.trailed_stars``) every star
  trails along one path 2-40 px long, straight to hooked, as a DSLR's long exposure shows the sky's drift or a
  camera moved by wind (video frames' stars stay points).
  Sensor: shot and read noise, hot pixels, H.264-like block artefacts (a JPEG round trip per
  frame) and, in 75 % of 8-bit clips, video coding in time: I-frames every 10-50 frames with skip blocks between
  them, so static scenery freezes and then jumps, as in station cameras' streams.
* Scenery: the Moon and its halo, horizon, buildings and trees as silhouettes, a station label and a timestamp.
* Meteors: straight or slightly curved streaks with a Gaussian cross-section, a light curve with flares,
  fragmentation and wake, motion within the exposure; fireballs that brighten the sky; faint ones near the noise.
  A meteor shows at least half of its path in view: a placement that the scenery hides more is drawn again, and
  its truth segment spans only what the camera sees.
* Labelled confounders (negatives): aircraft (strobes and navigation lights), satellites (slow, uniform, some
  flaring), birds and insects (blurred near-field blobs), lightning and flashes, moving clouds, dew or fog, and
  camera shake.

Static layers are rendered once per scene (and at reduced resolution where they are smooth) and reused by every
frame of a clip; moving objects are drawn in their bounding boxes only.

Modules: ``config`` (the kinds, :class:`SimConfig` and the items returned), ``draw`` (drawing helpers), ``scene``
(the static layers and the sensor), ``events`` (meteors and the moving or flashing confounders) and ``render`` (this
API).
"""

from __future__ import annotations

from meteorfast.synth.config import (
    CONFOUNDERS,
    KINDS,
    METEOR_KINDS,
    NEGATIVE_KINDS,
    SimClip,
    SimConfig,
    SimFrame,
    Truth,
)
from meteorfast.synth.render import (
    kind_shares,
    render_clip,
    render_frame,
    render_stack,
    sample,
)

__all__ = [
    "CONFOUNDERS",
    "KINDS",
    "METEOR_KINDS",
    "NEGATIVE_KINDS",
    "SimClip",
    "SimConfig",
    "SimFrame",
    "Truth",
    "kind_shares",
    "render_clip",
    "render_frame",
    "render_stack",
    "sample",
]
