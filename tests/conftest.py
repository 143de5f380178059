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

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_executable() -> str:
    for candidate in (
        os.environ.get("COLORLIB_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    if os.environ.get("COLORLIB_REQUIRE_BROWSER") == "1":
        pytest.fail("no Chromium found, and COLORLIB_REQUIRE_BROWSER=1 (CI installs it)")
    pytest.skip("no Chromium found: apt-get install chromium (or set COLORLIB_CHROMIUM)")


@pytest.fixture(scope="session")
def chromium():
    """A factory: ``with chromium(**page_options) as page`` is a new page in headless Debian
    Chromium, driven by Playwright (its own browser download cannot work here);
    ``page.problems`` collects console errors and page errors, ``page.requests`` every URL
    the page asked for."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium_executable()

    @contextlib.contextmanager
    def opened(**page_options):
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(**page_options)
            page.problems, page.requests = [], []
            page.on(
                "console",
                lambda m: m.type == "error" and page.problems.append(f"console error: {m.text}"),
            )
            page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
            page.on("request", lambda r: page.requests.append(r.url))
            try:
                yield page
            finally:
                browser.close()

    return opened


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


class Cli:
    """The one way tests run colorlib's command line: a real subprocess in the project folder,
    as a user would (``python -m colorlib``, ``run_all.py``, ``torchrun``)."""

    PYTHON = sys.executable
    TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone")

    @staticmethod
    def roots(root: Path) -> list[str]:
        """``--set`` arguments that put every output of a run under ``root``."""
        return [
            "--set", f"models_dir={root / 'models'}",
            "--set", f"results_dir={root / 'results'}",
            "--set", f"cache_dir={root / 'cache'}",
        ]  # fmt: skip

    def argv(self, *args, ranks: int = 1) -> list[str]:
        """``python -m colorlib ARGS``; with ``ranks`` > 1 under ``torchrun``."""
        launcher = [*self.TORCHRUN, f"--nproc_per_node={ranks}"] if ranks > 1 else [self.PYTHON]
        return [*launcher, "-m", "colorlib", *map(str, args)]

    def __call__(self, *args, ranks: int = 1, env=None, cwd=None, timeout: float = 900):
        """Run ``colorlib ARGS`` to the end (a ``CompletedProcess``)."""
        return self.run(self.argv(*args, ranks=ranks), env=env, cwd=cwd, timeout=timeout)

    def run_all(self, *args, env=None, timeout: float = 1800):
        """``python run_all.py ARGS``."""
        argv = [self.PYTHON, str(ROOT / "run_all.py"), *map(str, args)]
        return self.run(argv, env=env, timeout=timeout)

    def start(self, *args, ranks: int = 1) -> subprocess.Popen:
        """``colorlib ARGS`` in the background."""
        return subprocess.Popen(
            self.argv(*args, ranks=ranks),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def run(argv: list[str], *, env=None, cwd=None, timeout: float = 900):
        return subprocess.run(
            argv, capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=timeout
        )


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory, cli):
    """One study of every configuration (the original ten, the extended group) and GRAY,
    smoke profile, FID and KID on, on the embedded sample, also tested on a flat folder of photos
    (``--also-test``: the sample's last 12 test tiles, named ``flat_tiles``), through
    ``run_all.py`` (papermill, the template and evaluation notebooks), two configurations at
    a time (``--jobs 2``: one per core, as CI has two): run once per session;
    the study, notebook, page and training tests read it and never write into it. Its
    :class:`colorlib.runs.StudyPaths` (``.paths``) and what ``run_all.py`` printed."""
    from colorlib.data.sources import sample_dataset
    from colorlib.runs import StudyPaths

    root = tmp_path_factory.mktemp("smoke_study")
    flat = root / SMOKE_TEST_SET
    flat.mkdir()
    for photo in sorted((sample_dataset() / "test").iterdir())[-12:]:  # not the smoke's 4
        shutil.copy(photo, flat / photo.name)
    paths = StudyPaths(root / "results", root / "models")
    done = cli.run_all(
        "--profile", "smoke", "--data", "sample", "--models", "extended", "--also-test", flat,
        "--models-dir", paths.models, "--results-dir", paths.results, "--jobs", "2",
        "--set", "fid_kid=on",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return SmokeStudy(paths, done.stdout, done.stderr)


SMOKE_TEST_SET = "flat_tiles"  # the smoke study's further test set (a flat folder)


@dataclass(frozen=True)
class SmokeStudy:
    paths: Any  # colorlib.runs.StudyPaths
    stdout: str
    stderr: str
    test_set: str = SMOKE_TEST_SET  # the name of its --also-test folder
