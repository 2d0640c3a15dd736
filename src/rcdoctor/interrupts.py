"""SIGTERM handled like Ctrl-C, and interrupted runs that end at once with a documented exit code.

Kubernetes stops a pod (a Job running `rcdoctor heal`, the exporter) with SIGTERM; without a handler
Python dies on the spot, mid-batch, printing nothing. Here SIGTERM raises KeyboardInterrupt in the main
thread like SIGINT does, so every command runs the same clean-up (the migration engine finishes the
batches in flight and closes their slots, heal restores held settings, journals are closed), and the
process exits 128 + the signal number: 130 for SIGINT, 143 for SIGTERM, as shells report them.

Only the first signal raises. A second one (Ctrl-C pressed twice, SIGTERM after Ctrl-C) is remembered and
otherwise ignored: raised while the first is being handled (unwinding the collector, in the engine before
it calls hold(), in main()'s handler before it exits) it would escape every `except` and print a
traceback, or abort a clean-up half-way. Each clean-up is bounded by node timeouts, so a second press is
never needed to get out.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """KeyboardInterrupt raised for SIGTERM (SIGINT raises the plain one)."""


def _on_terminate(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if len(_received) == 1:
        raise Interrupted(f"signal {signum}")


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if len(_received) == 1:
        raise KeyboardInterrupt


def install() -> None:
    """SIGTERM and SIGINT -> KeyboardInterrupt in the main thread, remembered (call from the main thread)."""
    signal.signal(signal.SIGTERM, _on_terminate)
    signal.signal(signal.SIGINT, _on_interrupt)


def uninstall() -> None:
    """Back to the default actions (a signal ends the process at once, silently for SIGTERM)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_run() -> bool:
    """A signal arrived during this run, even if the command caught it and cleaned up."""
    return bool(_received)


def exit_code() -> int:
    """128 + the first signal received: 143 for SIGTERM, 130 for SIGINT (Ctrl-C)."""
    return 128 + (_received[0] if _received else signal.SIGINT)


def name() -> str:
    return "SIGTERM" if _received and _received[0] == signal.SIGTERM else "SIGINT"


def hold() -> None:
    """While the clean-up after a first interrupt runs (batches in flight finishing), a second Ctrl-C or
    SIGTERM must not abort it half-way: both are ignored from now on (only from the main thread; elsewhere
    this does nothing)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def exit_now(error: Callable[[str], None]) -> NoReturn:
    """One line, then exit at once with 128 + the signal: worker threads still waiting on a hung node are
    not waited for (they hold nothing: journals are closed and held settings restored by the commands' own
    clean-up), and a later signal cannot land in the interpreter's shutdown and print a traceback."""
    hold()
    if not _received:  # a KeyboardInterrupt raised before install() (Ctrl-C during start-up): SIGINT's
        _received.append(signal.SIGINT)
    error(f"interrupted ({name()})")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code())
