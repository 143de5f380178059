"""The locked environment: requirements.lock (pip-compile, `make lock`) pins every dependency
pyproject.toml declares, within its ranges, with hashes; the environment made from it (`make
venv`) holds exactly those versions."""

import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (the lock's Python)
ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _locked() -> dict[str, tuple[Version, int]]:
    """``{name: (version, number of hashes)}`` of every pin in the lock."""
    pins: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=\S)", LOCK.read_text(encoding="utf-8")):
        found = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if found:
            name = canonicalize_name(found.group(1))
            pins[name] = (Version(found.group(2)), block.count("--hash=sha256:"))
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_every_declared_dependency_is_locked_within_its_range():
    pins = _locked()
    assert len(pins) > 100  # the whole tree, not the direct dependencies only
    missing = [r.name for r in _declared() if canonicalize_name(r.name) not in pins]
    assert not missing, f"not in {LOCK.name}: {missing}; run `make lock`"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)][0]})"
        for r in _declared()
        if not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)
    ]
    assert not outside, f"locked outside pyproject.toml's range: {outside}; run `make lock`"


def test_every_pin_has_a_hash():
    unhashed = [name for name, (_, hashes) in _locked().items() if hashes == 0]
    assert not unhashed, unhashed


def test_this_environment_is_the_locked_one():
    """What `make venv` installed is what the lock says (not a newer resolution)."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in the project's .venv (make venv)")
    # the environment's own site-packages: setuptools (>= 71) appends its _vendor folder, with
    # the dist-info of its vendored packaging, platformdirs and wheel, to sys.path once imported
    site_packages = sysconfig.get_paths()["purelib"]
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions(path=[site_packages])
    }
    differ = {
        name: (str(version), installed.get(name))
        for name, (version, _) in _locked().items()
        if name in installed and Version(installed[name]) != version
    }
    assert not differ, f"installed versions differ from {LOCK.name} (locked, installed): {differ}"
    absent = sorted(set(_locked()) - set(installed) - {"pip", "setuptools", "wheel"})
    assert not absent, f"locked but not installed: {absent}"


def test_a_changed_lock_rebuilds_the_environment(tmp_path):
    """Issue 31, item 11: pip checks the hashes of what it installs, not of what is installed,
    so `make venv` over an existing .venv took a tampered lock without a word. A lock newer
    than the environment now removes it first (make's own plan, ``make -n``): every package is
    installed, and its hash checked, again. A newer pyproject.toml alone keeps it."""
    import os
    import shutil
    import subprocess

    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").mkdir()
    installed = tmp_path / ".venv" / ".installed"
    installed.touch()
    # a make of its own (not the MAKEFLAGS of a `make test` this runs under)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}

    def plan(newer: str) -> list[str]:
        for name in ("Makefile", "pyproject.toml", "requirements.lock"):
            os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
        os.utime(installed, (1_000_000_100, 1_000_000_100))  # made after them
        (tmp_path / newer).touch()
        done = subprocess.run(["make", "-n", "venv", "PYTHON=python3"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done.stdout.splitlines()

    assert plan("pyproject.toml")[0] == "python3 -m venv .venv"
    tampered = tmp_path / "requirements.lock"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", LOCK.read_text(), count=1))
    assert plan("requirements.lock")[:2] == ["rm -rf .venv", "python3 -m venv .venv"]
