"""Builds meteorfast's native extensions; everything else lives in pyproject.toml.

* ``meteorfast._native.cpu`` is always built: Cython 3 over csrc/cpu/*.cpp, with OpenMP.
* ``meteorfast._native.cuda`` is built when nvcc is found (``METEORFAST_CUDA=auto``, the default), always
  (``1``: fails with a clear message when nvcc is missing or the build breaks) or never (``0``). csrc/cuda/*.cu is
  compiled by nvcc for ``METEORFAST_CUDA_ARCHS`` (SASS for each, PTX for the highest) and linked against the
  static CUDA runtime, so the module imports on machines without a driver. A CPU-only build never links cudart.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
INCLUDE = ROOT / "csrc" / "include"
CXXFLAGS = ["-std=c++17", "-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=off", "-Wall"]


def _load_by_path(name: str, path: Path) -> ModuleType:
    # The package cannot be imported before it is built; these two modules import nothing but the stdlib.
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load_by_path("meteorfast.errors", ROOT / "meteorfast" / "errors.py")
CONFIG = _load_by_path("meteorfast.config", ROOT / "meteorfast" / "config.py").build_config()


def _rel(path: Path) -> str:
    # setuptools wants source paths relative to the project directory.
    return str(path.relative_to(ROOT))


def find_nvcc() -> str | None:
    if CONFIG.nvcc:
        return CONFIG.nvcc if Path(CONFIG.nvcc).is_file() else None
    return shutil.which("nvcc")


def cuda_library_dirs(nvcc: str) -> list[str]:
    """The library directories nvcc itself links with (its ``--dryrun`` shows them), stubs excluded."""
    out = subprocess.run(
        [nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
        capture_output=True,
        text=True,
        check=False,
    )
    dirs: list[str] = []
    for line in (out.stdout + out.stderr).splitlines():
        if "LIBRARIES=" in line:
            dirs += [d for d in re.findall(r'-L"?([^"\s]+)"?', line) if not d.rstrip("/").endswith("stubs")]
    return dirs


class BuildExt(build_ext):
    """Compiles ``cuda_sources`` with nvcc before the normal link; a failing CUDA build is fatal only when asked for."""

    def build_extension(self, ext: Extension) -> None:
        cuda_sources: list[str] = getattr(ext, "cuda_sources", [])
        if not cuda_sources:
            super().build_extension(ext)
            return
        try:
            self._compile_cuda(ext, cuda_sources)
            super().build_extension(ext)
        except (OSError, subprocess.CalledProcessError, RuntimeError) as err:
            if CONFIG.cuda == "1":
                raise RuntimeError(f"METEORFAST_CUDA=1 but the CUDA extension failed to build: {err}") from err
            print(f"warning: skipping the CUDA extension ({err}); set METEORFAST_CUDA=1 to make this fatal")

    def _compile_cuda(self, ext: Extension, sources: list[str]) -> None:
        nvcc = ext.nvcc
        archs: tuple[int, ...] = CONFIG.cuda_archs
        gencode: list[str] = []
        for arch in archs:
            gencode += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
        gencode += ["-gencode", f"arch=compute_{archs[-1]},code=compute_{archs[-1]}"]
        out_dir = Path(self.build_temp) / "cuda"
        out_dir.mkdir(parents=True, exist_ok=True)
        arch_list = ";".join(str(a) for a in archs)

        def compile_one(src: str) -> str:
            obj = out_dir / (Path(src).stem + ".cu.o")
            cmd = [
                nvcc, "-std=c++17", "-O3", "--fmad=false", "-Xcompiler", "-fPIC", f"-I{INCLUDE}",
                f'-DMF_CUDA_ARCHS="{arch_list}"', *gencode, "-c", str(ROOT / src), "-o", str(obj),
            ]  # fmt: skip
            print(" ".join(cmd))
            subprocess.run(cmd, check=True)
            return str(obj)

        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            objects = list(pool.map(compile_one, sources))
        lib_dirs = cuda_library_dirs(nvcc)
        static = next(
            (Path(d) / "libcudart_static.a" for d in lib_dirs if (Path(d) / "libcudart_static.a").is_file()), None
        )
        if static is None:
            raise RuntimeError(f"libcudart_static.a not found in nvcc's library directories {lib_dirs}")
        ext.extra_objects = [*objects, str(static)]
        ext.extra_link_args = [*ext.extra_link_args, "-ldl", "-lrt", "-lpthread"]


def extensions() -> list[Extension]:
    cpu = Extension(
        "meteorfast._native.cpu",
        sources=["meteorfast/_native/cpu.pyx", *(_rel(p) for p in sorted((ROOT / "csrc" / "cpu").glob("*.cpp")))],
        include_dirs=[_rel(INCLUDE)],
        language="c++",
        extra_compile_args=CXXFLAGS,
        extra_link_args=["-fopenmp"],
    )
    exts = [cpu]
    nvcc = find_nvcc() if CONFIG.cuda != "0" else None
    if CONFIG.cuda == "1" and nvcc is None:
        raise RuntimeError(
            "METEORFAST_CUDA=1 asks for the CUDA extension, but nvcc was not found on PATH "
            f"(METEORFAST_NVCC={CONFIG.nvcc!r}); install the CUDA toolkit or set METEORFAST_CUDA=auto"
        )
    if nvcc is not None:
        exts.append(
            Extension(
                "meteorfast._native.cuda",
                sources=["meteorfast/_native/cuda.pyx"],
                include_dirs=[_rel(INCLUDE)],
                language="c++",
                extra_compile_args=["-std=c++17", "-O2"],
            )
        )
    built = cythonize(exts, language_level=3)
    for ext in built:
        # Set after cythonize, which may rebuild Extension objects and drop unknown attributes.
        if ext.name == "meteorfast._native.cuda":
            ext.cuda_sources = [_rel(p) for p in sorted((ROOT / "csrc" / "cuda").glob("*.cu"))]  # type: ignore[attr-defined]
            ext.nvcc = nvcc  # type: ignore[attr-defined]
    return built


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
