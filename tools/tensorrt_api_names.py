"""Regenerate tests/data/tensorrt_api/<version>.txt: the identifiers named in a TensorRT Python bindings module.

    pip download --no-deps -d /tmp/trt tensorrt-cu12-bindings==10.16.1.11 tensorrt-cu13-bindings==11.4.0.106
    python tools/tensorrt_api_names.py /tmp/trt/*.whl

pybind11 keeps every class, method, property and enum member name as a string in the module's .so, so the set of
identifiers in its string table is a superset of the Python API. tests/test_tensorrt_static.py checks that each
TensorRT name meteorfast uses is in the set of the version that code path targets, in every module of the package
that imports TensorRT (meteorfast/backends/tensorrt.py, the runtime, and tensorrt_build.py, the engine building).
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tensorrt_api"
IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{1,47}")


def names(wheel: Path) -> tuple[str, set[str]]:
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as zf:
        so = next(n for n in zf.namelist() if n.endswith(".so") and "tensorrt" in n)
        data = zf.read(so)
    found = set()
    for run in re.findall(rb"[\x20-\x7e]{3,}", data):
        found.update(m.decode() for m in IDENT.findall(run) if not m.startswith(b"_Z"))
    return version, found


def main(paths: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for p in paths:
        version, found = names(Path(p))
        (OUT / f"{version}.txt").write_text("\n".join(sorted(found)) + "\n")
        print(f"{version}: {len(found)} names")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
