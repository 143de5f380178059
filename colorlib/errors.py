"""colorlib's anticipated failures: one base, :class:`ColorlibError`, for everything a user can
fix from the message alone (bad config, bad data, bad checkpoint, a folder in use, a non-finite
loss, missing weights, ...). Each message names the file or parameter and what to do.

The command line (:func:`colorlib.cli.main`) prints exactly these as one line ``error: ...``
and exits 2; anything else is a bug in colorlib (or in a library under it) and keeps its
traceback (exit 1). Each error also derives from the built-in exception it used to be
(``ValueError``, ``FileNotFoundError``, ...), so ``except ValueError`` keeps working.

An internal invariant that breaks (shapes inside the metrics, replicas that differ after
data-parallel training) is *not* one of these: it stays a plain exception, with its traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

# what the command line prints under the traceback of anything that is not a ColorlibError
BUG_REPORT = (
    "this is a bug in colorlib (the traceback above), not a mistake in your input: please "
    "report it with the command you ran"
)


def one_line(err: BaseException, *, last: bool = False, limit: int = 200) -> str:
    """One line of ``err`` for a one-line message: the first (``last``: the last) line of its
    text — a failed subprocess's stderr when it kept one — or its type's name."""
    text = getattr(err, "stderr", None) or str(err)
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    lines = text.strip().splitlines() or [type(err).__name__]
    return (lines[-1] if last else lines[0])[:limit]


class ColorlibError(Exception):
    """An anticipated failure; the message says which file or parameter and what to do."""


class ConfigError(ColorlibError, ValueError):
    """A configuration, parameter or command-line value that colorlib does not accept."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value of the wrong type."""


class DataError(ColorlibError, ValueError):
    """Photos, folders or a split that cannot be used as given."""


class MissingFileError(ColorlibError, FileNotFoundError):
    """A file or folder the user must create or point at (data, split, checkpoint, results)."""


class OutputExistsError(ColorlibError, FileExistsError):
    """Writing would replace something that must not be replaced; nothing was written."""


class ResultsError(ColorlibError, ValueError):
    """A study's saved results are inconsistent (e.g. scored on different test lists)."""


class CheckpointError(ColorlibError, ValueError):
    """A file that is not a usable colorlib checkpoint; the message names it."""


class FolderInUseError(ColorlibError, RuntimeError):
    """Another process is writing this folder; the message names it."""


class NonFiniteError(ColorlibError, FloatingPointError):
    """A loss or a metric became NaN/inf; the message says where and what was kept."""


class NonFiniteLossError(NonFiniteError):
    """A loss became NaN/inf; the message names epoch and step and the checkpoint kept."""


class WeightsNotFoundError(ColorlibError, RuntimeError):
    """No source could supply the ImageNet weights (or the one found failed its check)."""


class DownloadError(ColorlibError, RuntimeError):
    """The dataset could not be fetched; the message says what to do."""


class StepFailedError(ColorlibError, RuntimeError):
    """A child process (a torchrun training) stopped on an anticipated error of its own; its
    message is in this one."""


class ImageError(DataError):
    """A photo that cannot be used.

    Fields, so that a caller can reword the advice without parsing the message: ``path``,
    ``reason`` (``missing``, ``not_a_file``, ``corrupt``, ``too_large``, ``grayscale``,
    ``too_small``, ``unsupported``, ``multi_frame``, ``mismatch``), ``problem`` (what is
    wrong) and ``advice`` (what to do).
    """

    def __init__(self, path: str | os.PathLike, reason: str, problem: str, advice: str) -> None:
        self.path, self.reason, self.problem, self.advice = Path(path), reason, problem, advice
        printable = os.fsencode(path).decode("utf-8", "backslashreplace")  # any file name
        super().__init__(f"{printable}: {problem}; {advice}")

    def __reduce__(self):  # crosses process boundaries (parallel decoding) intact
        return (type(self), (self.path, self.reason, self.problem, self.advice))
