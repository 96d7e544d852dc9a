"""TensorRT engine manifests: the JSON beside every engine saying what it was built from and for.

Pure Python (no TensorRT needed), so the matching rules are testable anywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from meteorfast.errors import EngineMismatchError, InputError
from meteorfast.io import atomic_write_bytes
from meteorfast.versions import short_version

PRECISIONS = ("fp32", "fp16", "int8")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class BuildTarget:
    """What the current machine would build: the facts an engine must match to be reused."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]


@dataclass(frozen=True)
class EngineManifest:
    onnx_path: str
    onnx_sha256: str
    precision: str
    profile: tuple[int, int, int]  # batch min, opt, max
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    model_metadata: dict[str, str] = field(default_factory=dict)
    workspace_mb: int = 0
    meteorfast_version: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "manifest") -> EngineManifest:
        try:
            raw = json.loads(text)
            raw["profile"] = tuple(raw["profile"])
            raw["compute_capability"] = tuple(raw["compute_capability"])
            return cls(**raw)
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(
                f"{source}: expected an engine manifest (JSON written by meteorfast), could not read it: {err}"
            ) from err

    def rebuild_command(self, out_dir: str | Path | None = None) -> str:
        mn, opt, mx = self.profile
        out = f" --out {shlex.quote(str(out_dir))}" if out_dir is not None else ""
        return (
            f"meteorfast build-engine {shlex.quote(self.onnx_path)} --precision {self.precision} "
            f"--batch {mn},{opt},{mx}{out}"
        )


def engine_name(
    model_stem: str, gpu_name: str, cc: tuple[int, int], trt_version: str, precision: str, max_batch: int
) -> str:
    """``<model>-<gpu>-sm<cc>-trt<ver>-<prec>-b<max>.engine``, with the GPU name made file-safe."""
    gpu = re.sub(r"[^a-z0-9]+", "_", gpu_name.lower()).strip("_") or "gpu"
    return f"{model_stem}-{gpu}-sm{cc[0]}{cc[1]}-trt{short_version(trt_version)}-{precision}-b{max_batch}.engine"


def manifest_path(engine: str | Path) -> Path:
    return Path(engine).with_suffix(".json")


def write_manifest(engine: str | Path, manifest: EngineManifest) -> Path:
    return atomic_write_bytes(manifest_path(engine), (manifest.to_json() + "\n").encode())


def read_manifest(engine: str | Path) -> EngineManifest:
    path = manifest_path(engine)
    if not path.is_file():
        raise EngineMismatchError(
            f"engine {str(engine)!r}: expected its manifest {str(path)!r} beside it, found none; rebuild the engine "
            "with `meteorfast build-engine MODEL.onnx`, which writes both"
        )
    return EngineManifest.from_json(path.read_text(), str(path))


def mismatches(manifest: EngineManifest, target: BuildTarget, onnx_sha256: str | None = None) -> list[str]:
    """What differs between an engine's manifest and this machine (and, if given, the current ONNX)."""
    out: list[str] = []
    if manifest.tensorrt_version != target.tensorrt_version:
        out.append(f"TensorRT {manifest.tensorrt_version} (built) vs {target.tensorrt_version} (installed)")
    if tuple(manifest.compute_capability) != tuple(target.compute_capability):
        cc_b, cc_h = manifest.compute_capability, target.compute_capability
        out.append(f"compute capability {cc_b[0]}.{cc_b[1]} (built) vs {cc_h[0]}.{cc_h[1]} (this GPU)")
    if manifest.gpu_name != target.gpu_name:
        out.append(f"GPU {manifest.gpu_name!r} (built) vs {target.gpu_name!r} (this GPU)")
    if onnx_sha256 is not None and manifest.onnx_sha256 != onnx_sha256:
        out.append(f"ONNX sha256 {manifest.onnx_sha256[:12]}... (built) vs {onnx_sha256[:12]}... (now)")
    return out


def check_manifest(engine: str | Path, manifest: EngineManifest, target: BuildTarget) -> None:
    """Raise :class:`EngineMismatchError`, with the exact rebuild command, unless ``manifest`` fits this machine and
    the ONNX it was built from (when that file still exists)."""
    onnx = Path(manifest.onnx_path)
    current = sha256_file(onnx) if onnx.is_file() else None
    diff = mismatches(manifest, target, current)
    if diff:
        raise EngineMismatchError(
            f"engine {str(engine)!r}: expected an engine built for this machine and model, got one built for "
            f"another ({'; '.join(diff)}); rebuild it with: {manifest.rebuild_command(Path(engine).parent)}"
        )
