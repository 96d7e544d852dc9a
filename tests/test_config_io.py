"""Environment variables (all read in meteorfast.config) and atomic output files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meteorfast import config
from meteorfast.errors import ConfigurationError, MeteorfastError, OutputError
from meteorfast.io import atomic_write_bytes


def test_build_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("METEORFAST_CUDA", "METEORFAST_CUDA_ARCHS", "METEORFAST_NVCC"):
        monkeypatch.delenv(name, raising=False)
    cfg = config.build_config()
    assert cfg.cuda == "auto"
    assert cfg.cuda_archs == (75, 80, 86, 89, 90)
    assert cfg.nvcc is None


def test_cuda_archs_are_parsed_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_CUDA_ARCHS", "sm_90, 86;86")
    assert config.build_config().cuda_archs == (86, 90)
    monkeypatch.setenv("METEORFAST_CUDA_ARCHS", "70;80")
    with pytest.raises(ConfigurationError, match=r"at least 75 .* got 70"):
        config.build_config()
    monkeypatch.setenv("METEORFAST_CUDA_ARCHS", "ampere")
    with pytest.raises(ConfigurationError, match="expected SM versions such as"):
        config.build_config()


def test_bad_values_raise_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_CUDA", "yes")
    with pytest.raises(ConfigurationError, match=r"METEORFAST_CUDA: expected one of auto, 0, 1, got 'yes'"):
        config.build_config()
    monkeypatch.setenv("METEORFAST_THREADS", "0")
    with pytest.raises(ConfigurationError, match="positive integer, got '0'"):
        config.runtime_config()
    monkeypatch.setenv("METEORFAST_THREADS", "3")
    assert config.runtime_config().threads == 3
    assert issubclass(ConfigurationError, MeteorfastError)


def test_threads_default_to_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METEORFAST_THREADS", raising=False)
    assert config.runtime_config().threads == len(os.sched_getaffinity(0))


def test_only_config_reads_meteorfast_variables() -> None:
    import meteorfast

    root = Path(meteorfast.__file__).parent
    readers = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "METEORFAST_" in p.read_text() and ("environ" in p.read_text() or "getenv" in p.read_text())
    )
    assert readers == ["config.py"]


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_atomic_write_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="expected a writable directory"):
            atomic_write_bytes(locked / "x.bin", b"data")
    finally:
        locked.chmod(0o700)


def test_atomic_write_into_a_file_path_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError, match="expected a writable directory"):
        atomic_write_bytes(blocker / "x.bin", b"data")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_full_disk_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import meteorfast.io as mio

    real_fdopen = os.fdopen

    def full_disk(fd: int, mode: str) -> object:
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode)

    monkeypatch.setattr(mio.os, "fdopen", full_disk)
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError, match="free some space"):
        atomic_write_bytes(target, b"x" * 100000)
    assert list(tmp_path.iterdir()) == []


def run_setup(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "setup.py").is_file():
        pytest.skip("needs the source checkout")
    pytest.importorskip("Cython", reason="setup.py needs Cython (part of the [test] extra)")
    return subprocess.run(
        [sys.executable, "setup.py", "--name"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_setup_refuses_forced_cuda_without_nvcc() -> None:
    out = run_setup({"METEORFAST_CUDA": "1", "METEORFAST_NVCC": "/nonexistent/nvcc"})
    assert out.returncode != 0
    assert "METEORFAST_CUDA=1 asks for the CUDA extension, but nvcc was not found" in out.stderr


def test_setup_refuses_bad_build_settings() -> None:
    out = run_setup({"METEORFAST_CUDA": "sometimes"})
    assert out.returncode != 0
    assert "METEORFAST_CUDA: expected one of auto, 0, 1, got 'sometimes'" in out.stderr


def test_atomic_write_gives_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    old = os.umask(0o022)
    try:
        atomic_write_bytes(target, b"x")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644
    target.chmod(0o600)
    atomic_write_bytes(target, b"y")
    assert target.stat().st_mode & 0o777 == 0o600


def test_emit_json_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from meteorfast.io import emit_json

    text = emit_json({"fps": 25.0}, tmp_path / "r.json")
    assert capsys.readouterr().out.strip() == text
    assert (tmp_path / "r.json").read_text() == text + "\n"
