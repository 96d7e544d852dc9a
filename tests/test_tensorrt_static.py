"""The TensorRT path, checked without TensorRT or a GPU.

1. Every TensorRT name the backend uses (in every module of the package that imports TensorRT: the runtime and the
   engine building) exists in the bindings of the version its code path targets: TensorRT 10.16 for shared code
   and ``*_v10`` functions, 11.4 for shared code and ``*_v11`` functions (name lists made by
   tools/tensorrt_api_names.py from NVIDIA's wheels).
2. mypy --strict passes on those modules against ``tensorrt-stubs`` (10.13), patched here so mypy can parse them, and
   a deliberate misuse is caught (so the stubs are really in effect, not Any).
3. The engine manifest rules, and the refusals when TensorRT is missing.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import meteorfast.backends.tensorrt as trt_backend
from meteorfast.backends import available_backends
from meteorfast.backends.engine_manifest import (
    BuildTarget,
    EngineManifest,
    check_manifest,
    engine_name,
    mismatches,
    read_manifest,
    sha256_file,
    write_manifest,
)
from meteorfast.errors import BackendUnavailableError, EngineMismatchError, InputError
from meteorfast.versions import tensorrt_api

DATA = Path(__file__).resolve().parent / "data" / "tensorrt_api"
PACKAGE = Path(trt_backend.__file__).resolve().parent.parent
# Every module of the package that imports TensorRT: the runtime (backends/tensorrt.py) and the engine building
# (backends/tensorrt_build.py), and any module that comes to use it.
SOURCES = sorted(
    p for p in PACKAGE.rglob("*.py") if re.search(r"^\s*(import tensorrt|from tensorrt\b)", p.read_text(), re.M)
)
# Names of variables that hold TensorRT objects in the backend; attributes read on them are TensorRT API.
TRT_OBJECTS = {"trt", "builder", "network", "config", "parser", "profile", "engine", "runtime", "context", "cache",
               "tensor", "logger"}  # fmt: skip


def api(version: str) -> set[str]:
    """The version's identifiers and their suffixes: the linker merges a string into the tail of a longer one
    (``"INPUT"`` is stored only inside ``"CONDITIONAL_INPUT"``), so a name may survive only as a suffix."""
    names = set((DATA / f"{version}.txt").read_text().split())
    return {n[i:] for n in names for i in range(len(n))}


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    return None


def test_the_scan_covers_the_runtime_and_the_engine_building() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in SOURCES}
    assert {"backends/tensorrt.py", "backends/tensorrt_build.py"} <= names, names


def used_names() -> dict[str, set[str]]:
    """TensorRT attribute names per function, over :data:`SOURCES` (``self._engine`` counts as ``engine``)."""
    out: dict[str, set[str]] = {}
    for fn in (node for source in SOURCES for node in ast.walk(ast.parse(source.read_text()))):
        if not isinstance(fn, (ast.FunctionDef, ast.ClassDef)):
            continue
        names: set[str] = set()
        for node in ast.walk(fn):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            # `engine.x`, `self._engine.x`, `slot.context.x`: the object is named by the last step before `.x`.
            holder = base.attr.lstrip("_") if isinstance(base, ast.Attribute) else _root(base)
            if holder in TRT_OBJECTS or _root(base) == "trt":
                names.add(node.attr)
        out.setdefault(fn.name, set()).update(names)
    return out


def test_every_tensorrt_name_exists_in_its_target_version() -> None:
    v10, v11 = api("10.16.1.11"), api("11.4.0.106")
    per_fn = used_names()
    all_names = set().union(*per_fn.values())
    # The check is not vacuous: the core of the API is among the names found.
    assert {"build_serialized_network", "execute_async_v3", "set_tensor_address", "deserialize_cuda_engine",
            "set_shape", "create_timing_cache", "BuilderFlag", "STRONGLY_TYPED"} <= all_names  # fmt: skip
    missing: list[str] = []
    for fn, names in per_fn.items():
        targets = [("10.16", v10)] if fn.endswith("_v10") else [("11.4", v11)] if fn.endswith("_v11") else []
        if fn in ("EntropyCalibrator",):
            targets = [("10.16", v10)]
        if not targets:
            targets = [("10.16", v10), ("11.4", v11)]
        for label, names_in in targets:
            missing += [f"{fn}: {n} (TensorRT {label})" for n in sorted(names - names_in)]
    assert not missing, missing


def test_tensorrt_11_removed_what_the_v10_path_needs() -> None:
    """Guards the split itself: these are gone in 11, so they must stay inside ``*_v10`` code."""
    v11 = api("11.4.0.106")
    for name in ("IInt8EntropyCalibrator2", "int8_calibrator", "set_calibration_profile"):
        assert name not in v11
    per_fn = used_names()
    for fn, names in per_fn.items():
        if not fn.endswith("_v10") and fn != "EntropyCalibrator":
            assert not names & {"IInt8EntropyCalibrator2", "int8_calibrator", "set_calibration_profile"}, fn


# ---- mypy against the stubs ----


def _fix_defaults(line: str) -> str:
    """A parameter without a default after one with a default is a syntax error; give it ``= ...``."""
    m = re.match(r"^(\s*def \w+\()(.*)(\)\s*->.*)$", line)
    if not m:
        return line
    params: list[str] = []
    depth, cur = 0, ""
    for ch in m.group(2):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        params.append(cur)
    seen, out = False, []
    for p in params:
        q = p.strip()
        if q.startswith("*"):
            out.append(p)
            continue
        if "=" in q:
            seen = True
        elif seen:
            p += " = ..."
        out.append(p)
    return m.group(1) + ",".join(out) + m.group(3)


@pytest.fixture(scope="module")
def patched_stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        dist = importlib.metadata.distribution("tensorrt-stubs")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(
            "tensorrt-stubs not installed (pip install --no-deps tensorrt-stubs, as the README's test line does)"
        )
    out = tmp_path_factory.mktemp("stubs")
    for f in dist.files or []:
        if f.suffix == ".pyi" and f.parts[0] in ("tensorrt", "tensorrt_bindings"):
            target = out / Path(*f.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = Path(str(dist.locate_file(f))).read_text()
            text = re.sub(r"(?<=[(,\s])in(?=\s*:)", "in_", text)  # `in` is a keyword
            text = re.sub(r"^.*tensorrt_libs.*$", "", text, flags=re.M)  # a runtime-only package
            if target.name == "__init__.pyi" and f.parts[0] == "tensorrt":
                text = re.sub(r"^from (\S+) import (\w+)$", r"from \1 import \2 as \2", text, flags=re.M)
            target.write_text("\n".join(_fix_defaults(line) for line in text.split("\n")))
    if not (out / "tensorrt" / "__init__.pyi").is_file():
        pytest.skip("tensorrt-stubs is installed but holds no tensorrt/__init__.pyi")
    return out


def run_mypy(stubs: Path, *targets: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("mypy") is None:
        pytest.skip("mypy not installed (part of the [test] extra)")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--ignore-missing-imports",
         "--no-incremental", "--python-version", "3.11", *map(str, targets)],
        env={"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def errors_in(out: subprocess.CompletedProcess[str], target: Path) -> list[str]:
    """mypy's errors in ``target`` only: the stubs themselves, found through MYPYPATH, have their own."""
    return [line for line in out.stdout.splitlines() if line.startswith(str(target)) and ": error:" in line]


def test_backend_type_checks_against_tensorrt_stubs(patched_stubs: Path, tmp_path: Path) -> None:
    out = run_mypy(patched_stubs, *SOURCES)
    assert "Found" in out.stdout or "Success" in out.stdout, out.stdout + out.stderr  # mypy ran to the end
    assert [e for source in SOURCES for e in errors_in(out, source)] == []
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import tensorrt as trt\n\nbuilder = trt.Builder(trt.Logger(trt.Logger.WARNING))\nbuilder.no_such_method()\n"
    )
    caught = errors_in(run_mypy(patched_stubs, probe), probe)
    assert len(caught) == 1
    assert "no_such_method" in caught[0]


# ---- versions, manifests, refusals ----


def test_version_module_splits_the_api_generations() -> None:
    assert tensorrt_api("10.16.1.11").precision_flags
    assert not tensorrt_api("10.16.1.11").strongly_typed
    assert tensorrt_api("11.4.0.106").strongly_typed
    assert not tensorrt_api("11.4.0.106").precision_flags
    with pytest.raises(BackendUnavailableError, match=r"expected version 10.0 or newer .* got 8.6.1"):
        tensorrt_api("8.6.1")
    with pytest.raises(BackendUnavailableError, match="expected a version like"):
        tensorrt_api("ten")


def manifest(onnx: Path) -> EngineManifest:
    return EngineManifest(
        onnx_path=str(onnx), onnx_sha256=sha256_file(onnx), precision="fp16", profile=(1, 8, 32),
        tensorrt_version="10.16.1.11", gpu_name="NVIDIA GeForce RTX 3060", compute_capability=(8, 6),
    )  # fmt: skip


def test_engine_names_and_manifest_round_trip(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"graph")
    name = engine_name("model", "NVIDIA GeForce RTX 3060", (8, 6), "10.16.1.11", "fp16", 32)
    assert name == "model-nvidia_geforce_rtx_3060-sm86-trt10.16-fp16-b32.engine"
    engine = tmp_path / name
    m = manifest(onnx)
    write_manifest(engine, m)
    assert read_manifest(engine) == m


def test_mismatched_engines_are_refused_with_the_rebuild_command(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"graph")
    engine = tmp_path / "model.engine"
    m = manifest(onnx)
    same = BuildTarget("10.16.1.11", "NVIDIA GeForce RTX 3060", (8, 6))
    check_manifest(engine, m, same)
    assert mismatches(m, same) == []
    other = BuildTarget("11.4.0.106", "NVIDIA A100-SXM4-40GB", (8, 0))
    with pytest.raises(EngineMismatchError, match=r"TensorRT 10.16.1.11 \(built\) vs 11.4.0.106 \(installed\)") as err:
        check_manifest(engine, m, other)
    assert f"meteorfast build-engine {onnx} --precision fp16 --batch 1,8,32 --out {tmp_path}" in str(err.value)
    assert "compute capability 8.6 (built) vs 8.0" in str(err.value)
    onnx.write_bytes(b"a retrained graph")
    with pytest.raises(EngineMismatchError, match="ONNX sha256"):
        check_manifest(engine, m, same)
    with pytest.raises(EngineMismatchError, match="expected its manifest"):
        read_manifest(tmp_path / "orphan.engine")


def test_build_and_run_refuse_cleanly_without_tensorrt(tmp_path: Path) -> None:
    if available_backends()["tensorrt"].available:
        pytest.skip("TensorRT is usable here")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"graph")
    with pytest.raises(BackendUnavailableError, match=r"TensorRT not installed.*pip install 'meteorfast\[tensorrt\]'"):
        trt_backend.build_engine(onnx, precision="fp16", out_dir=tmp_path)
    with pytest.raises(InputError, match="expected --precision one of fp32, fp16, int8"):
        trt_backend.build_engine(onnx, precision="bf16", out_dir=tmp_path)
    with pytest.raises(InputError, match="1 <= MIN <= OPT <= MAX"):
        trt_backend.build_engine(onnx, batch=(8, 4, 32), out_dir=tmp_path)
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not an engine")
    with pytest.raises(BackendUnavailableError, match="TensorRT not installed"):
        trt_backend.TensorRTBackend(engine).open()


def test_cli_build_engine_without_tensorrt_is_one_line(tmp_path: Path) -> None:
    if available_backends()["tensorrt"].available:
        pytest.skip("TensorRT is usable here")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"graph")
    out = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "build-engine", str(onnx), "--precision", "fp16", "--batch", "1,8,32",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TensorRT not installed" in lines[0]
    assert "pip install" in lines[0]
