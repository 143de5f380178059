"""Ctrl-C and ``kill``: SIGINT and SIGTERM end a command promptly and cleanly.

The command line (:func:`colorlib.cli.main`) installs :func:`stop_on_signals`. On the first
SIGINT or SIGTERM every process this one started (the study's notebook kernels, which run in
sessions of their own so a terminal's Ctrl-C never reaches them; torchrun and its ranks;
DataLoader workers; local submitit jobs) is sent SIGTERM, and SIGKILL after
:data:`GRACE_SECONDS`; then :class:`Stopped` is raised in the main thread. What was saved stays
as it is (every write is atomic: the last epoch's training state, finished runs), and the
folder locks are ``flock`` locks, released when the process ends, so the next run resumes.
The command line prints one line saying how to resume and exits 128 + the signal's number
(130 for SIGINT, 143 for SIGTERM), as a shell reports a process a signal ended.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

GRACE_SECONDS = 3.0  # SIGTERM, then SIGKILL for what has not ended
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived; the processes this one started are ended. A
    ``BaseException`` (as ``KeyboardInterrupt``), so no ``except Exception`` records it as a
    failed run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def end_children(grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to every descendant of this process, SIGKILL to those alive after ``grace``."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)


_requested: list[int] = []  # the signal that arrived, once one has


def requested() -> bool:
    """Whether a stop was asked for: failures seen after it are its consequence (a kernel
    it ended), not runs that failed."""
    return bool(_requested)


def _handle(signum: int, frame) -> None:
    _requested.append(signum)
    for s in SIGNALS:  # the first signal stops; more Ctrl-C while stopping change nothing
        signal.signal(s, signal.SIG_IGN)
    logging.disable(logging.CRITICAL)  # what the ended children leave behind is no news
    end_children()
    raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Stopped` (after ending this process's children) while
    the block runs; the earlier handlers afterwards."""
    earlier = {s: signal.signal(s, _handle) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in earlier.items():
            signal.signal(s, handler)
