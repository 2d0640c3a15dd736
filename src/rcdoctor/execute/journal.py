"""The one append-only journal (JSON lines) of every change rcdoctor makes: slot moves, heal steps,
membership changes (create, add-node, remove-node), written before and after each step.

A killed run leaves its last lines in the file: which slots were open (`open` without `closed`), between
which nodes. `rebalance --resume` reads it together with the live cluster to close them, and `diagnose`
names the journal that left slots open (`local_journals`). No secret is ever written here: node ids,
addresses, slots and counts only.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from rcdoctor.errors import UsageError
from rcdoctor.model import journals
from rcdoctor.model.journals import InFlight, LocalJournals

__all__ = [
    "FORMAT",
    "InFlight",
    "Journal",
    "default_dir",
    "in_flight",
    "latest",
    "local_journals",
    "new_path",
    "opened",
    "read",
]

FORMAT = "rcdoctor.journal"


def default_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rcdoctor" / "journals"


def new_path(command: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return default_dir() / f"{command}-{stamp}.jsonl"


class Journal:
    """Appends to `path`; with no path (a dry run) it records nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        if self._file is None:
            return
        line = json.dumps({"t": round(time.time(), 3), "event": event, **fields}, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())  # a kill -9 right after must still find this line

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@contextlib.contextmanager
def opened(command: str, log: Callable[[str], None], path: Path | None = None) -> Iterator[Journal]:
    """The journal of an applied change (`path`, else a new file for `command` in the default directory),
    named on the log first and closed however the change ends."""
    where = path or new_path(command)
    journal = Journal(where)
    log(f"journal: {where}")
    try:
        yield journal
    finally:
        journal.close()


def read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # the last line of a killed run may be cut short
                return
            raise UsageError(f"{path}:{number}: not a journal line") from None
        if not isinstance(entry, dict) or "event" not in entry:
            raise UsageError(f"{path}:{number}: not a journal line")
        yield entry


def in_flight(path: Path) -> list[InFlight]:
    return journals.in_flight(read(path))


def latest(command: str) -> Path | None:
    found = sorted(default_dir().glob(f"{command}-*.jsonl"))
    return found[-1] if found else None


# Journals diagnose reads, newest first: enough for every run of the last weeks, while one diagnose on a
# machine that has kept years of journals stays quick.
LOCAL_LIMIT = 100


def local_journals(directory: Path | None = None, limit: int = LOCAL_LIMIT) -> LocalJournals:
    """The journals of this machine's rcdoctor runs that left slots open (newest `limit` files read).
    A file that cannot be read is named, never an error: diagnose must run anyway."""
    where = directory or default_dir()
    try:
        files = sorted(where.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name), reverse=True)[:limit]
    except OSError:
        files = []
    contents: list[tuple[str, list[dict[str, Any]]]] = []
    unreadable: list[str] = []
    for path in files:
        try:
            contents.append((str(path), list(read(path))))
        except (UsageError, OSError):
            unreadable.append(str(path))
    return LocalJournals(str(where), journals.unfinished(contents), len(contents), tuple(unreadable))
