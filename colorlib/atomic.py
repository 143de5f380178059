"""Atomic file writes, the one way colorlib writes a file: a temp file in the target folder,
fsync, then ``os.replace``.

A crash leaves either the old file or the new one, never a torn one. The temp file is created
with mode ``0o666`` so the operating system applies the process umask, as for any ``open()``:
results, checkpoints and figures get the usual ``-rw-r--r--`` (umask 022) or ``-rw-rw-r--``
(umask 002), readable by a lab's group or a web server showing the results.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (permissions ``0o666 & ~umask``), creating parent
    folders. A failed write (disk full, ...) leaves the previous file as it was and raises an
    ``OSError`` naming ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temp name stays short whatever the target's (a name near the file system's 255 bytes
    # is still written), and beside it: the same file system, so the rename is atomic
    tmp = path.with_name(f".{path.name[:32]}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as err:  # a read-only folder, say: name the file being written, not the temp
        raise OSError(err.errno, err.strerror, str(path)) from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:  # disk full, quota, permissions: name the file being written
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(path)) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """``data`` as indented JSON (non-JSON values through ``str``)."""
    return atomic_write_bytes(path, json.dumps(data, indent=2, default=str).encode())


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``text`` as UTF-8; characters that cannot be encoded (a traceback may quote file names
    that are not valid UTF-8) as backslash escapes."""
    return atomic_write_bytes(path, text.encode("utf-8", "backslashreplace"))


# OWASP's rule against CSV injection: a text cell a spreadsheet would run as a formula
# (starting with one of these) is written with a leading apostrophe, which spreadsheets hide
# and treat as "this is text". A cell that already starts with an apostrophe gets one too, so
# read_csv strips exactly one and every name reads back as it was.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: Any) -> Any:
    """``value`` as written into a CSV: a string a spreadsheet would evaluate gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _uncell(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def _map_text(df: pd.DataFrame, cell: Any) -> pd.DataFrame:
    for col in df.select_dtypes(include=["object", "string"]).columns:
        df[col] = df[col].map(cell)
    if not pd.api.types.is_numeric_dtype(df.index):
        df.index = df.index.map(cell)
    return df


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> Path:
    """``df.to_csv(**kwargs)``, written atomically, text cells through :func:`csv_cell` (the
    photos' names come from users' folders); :func:`read_csv` reads it back unchanged."""
    df = _map_text(df.copy(), csv_cell)
    text = df.select_dtypes(include=["object", "string"]).astype(str)
    if text.map(lambda v: "\r" in v).to_numpy().any() or any("\r" in str(i) for i in df.index):
        # Python 3.11's csv leaves a lone CR unquoted with "\n" line ends: quote every text cell
        kwargs.setdefault("quoting", csv.QUOTE_NONNUMERIC)
    return atomic_write_bytes(path, df.to_csv(**kwargs).encode())


def read_csv(path: str | os.PathLike, **kwargs: Any) -> pd.DataFrame:
    """A CSV written by :func:`write_csv`, its text cells as they were before writing."""
    return _map_text(pd.read_csv(path, **kwargs), _uncell)


def write_image(image: Any, path: str | os.PathLike, **save_kwargs: Any) -> Path:
    """A Pillow image, encoded as its file suffix says (``save_kwargs`` as ``Image.save``)."""
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(Path(path).suffix.lower(), "PNG")
    image.save(buf, format=fmt, **save_kwargs)
    return atomic_write_bytes(path, buf.getvalue())
