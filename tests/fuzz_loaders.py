"""Byte-mutation fuzzing of the loaders, run by tests/test_fuzz.py in a child process.

    python tests/fuzz_loaders.py WORKDIR EXAMPLES

Writes valid seed files into WORKDIR, then lets hypothesis mutate them and opens each mutant with
``meteorfast.stream.sources.open_source``, reading up to 30 frames; video mutants also through the PyAV decoder
when PyAV is installed. Exits 0 if every mutant decoded or was refused
with a MeteorfastError; any other exception fails the run, and a crash kills it. Before each mutant is decoded its
description is written to WORKDIR/current, so the parent can say which one crashed.
"""

from __future__ import annotations

import sys
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meteorfast.errors import MeteorfastError
from meteorfast.stream.sources import open_source


def seeds(work: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    img = rng.normal(40, 10, (48, 64)).clip(0, 255).astype(np.uint8)
    out: dict[str, bytes] = {}
    for suffix, image in ((".png", img), (".tif", img.astype(np.uint16) * 257), (".jpg", img)):
        ok, data = cv2.imencode(suffix, image)
        if not ok:
            raise SystemExit(f"cannot encode {suffix}")
        out[suffix] = data.tobytes()
    for suffix, fourcc in ((".avi", "MJPG"), (".mp4", "mp4v")):
        path = work / f"seed{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 25.0, (64, 48), True)
        for i in range(6):
            writer.write(cv2.cvtColor(np.roll(img, 3 * i, axis=1), cv2.COLOR_GRAY2BGR))
        writer.release()
        out[suffix] = path.read_bytes()
    return out


@st.composite
def mutant(draw: st.DrawFn, seed_files: dict[str, bytes]) -> tuple[str, bytes, str]:
    suffix = draw(st.sampled_from(sorted(seed_files)))
    data = bytearray(seed_files[suffix])
    notes = []
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "splice", "repeat", "zero"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            data = data[:at]
        elif op == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "repeat":
            n = draw(st.integers(1, 512))
            data[at:at] = data[at : at + n]
        elif op == "zero":
            n = draw(st.integers(1, 256))
            data[at : at + n] = bytes(len(data[at : at + n]))
        notes.append(f"{op}@{at}")
    return suffix, bytes(data), " ".join(notes)


def main() -> int:
    work = Path(sys.argv[1])
    examples = int(sys.argv[2])
    seed_files = seeds(work)
    counts = {"examples": 0, "decoded": 0, "refused": 0, "pyav_decoded": 0, "pyav_refused": 0}
    try:
        import av  # noqa: F401

        decoders = ["opencv", "pyav"]
    except ImportError:
        decoders = ["opencv"]

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(mutant(seed_files))
    def fuzz(case: tuple[str, bytes, str]) -> None:
        suffix, data, notes = case
        path = work / f"mutant{suffix}"
        path.write_bytes(data)
        (work / "current").write_text(f"{suffix} seed with {notes} ({len(data)} bytes), saved as {path}")
        counts["examples"] += 1
        for decoder in decoders if suffix in (".avi", ".mp4") else ["opencv"]:
            prefix = "" if decoder == "opencv" else f"{decoder}_"
            try:
                frames = list(islice(iter(open_source(path, decoder=decoder)), 30))
            except MeteorfastError:
                counts[prefix + "refused"] += 1
                continue
            for f in frames:
                if f.image.dtype not in (np.uint8, np.uint16) or f.image.ndim != 2 or f.image.size == 0:
                    raise AssertionError(f"{decoder}: bad frame {f.index}: {f.image.dtype} {f.image.shape}")
            counts[prefix + "decoded"] += 1

    fuzz()
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
