"""All project paths from one place, relative to the project root (docs/usage.md)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The colorlib project folder: ``$COLORLIB_ROOT``, else the nearest folder at or above the
    working directory that holds colorlib's ``pyproject.toml``, else the working directory.

    Notebooks run from ``notebooks/``, scripts from the root: both resolve the same paths.
    """
    if os.environ.get("COLORLIB_ROOT"):
        return Path(os.environ["COLORLIB_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        toml = folder / "pyproject.toml"
        if toml.is_file() and 'name = "colorlib"' in toml.read_text(errors="ignore"):
            return folder
    return here


def under_root(path: str | os.PathLike) -> Path:
    """An absolute path stays; a relative one is taken relative to :func:`project_root`."""
    path = Path(path)
    return path if path.is_absolute() else project_root() / path
