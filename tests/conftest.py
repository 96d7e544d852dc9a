from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REALDATA = SHARED / "realdata"
GMN_CLIP = REALDATA / "meteordl" / "CZ0003_20210307_021710_233167.mp4"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata beside the checkout; a user's fresh clone has none, so tests using it skip."""
    if not REALDATA.is_dir():
        pytest.skip(f"needs {REALDATA} (the shared real meteor data beside the checkout), which is absent")
    return REALDATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(params=["native", "reference"])
def kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once on the native CPU kernels and once on the NumPy reference."""
    monkeypatch.setenv("METEORFAST_KERNELS", request.param)
    return str(request.param)


@pytest.fixture
def use_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_KERNELS", "native")


@pytest.fixture
def use_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METEORFAST_KERNELS", "reference")
