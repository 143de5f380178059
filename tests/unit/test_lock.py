"""The locked environment: requirements.lock (pip-compile, `make lock`) pins every dependency
pyproject.toml declares, within its ranges, with hashes; the environment made from it (`make
venv`) holds exactly those versions."""

import re
import sys
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
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {
        name: (str(version), installed.get(name))
        for name, (version, _) in _locked().items()
        if name in installed and Version(installed[name]) != version
    }
    assert not differ, f"installed versions differ from {LOCK.name} (locked, installed): {differ}"
    absent = sorted(set(_locked()) - set(installed) - {"pip", "setuptools", "wheel"})
    assert not absent, f"locked but not installed: {absent}"
