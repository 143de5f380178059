"""Shared fixtures. Reference data and photos come from ``../shared`` (or ``$COLORLIB_SHARED``);
they are read-only and never copied into the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COLORLIB_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        if os.environ.get("COLORLIB_REQUIRE_SHARED") == "1":
            pytest.fail(f"reference folder {SHARED} is missing (COLORLIB_REQUIRE_SHARED=1)")
        pytest.skip(f"reference folder {SHARED} not found; set COLORLIB_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def reference(shared: Path) -> Path:
    return shared / "reference"


@pytest.fixture(scope="session")
def photos(shared: Path) -> Path:
    return shared / "data"
