"""ruff and mypy stay clean: checked here so that CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def tool(name: str) -> list[str]:
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("needs the source checkout")
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} not installed (part of the [test] extra)")
    return [exe]


def test_ruff_lint_and_format() -> None:
    ruff = tool("ruff")
    paths = ["meteorfast", "tests", "benchmarks", "tools", "setup.py"]
    lint = subprocess.run([*ruff, "check", *paths], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([*ruff, "format", "--check", *paths], cwd=REPO, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    tool("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
