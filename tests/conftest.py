"""Shared fixtures and the test tiers.

* ``tests/unit`` — fast: references, bad inputs, gradchecks, layout rules;
* ``tests/smoke`` — tiny real training runs, the CLI, colorize (marked ``slow``);
* ``tests/notebooks`` — papermill runs of the notebooks and ``run_all.py`` (marked ``slow``).

Smoke and notebook tiers train on the embedded sample (photos shipped inside scikit-image), so
they run on any clone. Reference values and the reference photos come from ``../shared`` (or
``$COLORLIB_SHARED``), read-only, never copied into the project; tests that need them skip
without it (and fail in CI, where ``COLORLIB_REQUIRE_SHARED=1``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COLORLIB_SHARED", ROOT.parent / "shared"))
SLOW_TIERS = ("smoke", "notebooks")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).parent.name in SLOW_TIERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        if os.environ.get("COLORLIB_REQUIRE_SHARED") == "1":
            pytest.fail(f"reference folder {SHARED} is missing (COLORLIB_REQUIRE_SHARED=1)")
        pytest.skip(f"reference data: folder {SHARED} not found; set COLORLIB_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def reference(shared: Path) -> Path:
    return shared / "reference"


@pytest.fixture(scope="session")
def photos(shared: Path) -> Path:
    return shared / "data"


@pytest.fixture(scope="session")
def sample() -> Path:
    """The embedded sample photo folder (``train/ val/ test/``), built once per clone."""
    from colorlib.data import sample_dataset

    return sample_dataset()


@pytest.fixture(scope="session")
def smoke_config(sample):
    """A factory: ``smoke_config(root, model="A", **overrides)`` is the smoke profile of
    ``model`` on the embedded sample, on the CPU, with every output under ``root``."""
    from colorlib.config import make_config

    def build(root: Path, model: str = "A", **overrides):
        return make_config(
            model,
            "smoke",
            data_dir="sample",
            device="cpu",
            models_dir=str(root / "models"),
            results_dir=str(root / "results"),
            cache_dir=str(root / "cache"),
            **overrides,
        )

    return build
